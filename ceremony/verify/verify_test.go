package verify_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/verify"
)

// asFailure returns err as a *verify.Failure, failing the test if it is
// nil or anything else.
func asFailure(t *testing.T, err error) *verify.Failure {
	t.Helper()
	var f *verify.Failure
	if !errors.As(err, &f) {
		t.Fatalf("want a *verify.Failure, got %T: %v", err, err)
	}
	return f
}

// wantFile checks that err is a Failure naming file (and no event) with a
// message containing msg.
func wantFile(t *testing.T, err error, file, msg string) {
	t.Helper()
	f := asFailure(t, err)
	if f.File != file || f.Event != 0 || !strings.Contains(f.Msg, msg) {
		t.Fatalf("got %q (event %d, file %q), want file %q with %q", err, f.Event, f.File, file, msg)
	}
}

// wantEvent checks that err is a Failure naming event n with a message
// containing msg.
func wantEvent(t *testing.T, err error, n int, msg string) {
	t.Helper()
	f := asFailure(t, err)
	if f.Event != n || !strings.Contains(f.Msg, msg) {
		t.Fatalf("got %q (event %d, file %q), want event %d with %q", err, f.Event, f.File, n, msg)
	}
}

// colonFingerprint is openssl's form of a SHA-256 fingerprint: AB:CD:...
func colonFingerprint(c *x509.Certificate) string {
	fp := strings.ToUpper(seal.Fingerprint(c))
	var parts []string
	for i := 0; i < len(fp); i += 2 {
		parts = append(parts, fp[i:i+2])
	}
	return strings.Join(parts, ":")
}

func TestFixtureIsSmall(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	// About 2 KiB, of which 768 bytes are the seven prevs and five other
	// digests the events must carry.
	if n := len(c.transcript); n < 300 || n > 2400 {
		t.Fatalf("the test transcript is %d bytes; keep it between a few hundred and 2400", n)
	}
	if n := len(lines(c.transcript)); n != 7 {
		t.Fatalf("the test transcript has %d events, want 7", n)
	}
}

func TestVerified(t *testing.T) {
	needOpenSSL(t)
	p := newPKI(t, "Example Devices Root CA R1")
	c := newCeremony(t, p)
	if out, err := opensslVerify(c.dir, c.rootPEM); err != nil {
		t.Fatalf("openssl rejects the untouched ceremony: %v\n%s", err, out)
	}
	loaded, err := verify.LoadRoot(c.rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	for name, pin := range map[string]verify.Pin{
		"root":                         {Root: p.root},
		"root from PEM":                {Root: loaded},
		"fingerprint AB:CD:":           {Fingerprint: colonFingerprint(p.root)},
		"fingerprint lower-case plain": {Fingerprint: seal.Fingerprint(p.root)},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := verify.Ceremony(c.path(), pin)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != verify.Verified {
				t.Fatalf("status %v, want Verified", res.Status)
			}
			if res.Root == nil || !res.Root.Equal(p.root) {
				t.Fatalf("Result.Root = %v, want the pinned root", res.Root)
			}
			if res.Seal == nil || !res.Seal.Signer.Equal(p.audit) {
				t.Fatal("Result.Seal is not the audit key's seal")
			}
			if res.LastEvent() != 7 || res.Chain.Head != sha256Hex(lines(c.transcript)[6]) {
				t.Fatalf("LastEvent %d, head %s", res.LastEvent(), res.Chain.Head)
			}
			if len(res.Artifacts) != 1 {
				t.Fatalf("artifacts %+v", res.Artifacts)
			}
			a := res.Artifacts[0]
			if a.Path != artifactPath || a.SHA256 != sha256Hex(c.artifact) || a.Size != len(c.artifact) || a.Event != 5 {
				t.Fatalf("artifact %+v", a)
			}
			if len(res.Notes) != 0 {
				t.Fatalf("notes %q", res.Notes)
			}
		})
	}

	t.Run("no pin", func(t *testing.T) {
		res, err := verify.Ceremony(c.path(), verify.Pin{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != verify.Unpinned || res.Root != nil || res.Seal == nil || len(res.Artifacts) != 1 {
			t.Fatalf("status %v, root %v, artifacts %+v; want Unpinned, no root, one artifact", res.Status, res.Root, res.Artifacts)
		}
	})

	other := newPKI(t, "Example Devices Root CA R1") // the same name, another key
	t.Run("another root", func(t *testing.T) {
		_, err := verify.Ceremony(c.path(), verify.Pin{Root: other.root})
		wantFile(t, err, "transcript.sig", "does not chain to the pinned root")
		if out, err := opensslVerify(c.dir, other.rootPEM(t)); err == nil {
			t.Fatalf("openssl accepts the seal against another root:\n%s", out)
		}
	})
	t.Run("another root's fingerprint", func(t *testing.T) {
		_, err := verify.Ceremony(c.path(), verify.Pin{Fingerprint: colonFingerprint(other.root)})
		wantFile(t, err, "transcript.sig", "does not chain to the pinned root")
	})
	t.Run("the audit certificate pinned as root", func(t *testing.T) {
		_, err := verify.Ceremony(c.path(), verify.Pin{Fingerprint: seal.Fingerprint(p.audit)})
		asFailure(t, err)
	})
}

// mutation is one way of changing one byte.
type mutation struct {
	name string
	f    func(byte) byte
}

var mutations = []mutation{
	{"xor 0x01", func(b byte) byte { return b ^ 0x01 }},
	{"printable", func(b byte) byte {
		if b == 'x' {
			return 'y'
		}
		return 'x'
	}},
}

// TestEveryByteOfTheTranscript changes each byte of transcript.jsonl in
// two ways and checks that verify fails naming the event that holds the
// byte (or, for a broken link, the event after it), and that stock openssl
// rejects the seal over the changed transcript. openssl runs once per
// offset (on the first mutation): it compares the transcript's digest with
// the signed one, which any change alters, so a second run per offset
// would only double the time.
func TestEveryByteOfTheTranscript(t *testing.T) {
	needOpenSSL(t)
	start := time.Now()
	p := newPKI(t, "Example Devices Root CA R1")
	c := newCeremony(t, p)
	if out, err := opensslVerify(c.dir, c.rootPEM); err != nil {
		t.Fatalf("openssl rejects the untouched ceremony: %v\n%s", err, out)
	}
	data := c.transcript

	type job struct {
		off int
		m   int
	}
	type outcome struct {
		err     error
		openssl error
		out     []byte
	}
	results := make([][]outcome, len(data))
	for i := range results {
		results[i] = make([]outcome, len(mutations))
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	const workers = 4 // openssl processes at a time
	for range workers {
		dir := filepath.Dir(c.copyOf(t, nil))
		wg.Go(func() {
			path := filepath.Join(dir, "transcript.jsonl")
			for j := range jobs {
				mut := bytes.Clone(data)
				mut[j.off] = mutations[j.m].f(mut[j.off])
				o := &results[j.off][j.m]
				if o.err = os.WriteFile(path, mut, 0o644); o.err != nil {
					continue
				}
				_, o.err = verify.Ceremony(path, verify.Pin{Root: p.root})
				if j.m == 0 {
					o.out, o.openssl = opensslVerify(dir, c.rootPEM)
				}
			}
		})
	}
	for off := range data {
		for m := range mutations {
			jobs <- job{off, m}
		}
	}
	close(jobs)
	wg.Wait()

	var problems []string
	for off, rs := range results {
		line := bytes.Count(data[:off], []byte("\n")) + 1 // the event holding the byte (its newline included)
		for m, o := range rs {
			what := fmt.Sprintf("byte %d (event %d, %q) changed by %s to %q", off, line, data[off], mutations[m].name, mutations[m].f(data[off]))
			var f *verify.Failure
			switch {
			case o.err == nil:
				problems = append(problems, what+": verify accepts the transcript")
			case !errors.As(o.err, &f):
				problems = append(problems, fmt.Sprintf("%s: error %T %v is not a *verify.Failure", what, o.err, o.err))
			case f.Event < line || f.Event > line+1:
				problems = append(problems, fmt.Sprintf("%s: failure names event %d, file %q, want event %d (or %d for a broken link): %v",
					what, f.Event, f.File, line, line+1, o.err))
			}
			switch {
			case m > 0:
			case o.openssl == nil:
				problems = append(problems, fmt.Sprintf("%s: openssl cms -verify accepts the changed transcript:\n%s", what, o.out))
			case !bytes.Contains(o.out, []byte("content verify error")):
				// It must fail because the content changed, not for
				// some other reason.
				problems = append(problems, fmt.Sprintf("%s: openssl cms -verify fails, but not on the content: %v\n%s", what, o.openssl, o.out))
			}
		}
	}
	for i, p := range problems {
		if i == 20 {
			t.Errorf("... and %d more", len(problems)-i)
			break
		}
		t.Error(p)
	}
	t.Logf("%d bytes: verify %d times, openssl %d times (%d at a time): %v",
		len(data), len(data)*len(mutations), len(data), workers, time.Since(start).Round(time.Millisecond))
}

// A seal event altered so that it is no longer a seal event is named as the
// altered event, not blamed on transcript.sig: its type changed
// ("transcript-sealee"), or its final newline changed (which is no crash,
// since the engine writes transcript.sig only after the seal line is
// complete and fsync'ed).
func TestAlteredSealEventIsNamed(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	for name, mut := range map[string][]byte{
		"type changed":    bytes.Replace(c.transcript, []byte(`"type":"transcript-sealed"`), []byte(`"type":"transcript-sealee"`), 1),
		"newline changed": append(bytes.Clone(c.transcript[:len(c.transcript)-1]), 'x'),
	} {
		t.Run(name, func(t *testing.T) {
			path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, mut) })
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			if f := asFailure(t, err); f.Event != 7 {
				t.Fatalf("the altered seal event is not named: %v (event %d, file %q)", err, f.Event, f.File)
			}
		})
	}
}

// TestEveryByteOfTheSeal changes each byte of transcript.sig in two ways:
// verify must fail, naming transcript.sig, as the transcript itself is
// intact. (openssl is not asked here: it prefers the -CAfile root to the
// copy the seal carries, so it rightly ignores damage to that copy.)
func TestEveryByteOfTheSeal(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	digest := sha256.Sum256(c.transcript)
	md := bytes.Index(c.sig, digest[:])
	cert := bytes.Index(c.sig, c.pki.audit.Raw)
	if md < 0 || cert < 0 {
		t.Fatal("the seal does not hold the transcript's digest or the audit certificate")
	}
	dir := filepath.Dir(c.copyOf(t, nil))
	path := filepath.Join(dir, "transcript.jsonl")
	for off := range c.sig {
		for _, m := range mutations {
			mut := bytes.Clone(c.sig)
			mut[off] = m.f(mut[off])
			if err := os.WriteFile(filepath.Join(dir, "transcript.sig"), mut, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			var f *verify.Failure
			switch {
			case !errors.As(err, &f):
				t.Fatalf("seal byte %d changed by %s: %v, want a *verify.Failure", off, m.name, err)
			case f.File == "transcript.sig" && libraryFirst(f.Msg):
				t.Fatalf("seal byte %d changed by %s: %q: a library's text without a sentence first", off, m.name, f.Msg)
			case f.File == "transcript.sig":
			default:
				t.Fatalf("seal byte %d changed by %s: %v, want a failure naming transcript.sig", off, m.name, err)
			}
		}
	}
	t.Logf("%d bytes of transcript.sig, each change named as the seal file's", len(c.sig))
}

// Damage to transcript.sig alone, with the transcript intact, is named as
// the seal file's: a changed messageDigest attribute (the signature over
// the signed attributes is checked before the digest is compared), and a
// changed byte of the audit certificate's own signature (the chain is
// checked before the certificate is compared with the seal event's).
func TestDamagedSealIsNamed(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	digest := sha256.Sum256(c.transcript)
	for name, off := range map[string]int{
		"messageDigest changed":                 bytes.Index(c.sig, digest[:]) + 5,
		"audit certificate's signature changed": bytes.Index(c.sig, c.pki.audit.Raw) + len(c.pki.audit.Raw) - 1,
		"seal's signature changed":              len(c.sig) - 3,
	} {
		t.Run(name, func(t *testing.T) {
			path := c.copyOf(t, func(dir string) {
				mut := bytes.Clone(c.sig)
				mut[off] ^= 0x01
				if err := os.WriteFile(filepath.Join(dir, "transcript.sig"), mut, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			if f := asFailure(t, err); f.File != "transcript.sig" {
				t.Fatalf("a damaged transcript.sig is blamed on the intact transcript: %v", err)
			}
			if name == "seal's signature changed" && err.Error() != "transcript.sig: the seal's signature does not match transcript.jsonl: the transcript or its seal was changed after sealing" {
				t.Fatalf("got %q", err)
			}
		})
	}
}

// TestUnreadableSeal: a seal cut short or with an impossible length says
// what it is in words, the decoder's reason only as a cause at the end.
func TestUnreadableSeal(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	for name, sig := range map[string][]byte{
		"truncated":        c.sig[:100],
		"length too large": append([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, c.sig[4:]...),
	} {
		t.Run(name, func(t *testing.T) {
			path := c.copyOf(t, func(dir string) {
				if err := os.WriteFile(filepath.Join(dir, "transcript.sig"), sig, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			if want := "transcript.sig: not a CMS signature this tool can read: it is damaged, or not a seal ("; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got %q, want it to start %q", err, want)
			}
		})
	}
}

// libraryFirst reports whether msg shows a Go library's error text other
// than as a parenthesised cause after a sentence.
func libraryFirst(msg string) bool {
	for _, lib := range []string{"asn1:", "x509:", "pkcs7:", "crypto/", "json:"} {
		if i := strings.Index(msg, lib); i >= 0 && !strings.Contains(msg[:i], "(") {
			return true
		}
	}
	return false
}

func writeTranscript(t *testing.T, dir string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "transcript.jsonl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteAnyLine(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	ls := lines(c.transcript)
	for i := range ls {
		t.Run(fmt.Sprintf("event %d", i+1), func(t *testing.T) {
			rest := append(append([][]byte{}, ls[:i]...), ls[i+1:]...)
			path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, joinLines(rest)) })
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			if i == len(ls)-1 {
				// The seal event removed, transcript.sig kept: the file
				// that should not be there is the seal.
				wantFile(t, err, "transcript.sig", "no seal event")
				return
			}
			wantEvent(t, err, i+1, "")
		})
	}
}

func TestSwapAdjacentLines(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	ls := lines(c.transcript)
	for i := 0; i+1 < len(ls); i++ {
		t.Run(fmt.Sprintf("events %d and %d", i+1, i+2), func(t *testing.T) {
			swapped := append([][]byte{}, ls...)
			swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
			path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, joinLines(swapped)) })
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			wantEvent(t, err, i+1, fmt.Sprintf("sequence number %d, expected %d", i+2, i+1))
		})
	}
}

// A line that is no event at all is named by its line, in words, never by
// the JSON decoder's text.
func TestLineNotAnEvent(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	ls := lines(c.transcript)
	for _, tc := range []struct {
		name string
		line []byte
		want string
	}{
		{"blank", []byte{}, "line 3 is empty: a transcript has one event per line, no blank lines"},
		{"seq out of range", bytes.Replace(ls[2], []byte(`"seq":3,`), []byte(`"seq":1e999999999,`), 1), "event 3 (line 3): seq is not a whole number from 1 up"},
		{"NUL", bytes.Replace(ls[2], []byte(`"seq":3,"time":"`), []byte("\"seq\":3,\"time\":\"\x00"), 1), "line 3 is not a JSON event: a control character (byte 0x00)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := append([][]byte{}, ls...)
			changed[2] = tc.line
			path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, joinLines(changed)) })
			_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
			wantEvent(t, err, 3, tc.want)
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "json") {
				t.Fatalf("got %q, want it to start %q", err, tc.want)
			}
		})
	}
}

func TestEventAppendedAfterTheSeal(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	ls := lines(c.transcript)
	chain, err := transcript.Check(c.transcript)
	if err != nil {
		t.Fatal(err)
	}
	last := chain.Events[len(chain.Events)-1]
	extra := canonical(t, transcript.Event{Seq: last.Seq + 1, Time: last.Time, Prev: sha256Hex(ls[len(ls)-1]),
		Type: "artifact-withdrawn", Step: "seal", Text: "Withdrew nothing", Data: json.RawMessage(`{"note":"added later"}`)})
	data := append(bytes.Clone(c.transcript), append(extra, '\n')...)
	if _, err := transcript.Check(data); err != nil {
		t.Fatalf("the appended event is not correctly chained: %v", err)
	}
	path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, data) })
	_, err = verify.Ceremony(path, verify.Pin{Root: c.pki.root})
	wantEvent(t, err, 8, "recorded after the seal (event 7)")
}

func TestSealFiles(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	pin := verify.Pin{Root: c.pki.root}
	ls := lines(c.transcript)
	unsealed := joinLines(ls[:len(ls)-1])

	t.Run("seal event removed, transcript.sig kept", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, unsealed) })
		_, err := verify.Ceremony(path, pin)
		wantFile(t, err, "transcript.sig", "no seal event")
	})
	t.Run("transcript.sig removed", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) {
			if err := os.Remove(filepath.Join(dir, "transcript.sig")); err != nil {
				t.Fatal(err)
			}
		})
		_, err := verify.Ceremony(path, pin)
		wantFile(t, err, "transcript.sig", "missing: event 7 says the transcript was sealed")
	})
	t.Run("both removed", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) {
			writeTranscript(t, dir, unsealed)
			if err := os.Remove(filepath.Join(dir, "transcript.sig")); err != nil {
				t.Fatal(err)
			}
		})
		res, err := verify.Ceremony(path, pin)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != verify.Unsealed || res.LastEvent() != 6 || res.Seal != nil || res.Root != nil || len(res.Artifacts) != 1 {
			t.Fatalf("status %v, last event %d, seal %v, root %v; want Unsealed at event 6", res.Status, res.LastEvent(), res.Seal, res.Root)
		}
	})
	t.Run("seal line cut off, transcript.sig removed", func(t *testing.T) {
		// What a crash while writing the seal event would leave, had it
		// come before transcript.sig was written: unsealed, intact up to
		// event 6.
		path := c.copyOf(t, func(dir string) {
			writeTranscript(t, dir, c.transcript[:len(unsealed)+40])
			if err := os.Remove(filepath.Join(dir, "transcript.sig")); err != nil {
				t.Fatal(err)
			}
		})
		res, err := verify.Ceremony(path, pin)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != verify.Unsealed || res.LastEvent() != 6 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "event 7 was cut off") {
			t.Fatalf("status %v, last event %d, notes %q; want Unsealed at event 6, noting the cut-off event 7", res.Status, res.LastEvent(), res.Notes)
		}
	})
	t.Run("seal line cut off, transcript.sig kept", func(t *testing.T) {
		// No crash leaves this (transcript.sig is written after the seal
		// line is complete).
		path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, c.transcript[:len(unsealed)+40]) })
		_, err := verify.Ceremony(path, pin)
		asFailure(t, err)
	})
	t.Run("garbage after the seal", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, append(bytes.Clone(c.transcript), `{"seq":8`...)) })
		_, err := verify.Ceremony(path, pin)
		wantEvent(t, err, 8, "after the seal")
	})
	t.Run("malformed fingerprint", func(t *testing.T) {
		if _, err := verify.Ceremony(c.path(), verify.Pin{Fingerprint: "AB:CD"}); err == nil {
			t.Fatal("a 2-byte fingerprint pins nothing, yet verify succeeds")
		}
	})
	t.Run("transcript.sig damaged", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) {
			sig := bytes.Clone(c.sig)
			sig[len(sig)-1] ^= 0x01 // the last byte of the ECDSA signature
			if err := os.WriteFile(filepath.Join(dir, "transcript.sig"), sig, 0o644); err != nil {
				t.Fatal(err)
			}
		})
		_, err := verify.Ceremony(path, pin)
		asFailure(t, err)
	})
}

func TestArtifacts(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	pin := verify.Pin{Root: c.pki.root}

	t.Run("every byte", func(t *testing.T) {
		dir := filepath.Dir(c.copyOf(t, nil))
		art := filepath.Join(dir, filepath.FromSlash(artifactPath))
		for off := range c.artifact {
			for _, m := range mutations {
				mut := bytes.Clone(c.artifact)
				mut[off] = m.f(mut[off])
				if err := os.WriteFile(art, mut, 0o644); err != nil {
					t.Fatal(err)
				}
				_, err := verify.Ceremony(filepath.Join(dir, "transcript.jsonl"), pin)
				var f *verify.Failure
				if !errors.As(err, &f) || f.File != artifactPath || f.Event != 0 || !strings.Contains(f.Msg, "event 5 recorded") {
					t.Fatalf("artifact byte %d changed by %s: %v, want a failure naming %s", off, m.name, err, artifactPath)
				}
			}
		}
	})
	t.Run("one byte longer", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(artifactPath)), append(bytes.Clone(c.artifact), '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		})
		_, err := verify.Ceremony(path, pin)
		wantFile(t, err, artifactPath, "the file was changed")
	})
	t.Run("deleted", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(artifactPath))); err != nil {
				t.Fatal(err)
			}
		})
		_, err := verify.Ceremony(path, pin)
		wantFile(t, err, artifactPath, "recorded at event 5")
	})
	for _, name := range []string{"extra.crt.pem", ".hidden", "Root-CA.pub.pem"} {
		t.Run("extra file "+name, func(t *testing.T) {
			path := c.copyOf(t, func(dir string) {
				if err := os.WriteFile(filepath.Join(dir, "artifacts", name), c.artifact, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			_, err := verify.Ceremony(path, pin)
			wantFile(t, err, "artifacts/"+name, "not recorded in the transcript")
		})
	}
	t.Run("extra directory", func(t *testing.T) {
		path := c.copyOf(t, func(dir string) {
			if err := os.Mkdir(filepath.Join(dir, "artifacts", "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
		})
		_, err := verify.Ceremony(path, pin)
		wantFile(t, err, "artifacts/sub", "not recorded in the transcript")
	})
}

// TestForgedWithAnotherAuditKey rewrites history the way someone without
// the audit key would have to: an earlier event is changed, every later
// prev recomputed, the seal event updated to the new chain hash and a new
// audit certificate, and the whole re-signed with an audit key issued by
// a root of their own (with the same name as the real one). The forgery is
// perfect against its own root, and must fail against the pinned one.
func TestForgedWithAnotherAuditKey(t *testing.T) {
	needOpenSSL(t)
	real := newPKI(t, "Example Devices Root CA R1")
	c := newCeremony(t, real)
	forger := newPKI(t, "Example Devices Root CA R1")

	chain, err := transcript.Check(c.transcript)
	if err != nil {
		t.Fatal(err)
	}
	evs := chain.Events
	if evs[3].Type != "key-generated" {
		t.Fatalf("event 4 is %s", evs[3].Type)
	}
	// The forger claims the root key was generated able to decrypt too.
	forged := bytes.Replace(evs[3].Data, []byte(`{"sign":true}`), []byte(`{"decrypt":true,"sign":true}`), 1)
	if bytes.Equal(forged, evs[3].Data) {
		t.Fatalf("event 4 was not forged: %s", evs[3].Data)
	}
	evs[3].Data = json.RawMessage(forged)
	content := joinLines(rechain(t, evs, forger.audit, forger.root))
	if _, err := transcript.Check(content); err != nil {
		t.Fatalf("the forged transcript is not well chained: %v", err)
	}
	if bytes.Equal(content, c.transcript) {
		t.Fatal("nothing was forged")
	}

	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		// perfect: the forgery verifies against the forger's root. A
		// seal that also carries the real root does not: that root is
		// not on the chain to the forger's root.
		perfect bool
	}{
		{"carrying the forger's root", []*x509.Certificate{forger.root}, true},
		{"carrying the forger's and the real root", []*x509.Certificate{forger.root, real.root}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := seal.Sign(content, forger.auditKey, forger.audit, tc.chain)
			if err != nil {
				t.Fatal(err)
			}
			path := c.copyOf(t, func(dir string) {
				writeTranscript(t, dir, content)
				if err := os.WriteFile(filepath.Join(dir, "transcript.sig"), sig, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			dir := filepath.Dir(path)

			// Without a pin, and against its own root, the forgery
			// passes: what fails below fails for the pin alone.
			if res, err := verify.Ceremony(path, verify.Pin{}); err != nil || res.Status != verify.Unpinned {
				t.Fatalf("unpinned: %v", err)
			}
			if tc.perfect {
				if res, err := verify.Ceremony(path, verify.Pin{Root: forger.root}); err != nil || res.Status != verify.Verified {
					t.Fatalf("the forgery is not otherwise perfect: %v", err)
				}
			}
			if out, err := opensslVerify(dir, forger.rootPEM(t)); err != nil {
				t.Fatalf("openssl rejects the forgery against its own root: %v\n%s", err, out)
			}

			_, err = verify.Ceremony(path, verify.Pin{Root: real.root})
			wantFile(t, err, "transcript.sig", "does not chain to the pinned root")
			_, err = verify.Ceremony(path, verify.Pin{Fingerprint: colonFingerprint(real.root)})
			wantFile(t, err, "transcript.sig", "does not chain to the pinned root")
			if out, err := opensslVerify(dir, c.rootPEM); err == nil {
				t.Fatalf("openssl accepts the forgery against the real root:\n%s", out)
			}
		})
	}

	t.Run("the real seal kept", func(t *testing.T) {
		// The forged transcript with the genuine seal: the content differs
		// from what was sealed, so the seal event is blamed.
		path := c.copyOf(t, func(dir string) { writeTranscript(t, dir, content) })
		_, err := verify.Ceremony(path, verify.Pin{Root: real.root})
		wantEvent(t, err, 7, "differs from what the seal signed")
	})
}

// Only a transcript-signing certificate issued by the pinned root itself
// seals: a device certificate under the same root does not, and the pin
// must be a root.
func TestOnlyAnAuditCertificateSeals(t *testing.T) {
	p := newPKI(t, "Example Devices Root CA R1")
	devKey := newKey(t, elliptic.P256())
	p.audit = newCert(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "device-000123"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, p.root, devKey.Public(), p.rootKey)
	p.auditKey = devKey
	c := newCeremony(t, p)
	_, err := verify.Ceremony(c.path(), verify.Pin{Root: p.root})
	if f := asFailure(t, err); f.File != "transcript.sig" || !strings.Contains(f.Msg, "not a transcript-signing certificate") {
		t.Fatalf("a device certificate's seal: %v", err)
	}

	good := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	_, err = verify.Ceremony(good.path(), verify.Pin{Root: good.pki.audit})
	if f := asFailure(t, err); f.File != "pinned root" || !strings.Contains(f.Msg, "is not a self-signed CA certificate") {
		t.Fatalf("the audit certificate pinned as root: %v", err)
	}
}

func TestArtifactMustBeARegularFile(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	path := c.copyOf(t, func(dir string) {
		art := filepath.Join(dir, "artifacts", "root-ca.pub.pem")
		data, err := os.ReadFile(art)
		if err != nil {
			t.Fatal(err)
		}
		elsewhere := filepath.Join(t.TempDir(), "elsewhere.pem")
		if err := os.WriteFile(elsewhere, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(art); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, art); err != nil {
			t.Fatal(err)
		}
	})
	_, err := verify.Ceremony(path, verify.Pin{Root: c.pki.root})
	if f := asFailure(t, err); f.File != "artifacts/root-ca.pub.pem" || !strings.Contains(f.Msg, "not a regular file") {
		t.Fatalf("symlinked artifact: %v", err)
	}
}

// The script text event 1 carries (which the printed record shows) must be
// the file whose SHA-256 it records: a re-chained transcript whose script
// text was changed is refused at event 1, even unsealed.
func TestScriptTextMatchesItsHash(t *testing.T) {
	c := newCeremony(t, newPKI(t, "Example Devices Root CA R1"))
	chain, err := transcript.Check(c.transcript)
	if err != nil {
		t.Fatal(err)
	}
	evs := chain.Events
	var start map[string]any
	if err := json.Unmarshal(evs[0].Data, &start); err != nil {
		t.Fatal(err)
	}
	script, _ := start["script"].(map[string]any)
	if script == nil {
		t.Fatalf("event 1 has no script: %s", evs[0].Data)
	}
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"its own text", "name: root-key-generation\n", true},
		{"another text", "name: root-key-generation\nsteps: []\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script["text"], script["sha256"] = tc.text, sha256Hex([]byte("name: root-key-generation\n"))
			data, err := json.Marshal(start)
			if err != nil {
				t.Fatal(err)
			}
			evs := append([]transcript.Event{}, chain.Events...)
			evs[0].Data = data
			// Unsealed: the seal event goes, the chain is rebuilt.
			content := joinLines(rechain(t, evs[:len(evs)-1], nil, nil))
			path := c.copyOf(t, func(dir string) {
				_ = os.Remove(filepath.Join(dir, "transcript.sig"))
				if err := os.WriteFile(filepath.Join(dir, "transcript.jsonl"), content, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			_, err = verify.Ceremony(path, verify.Pin{})
			if tc.ok {
				var f *verify.Failure
				if errors.As(err, &f) && f.Event == 1 {
					t.Fatalf("refused its own text: %v", err)
				}
				return
			}
			wantEvent(t, err, 1, "the text of ")
		})
	}
}
