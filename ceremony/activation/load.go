package activation

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/hsm"
)

// ArtifactName is the file, under the root ceremony's artifacts/, that
// holds the activation record: always written, and the only copy where
// the module refuses public data objects (tpm2-pkcs11 among them).
const ArtifactName = "activation-record.json"

// maxRecordFile bounds an activation record file: a record with a
// manifest of 255 shares is under 32 KiB.
const maxRecordFile = 64 << 10

// Where a record was read.
const (
	OnToken    = "token"
	InFile     = "file"
	TokenFile  = "token and file"
	notPresent = ""
)

// Load reads the activation record of tok: the token's public data
// object, or, where the module keeps none, file (the root ceremony's
// artifacts/activation-record.json; "" for none). Where both exist they
// must be the same bytes. Either way the record is parsed and checked the
// same way and must name tok's label. It returns the record, its bytes
// and where it was read (OnToken, InFile or TokenFile).
func Load(tok *hsm.Token, file string) (*Record, []byte, string, error) {
	label := tok.Info().Label
	onToken, err := tok.ReadData(RecordLabel)
	switch {
	case errors.Is(err, hsm.ErrDataNotFound):
		onToken = nil
	case err != nil:
		return nil, nil, notPresent, err
	}
	var fromFile []byte
	if file != "" {
		if fromFile, err = readRecordFile(file); err != nil {
			return nil, nil, notPresent, err
		}
	}
	data, where := onToken, OnToken
	switch {
	case onToken == nil && fromFile == nil:
		return nil, nil, notPresent, fmt.Errorf("token %q holds no activation record and none was given: name the root ceremony's artifacts/%s in the HSM config (activation_record: PATH), or log in with a PIN (by:) if no ceremony initialised it", label, ArtifactName)
	case onToken == nil:
		data, where = fromFile, InFile
	case fromFile != nil && !bytes.Equal(onToken, fromFile):
		return nil, nil, notPresent, fmt.Errorf("%s: not the activation record token %q holds; give the file written when this token was initialised", file, label)
	case fromFile != nil:
		where = TokenFile
	}
	rec, err := ParseRecord(data)
	if err != nil {
		if where == InFile {
			return nil, nil, notPresent, fmt.Errorf("%s: %w", file, err)
		}
		return nil, nil, notPresent, err
	}
	if rec.Token != label {
		return nil, nil, notPresent, fmt.Errorf("the activation record (%s) is for token %q, not %q", where, rec.Token, label)
	}
	return rec, data, where, nil
}

// recordFile is the kind of an activation record file, for
// durable.ReadFile.
var recordFile = durable.Kind{Name: "activation record", Max: maxRecordFile}

// readRecordFile reads a record file: a regular file of bounded size
// (a FIFO or device is refused by what it is, not waited on).
func readRecordFile(path string) ([]byte, error) {
	return durable.ReadFile(recordFile, path)
}

// ReadRecordFile reads and checks the activation record file at path, as
// an HSM config's activation_record names it; errors name the file.
func ReadRecordFile(path string) (*Record, error) {
	data, err := readRecordFile(path)
	if err != nil {
		return nil, err
	}
	rec, err := ParseRecord(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}
