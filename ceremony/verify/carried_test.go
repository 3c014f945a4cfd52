package verify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// carriedCeremony is a sealed ceremony with three artifacts (events 5, 6
// and 7), as the root ceremony writes a certificate, a public key and a
// backup that never leaves the room.
func carriedCeremony(t *testing.T) *ceremonytest.Ceremony {
	t.Helper()
	p := ceremonytest.NewPKI(t, "Example Devices Root CA R1")
	return ceremonytest.NewCeremony(t, p,
		ceremonytest.Artifact{Path: "artifacts/root-ca.crt.pem", Data: ceremonytest.PEM(p.Root)},
		ceremonytest.Artifact{Path: "artifacts/root-ca.pub.pem", Data: []byte("-----BEGIN PUBLIC KEY-----\nnot really\n-----END PUBLIC KEY-----\n")},
		ceremonytest.Artifact{Path: "artifacts/root-ca.backup", Data: []byte("wrapped key, never carried\n")},
	)
}

// carry copies the ceremony directory without the artifacts named in
// leave, and returns the copy's transcript path.
func carry(t *testing.T, c *ceremonytest.Ceremony, leave ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(dir, os.DirFS(c.Dir)); err != nil {
		t.Fatal(err)
	}
	for _, l := range leave {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(l))); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "transcript.jsonl")
}

func TestCarried(t *testing.T) {
	c := carriedCeremony(t)
	pin := verify.Pin{Root: c.PKI.Root}
	pathsOf := func(res *verify.Result) (present, absent []string) {
		for _, a := range res.Artifacts {
			present = append(present, a.Path)
		}
		for _, a := range res.Absent {
			absent = append(absent, a.Path)
		}
		return present, absent
	}

	t.Run("everything carried", func(t *testing.T) {
		res, err := verify.Carried(c.Path(), pin)
		if err != nil {
			t.Fatal(err)
		}
		present, absent := pathsOf(res)
		if res.Status != verify.Verified || len(present) != 3 || len(absent) != 0 {
			t.Fatalf("status %v, present %q, absent %q", res.Status, present, absent)
		}
	})
	t.Run("backup left behind", func(t *testing.T) {
		path := carry(t, c, "artifacts/root-ca.backup")
		res, err := verify.Carried(path, pin)
		if err != nil {
			t.Fatal(err)
		}
		present, absent := pathsOf(res)
		if res.Status != verify.Verified || len(present) != 2 || len(absent) != 1 || absent[0] != "artifacts/root-ca.backup" || res.Absent[0].Event != 7 {
			t.Fatalf("status %v, present %q, absent %+v", res.Status, present, res.Absent)
		}
		// The whole-directory check still refuses the same directory.
		_, err = verify.Ceremony(path, pin)
		wantFile(t, err, "artifacts/root-ca.backup", "recorded at event 7, but missing")
	})
	t.Run("no artifacts carried, no artifacts directory", func(t *testing.T) {
		path := carry(t, c)
		if err := os.RemoveAll(filepath.Join(filepath.Dir(path), "artifacts")); err != nil {
			t.Fatal(err)
		}
		res, err := verify.Carried(path, pin)
		if err != nil {
			t.Fatal(err)
		}
		if present, absent := pathsOf(res); res.Status != verify.Verified || len(present) != 0 || len(absent) != 3 {
			t.Fatalf("status %v, present %q, absent %q", res.Status, present, absent)
		}
	})
	t.Run("pinned by fingerprint", func(t *testing.T) {
		path := carry(t, c, "artifacts/root-ca.backup")
		res, err := verify.Carried(path, verify.Pin{Fingerprint: seal.Fingerprint(c.PKI.Root)})
		if err != nil || res.Status != verify.Verified || !res.Root.Equal(c.PKI.Root) {
			t.Fatalf("%v, %+v", err, res)
		}
	})
	t.Run("a carried artifact altered", func(t *testing.T) {
		path := carry(t, c, "artifacts/root-ca.backup")
		file := filepath.Join(filepath.Dir(path), "artifacts", "root-ca.pub.pem")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x01
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = verify.Carried(path, pin)
		wantFile(t, err, "artifacts/root-ca.pub.pem", "event 6 recorded")
	})
	t.Run("a carried artifact one byte longer", func(t *testing.T) {
		path := carry(t, c)
		file := filepath.Join(filepath.Dir(path), "artifacts", "root-ca.crt.pem")
		if err := os.WriteFile(file, append(ceremonytest.PEM(c.PKI.Root), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := verify.Carried(path, pin)
		wantFile(t, err, "artifacts/root-ca.crt.pem", "the file was changed")
	})
	t.Run("a carried artifact as a symbolic link", func(t *testing.T) {
		path := carry(t, c)
		file := filepath.Join(filepath.Dir(path), "artifacts", "root-ca.crt.pem")
		elsewhere := filepath.Join(t.TempDir(), "root-ca.crt.pem")
		if err := os.Rename(file, elsewhere); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, file); err != nil {
			t.Fatal(err)
		}
		_, err := verify.Carried(path, pin)
		wantFile(t, err, "artifacts/root-ca.crt.pem", "not a regular file")
	})
	t.Run("an unrecorded file carried", func(t *testing.T) {
		path := carry(t, c, "artifacts/root-ca.backup")
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "artifacts", "extra.crt.pem"), ceremonytest.PEM(c.PKI.Root), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := verify.Carried(path, pin)
		wantFile(t, err, "artifacts/extra.crt.pem", "not recorded in the transcript")
	})
	t.Run("transcript.sig not carried", func(t *testing.T) {
		path := carry(t, c, "transcript.sig")
		_, err := verify.Carried(path, pin)
		wantFile(t, err, "transcript.sig", "missing: event 9 says the transcript was sealed")
	})
	t.Run("unsealed", func(t *testing.T) {
		// What a failed ceremony leaves: no seal event, no transcript.sig.
		path := carry(t, c, "transcript.sig", "artifacts/root-ca.backup")
		ls := lines(c.Transcript)
		if err := os.WriteFile(path, joinLines(ls[:len(ls)-1]), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := verify.Carried(path, pin)
		if err != nil {
			t.Fatal(err)
		}
		if present, absent := pathsOf(res); res.Status != verify.Unsealed || res.Seal != nil || len(present) != 2 || len(absent) != 1 {
			t.Fatalf("status %v, present %q, absent %q", res.Status, present, absent)
		}
	})
	t.Run("another root", func(t *testing.T) {
		other := ceremonytest.NewPKI(t, "Example Devices Root CA R1")
		_, err := verify.Carried(carry(t, c, "artifacts/root-ca.backup"), verify.Pin{Root: other.Root})
		wantFile(t, err, "transcript.sig", "does not chain to the pinned root")
	})
}

// A withdrawn artifact that is carried fails Carried as it fails Ceremony.
func TestCarriedWithdrawn(t *testing.T) {
	p := ceremonytest.NewPKI(t, "Example Devices Root CA R1")
	c := ceremonytest.NewCeremony(t, p,
		ceremonytest.Artifact{Path: "artifacts/old.crt.pem", Data: ceremonytest.PEM(p.Audit)},
		ceremonytest.Artifact{Path: "artifacts/root-ca.crt.pem", Data: ceremonytest.PEM(p.Root)},
	)
	chain, err := transcript.Check(c.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	// Withdraw artifacts/old.crt.pem before the exception (event 7), and
	// seal the rewritten transcript again with the audit key.
	evs := append([]transcript.Event{}, chain.Events[:6]...)
	withdrawn := chain.Events[4]
	if !bytes.Contains(withdrawn.Data, []byte("old.crt.pem")) {
		t.Fatalf("event 5 is not old.crt.pem's: %s", withdrawn.Data)
	}
	withdrawn.Type, withdrawn.Text, withdrawn.Time = "artifact-withdrawn", "Withdrew", chain.Events[5].Time
	evs = append(evs, withdrawn)
	evs = append(evs, chain.Events[6:]...)
	content := joinLines(rechain(t, evs, p.Audit, p.Root))
	sig, err := seal.Sign(content, p.AuditKey, p.Audit, []*x509.Certificate{p.Root})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path(), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "transcript.sig"), sig, 0o644); err != nil {
		t.Fatal(err)
	}
	pin := verify.Pin{Root: p.Root}

	// Still present: refused, by both.
	_, err = verify.Carried(c.Path(), pin)
	wantFile(t, err, "artifacts/old.crt.pem", "withdrawn at event 7, but still present")
	_, err = verify.Ceremony(c.Path(), pin)
	wantFile(t, err, "artifacts/old.crt.pem", "withdrawn at event 7, but still present")

	// Gone: it is neither present nor absent, as it is no artifact.
	if err := os.Remove(filepath.Join(c.Dir, "artifacts", "old.crt.pem")); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Carried(c.Path(), pin)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Artifacts) != 1 || res.Artifacts[0].Path != "artifacts/root-ca.crt.pem" || len(res.Absent) != 0 {
		t.Fatalf("artifacts %+v, absent %+v", res.Artifacts, res.Absent)
	}
	var d struct{ Path string }
	if err := json.Unmarshal(res.Chain.Events[6].Data, &d); err != nil || d.Path != "artifacts/old.crt.pem" || res.Chain.Events[6].Type != "artifact-withdrawn" {
		t.Fatalf("event 7: %+v", res.Chain.Events[6])
	}
}

func TestCheckRoot(t *testing.T) {
	p := ceremonytest.NewPKI(t, "Example Devices Root CA R1")
	if err := verify.CheckRoot(p.Root); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*x509.Certificate{"audit certificate": p.Audit, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			f := asFailure(t, verify.CheckRoot(c))
			if f.File != "pinned root" {
				t.Fatalf("%v names %q", f, f.File)
			}
		})
	}
}
