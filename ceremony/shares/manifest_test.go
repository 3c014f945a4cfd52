package shares

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestManifestJSON(t *testing.T) {
	ss, man, sec := split(t, Backup, 3, 5, 32)
	b, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "split_id", "purpose", "threshold", "shares", "secret_length", "commitment", "share_sha256"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON %s lacks %q", b, k)
		}
	}
	if len(keys) != 8 {
		t.Errorf("JSON %s has %d keys, want 8", b, len(keys))
	}
	var back Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, man) {
		t.Fatalf("round trip: %+v, want %+v", back, man)
	}
	if err := back.Check(); err != nil {
		t.Fatal(err)
	}
	id, err := back.SplitID()
	if err != nil || id != ss[0].Split {
		t.Fatalf("SplitID() = %v, %v; want %v", id, err, ss[0].Split)
	}
	combineOK(t, ss[2:], &back, sec)
	// The manifest holds nothing secret.
	assertNoSecret(t, errorString(string(b)), ss...)
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestManifestCheckRejects(t *testing.T) {
	_, good, _ := split(t, Activation, 2, 3, 32)
	hash := strings.Repeat("0a", 32)
	for _, c := range []struct {
		name string
		edit func(m *Manifest)
		sub  string
	}{
		{"version 0", func(m *Manifest) { m.Version = 0 }, "version 0"},
		{"version 2", func(m *Manifest) { m.Version = 2 }, "version 2"},
		{"no split id", func(m *Manifest) { m.Split = "" }, "split id"},
		{"bad split id", func(m *Manifest) { m.Split = "04HM-ASU9-NC" }, "split id"},
		{"zero split id", func(m *Manifest) { m.Split = "0000-0000-00" }, "all-zero"},
		{"purpose", func(m *Manifest) { m.Purpose = "B" }, `purpose "B"`},
		{"purpose case", func(m *Manifest) { m.Purpose = "Backup" }, `purpose "Backup"`},
		{"M = 1", func(m *Manifest) { m.Threshold = 1 }, "at least 2"},
		{"M > N", func(m *Manifest) { m.Threshold = 4 }, "more shares needed"},
		{"N = 256", func(m *Manifest) {
			m.Count = 256
			m.ShareHashes = make([]string, 256)
		}, "at most 255"},
		{"secret length 0", func(m *Manifest) { m.SecretLen = 0 }, "secret length 0"},
		{"secret length 65", func(m *Manifest) { m.SecretLen = 65 }, "secret length 65"},
		{"commitment short", func(m *Manifest) { m.Commitment = m.Commitment[:62] }, "commitment has 62 characters"},
		{"commitment upper case", func(m *Manifest) { m.Commitment = strings.ToUpper(hash) }, "commitment character 2"},
		{"commitment not hex", func(m *Manifest) { m.Commitment = "g" + m.Commitment[1:] }, "commitment character 1"},
		{"too few hashes", func(m *Manifest) { m.ShareHashes = m.ShareHashes[:2] }, "2 share hashes for 3 shares"},
		{"too many hashes", func(m *Manifest) { m.ShareHashes = append(m.ShareHashes, hash) }, "4 share hashes for 3 shares"},
		{"bad hash", func(m *Manifest) { m.ShareHashes[1] = "xyz" }, "hash of share 2 has 3 characters"},
		{"duplicate hash", func(m *Manifest) { m.ShareHashes[2] = m.ShareHashes[0] }, "shares 1 and 3 have the same hash"},
	} {
		m := *good
		m.ShareHashes = append([]string(nil), good.ShareHashes...)
		c.edit(&m)
		err := m.Check()
		wantErr(t, err, "manifest: ", c.sub)
		if _, err := Combine(nil, &m); err == nil {
			t.Errorf("%s: Combine accepted the manifest", c.name)
		}
	}
	var nilMan *Manifest
	wantErr(t, nilMan.Check(), "missing")
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
}
