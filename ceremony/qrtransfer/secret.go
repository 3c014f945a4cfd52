package qrtransfer

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/devicepki/ceremony/ceremony/backup"
	"github.com/devicepki/ceremony/ceremony/bundle"
	"github.com/devicepki/ceremony/ceremony/outdir"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// Nothing secret leaves by QR. Export refuses, by content whatever the
// file is called, and import refuses to reassemble:
//
//   - a wrapped key backup (a PEM block of type backup.PEMType);
//   - a share: a line that is a share's tag group (CS1A, CS1B, also as
//     typed: lower case, I or L for 1), alone or opening the compact form
//     "CS1B-XXXXX-…", a "# Ceremony share:" line, or text that parses as a
//     share;
//   - an age-encrypted file (a share's or a passphrase-protected copy),
//     binary ("age-encryption.org/" header) or armored;
//   - a private key: any PEM block whose type holds "PRIVATE KEY"
//     (PKCS#8, encrypted PKCS#8, PKCS#1, SEC 1, OpenSSH), damaged or not,
//     or DER that parses as a PKCS#8, PKCS#1 or EC private key.
//
//   - a token's activation record (a JSON object with pin_derivation and
//     manifest): not secret, but it stays in the room by the transcript's
//     rule (outdir.StaysInRoom), and a copy taken out of its ceremony
//     directory is refused by what it holds.
//
// A PIN is not recognised by content: a short line of digits or letters
// could as well be a serial number or a bundle id, so none is guessed at.
// Files of a ceremony directory are also judged by its transcript
// (CheckCeremonyFile). The rule is content only: a public certificate
// called x.backup passes, a backup called x.pem does not.

// SecretError is a file that must not leave the room as QR frames.
type SecretError struct {
	Name string // the file, as given or as named in the bundle
	Why  string
}

func (e *SecretError) Error() string {
	return record.Printable(fmt.Sprintf("%s: %s: nothing secret leaves by QR", e.Name, e.Why))
}

var (
	privateKeyPEM = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)
	backupPEM     = []byte("-----BEGIN " + backup.PEMType)
	ageArmor      = []byte("-----BEGIN AGE ENCRYPTED FILE-----")
)

// Secret says why data must not leave the room as QR frames, or returns
// "" if nothing in it is secret as far as its content shows.
func Secret(data []byte) string {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch {
		case b.Type == backup.PEMType:
			return fmt.Sprintf("a wrapped key backup (PEM %s): key backups stay in the ceremony room", backup.PEMType)
		case strings.Contains(b.Type, "PRIVATE KEY"):
			return fmt.Sprintf("a private key (PEM %s)", b.Type)
		}
	}
	// Damaged or indented blocks pem.Decode does not find.
	switch {
	case bytes.Contains(data, backupPEM):
		return fmt.Sprintf("a wrapped key backup (PEM %s): key backups stay in the ceremony room", backup.PEMType)
	case privateKeyPEM.Match(data):
		return "a private key (a PEM PRIVATE KEY block)"
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("age-encryption.org/")), bytes.Contains(data, ageArmor):
		return "an age-encrypted file (a share's or a key's encrypted copy)"
	}
	if why := share(data); why != "" {
		return why
	}
	if activationRecord(data) {
		return "a token's activation record (how its PINs are derived, and its share manifest): it stays in the ceremony room"
	}
	if len(data) > 0 && data[0] == 0x30 {
		if _, err := x509.ParsePKCS8PrivateKey(data); err == nil {
			return "a private key (DER, PKCS#8)"
		}
		if _, err := x509.ParsePKCS1PrivateKey(data); err == nil {
			return "a private key (DER, PKCS#1 RSA)"
		}
		if _, err := x509.ParseECPrivateKey(data); err == nil {
			return "a private key (DER, SEC 1 EC)"
		}
	}
	return ""
}

// activationRecord reports whether data is a token's activation record
// (activation.Record as init-token writes it): a JSON object with its
// pin_derivation and manifest, whatever else it holds or lacks, so an
// edited copy is caught as well as a true one.
func activationRecord(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(t, &fields) != nil {
		return false
	}
	_, pins := fields["pin_derivation"]
	_, manifest := fields["manifest"]
	return pins && manifest
}

// share says why data is a share, or "".
func share(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "# Ceremony share:") {
			return "a share (a \"# Ceremony share:\" line)"
		}
		if shareTag(line) {
			return "a share (a line opens with its tag group CS1A or CS1B)"
		}
	}
	if len(data) <= 64<<10 {
		if s, err := shares.Parse(data); err == nil {
			s.Value.Wipe()
			return "a share (it parses as one)"
		}
	}
	return ""
}

// shareTag reports whether line opens with a share's tag group, read as a
// keyholder types it: CS1A or CS1B, any case, I or L for 1, alone or
// followed by a separator.
func shareTag(line string) bool {
	if len(line) < 4 {
		return false
	}
	t := strings.ToUpper(line[:4])
	if t[0] != 'C' || t[1] != 'S' || !strings.ContainsRune("1IL", rune(t[2])) || (t[3] != 'A' && t[3] != 'B') {
		return false
	}
	return len(line) == 4 || strings.ContainsRune("- \t", rune(line[4]))
}

// CheckFiles refuses the first file of a bundle whose content is secret
// (Secret).
func CheckFiles(files []bundle.File) error {
	for _, f := range files {
		if why := Secret(f.Data); why != "" {
			return &SecretError{Name: f.Name, Why: why}
		}
	}
	return nil
}

// ceremonyOf returns the ceremony directory path lies in, and path's name
// relative to it ("transcript.jsonl", "artifacts/x.pem", "shares/1.share"),
// if the directory holding path, or the one above it, holds a transcript.
func ceremonyOf(path string) (dir, rel string, ok bool) {
	d := filepath.Dir(path)
	if isFile(filepath.Join(d, outdir.TranscriptFile)) {
		return d, filepath.Base(path), true
	}
	up := filepath.Dir(d)
	if isFile(filepath.Join(up, outdir.TranscriptFile)) {
		return up, filepath.Base(d) + "/" + filepath.Base(path), true
	}
	return "", "", false
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// publicArtifacts reads the transcript of the ceremony directory dir and
// returns the artifacts it records as written (not withdrawn) and public
// (not outdir.StaysInRoom), and the recorded content of every artifact.
func publicArtifacts(dir string) (map[string]record.Artifact, map[string]string, error) {
	chain, _, err := transcript.ReadIntact(filepath.Join(dir, outdir.TranscriptFile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v: its files cannot be judged public", filepath.Join(dir, outdir.TranscriptFile), err)
	}
	content := map[string]string{}
	for _, ev := range chain.Events {
		if ev.Is(transcript.TypeArtifactWritten) {
			if w, err := transcript.DataAs[transcript.ArtifactWritten](ev); err == nil {
				content[w.Path] = w.Content
			}
		}
	}
	public := map[string]record.Artifact{}
	for _, a := range record.Artifacts(chain) {
		if !outdir.StaysInRoom(content[a.Path]) {
			public[a.Path] = a
		}
	}
	return public, content, nil
}

// CheckCeremonyFile refuses a file of a ceremony directory (one beside a
// transcript.jsonl, or in a directory beside it) that the transcript does
// not list as public: the transcript, its seal and record pass; an
// artifact passes if the transcript records it as written, not withdrawn,
// not one that stays in the room (outdir.StaysInRoom, as the export-qr
// step decides), with the SHA-256 data has. Any other file is refused. A
// file outside a ceremony directory passes (its content is judged by
// Secret).
func CheckCeremonyFile(path string, data []byte) error {
	dir, rel, ok := ceremonyOf(path)
	if !ok {
		return nil
	}
	switch rel {
	case outdir.TranscriptFile, outdir.SealFile, outdir.RecordFile:
		return nil
	}
	public, content, err := publicArtifacts(dir)
	if err != nil {
		return err
	}
	a, ok := public[rel]
	switch {
	case ok && a.SHA256 != (bundle.File{Data: data}).SHA256():
		return &SecretError{Name: path, Why: fmt.Sprintf("not the file the transcript recorded as %s at event %d (its SHA-256 differs): only what the transcript lists as public leaves", rel, a.Event)}
	case ok:
		return nil
	case outdir.StaysInRoom(content[rel]):
		return &SecretError{Name: path, Why: fmt.Sprintf("its transcript records it as %q, which stays in the ceremony room", content[rel])}
	}
	return &SecretError{Name: path, Why: fmt.Sprintf("a file of the ceremony directory %s that its transcript does not list as a public artifact", dir)}
}

// CeremonyFiles lists the public files of the ceremony directory dir, as
// the export-qr step carries them: the transcript, its seal, and each
// public artifact present; and the files under artifacts/ left out (a key
// backup, the activation record, a file the transcript does not record).
// qr export and import of a directory both take what it lists.
func CeremonyFiles(dir string) (paths, left []string, err error) {
	public, _, err := publicArtifacts(dir)
	if err != nil {
		return nil, nil, err
	}
	paths = []string{filepath.Join(dir, outdir.TranscriptFile)}
	if isFile(filepath.Join(dir, outdir.SealFile)) {
		paths = append(paths, filepath.Join(dir, outdir.SealFile))
	}
	entries, err := os.ReadDir(filepath.Join(dir, outdir.ArtifactsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	for _, e := range entries {
		p := filepath.Join(dir, outdir.ArtifactsDir, e.Name())
		if _, ok := public[outdir.ArtifactsDir+"/"+e.Name()]; ok {
			paths = append(paths, p)
		} else {
			left = append(left, p)
		}
	}
	return paths, left, nil
}
