package opsimport_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/opsimport"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/record/pdf"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// firmwareCeremony is a sealed ceremony that wrote the root certificate, a
// firmware-signing certificate, its public key in three forms, and a key
// backup that never leaves the room.
type firmwareCeremony struct {
	*ceremonytest.Ceremony
	firmware *x509.Certificate
}

const backupPath = "artifacts/root-ca.backup"

func newFirmwareCeremony(t *testing.T, p *testPKI) *firmwareCeremony {
	t.Helper()
	fw, _ := endEntity(t, "Example Devices Firmware Signing 2026", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	})
	spki, err := x509.MarshalPKIXPublicKey(fw.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := keys.Raw(fw.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	c := ceremonytest.NewCeremony(t, p.PKI,
		ceremonytest.Artifact{Path: "artifacts/root-ca.crt.pem", Data: ceremonytest.PEM(p.Root)},
		ceremonytest.Artifact{Path: "artifacts/firmware-signing.crt.pem", Data: ceremonytest.PEM(fw)},
		ceremonytest.Artifact{Path: "artifacts/firmware-signing.pub.pem", Data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})},
		ceremonytest.Artifact{Path: "artifacts/firmware-signing.pub.der", Data: spki},
		ceremonytest.Artifact{Path: "artifacts/firmware-signing.pub.raw", Data: raw},
		ceremonytest.Artifact{Path: backupPath, Data: pem.EncodeToMemory(&pem.Block{Type: "CEREMONY KEY BACKUP", Headers: map[string]string{"Backup-Format": "1"}, Bytes: []byte("ciphertext")})},
	)
	return &firmwareCeremony{Ceremony: c, firmware: fw}
}

// bundle returns the ceremony's files as a bundle carries them, under
// prefix: transcript.jsonl, transcript.sig, transcript.md, transcript.pdf
// and every artifact but the backup.
func (c *firmwareCeremony) bundle(t *testing.T, prefix string) []file {
	t.Helper()
	chain, err := transcript.Check(c.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	files := []file{
		{prefix + "transcript.jsonl", c.Transcript},
		{prefix + "transcript.sig", c.Sig},
		{prefix + "transcript.md", []byte(record.Render(chain))},
		{prefix + "transcript.pdf", renderPDF(t, chain)},
	}
	for _, a := range c.Artifacts {
		if a.Path != backupPath {
			files = append(files, file{prefix + a.Path, a.Data})
		}
	}
	return files
}

func renderPDF(t *testing.T, chain *transcript.Chain) []byte {
	t.Helper()
	b, err := pdf.Render(chain)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// without returns files without the one named name; with replaces or adds it.
func without(files []file, name string) []file {
	var out []file
	for _, f := range files {
		if f.name != name {
			out = append(out, f)
		}
	}
	return out
}

func with(files []file, name string, data []byte) []file {
	return append(without(files, name), file{name, data})
}

func TestTranscript(t *testing.T) {
	p := newPKI(t)
	c := newFirmwareCeremony(t, p)
	files := c.bundle(t, "ABCD2345/")
	r, err := opsimport.Check(stage(t, files...), verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != len(files) {
		t.Fatalf("%d items for %d files", len(r.Items), len(files))
	}

	tr := item(t, r, "ABCD2345/transcript.jsonl")
	if tr.Kind != opsimport.KindTranscript || tr.Transcript.Status != verify.Verified || tr.Title != `sealed transcript of the ceremony "Root key" (script rkg)` {
		t.Fatalf("transcript: %v %q", tr.Kind, tr.Title)
	}
	if len(tr.Transcript.Absent) != 1 || tr.Transcript.Absent[0].Path != backupPath || len(tr.Transcript.Artifacts) != 5 {
		t.Fatalf("absent %+v, %d artifacts carried", tr.Transcript.Absent, len(tr.Transcript.Artifacts))
	}
	if !anyContains(tr.Notes, "not carried (recorded, but not among the inputs): "+backupPath) ||
		!anyContains(field(tr.Fields, "Artifact"), backupPath+": not carried (event 10") ||
		!anyContains(field(tr.Fields, "Artifact"), "artifacts/firmware-signing.pub.raw: carried, checked (event 9") {
		t.Fatalf("transcript notes %q, fields %q", tr.Notes, tr.Fields)
	}
	if got := field(tr.Fields, "Final digest"); len(got) != 1 || got[0] != record.GroupHex(tr.Transcript.Chain.Head) {
		t.Fatalf("final digest %q", got)
	}
	if got := field(tr.Fields, "Sealed by"); len(got) != 1 || !strings.Contains(got[0], seal.Fingerprint(p.Audit)) {
		t.Fatalf("sealed by %q", got)
	}

	for name, want := range map[string]struct {
		kind  opsimport.Kind
		title string
	}{
		"ABCD2345/transcript.sig":                     {opsimport.KindSeal, `seal of the transcript bundle TEST: ABCD2345/transcript.jsonl, by "Transcript Audit"`},
		"ABCD2345/transcript.md":                      {opsimport.KindRecord, "printable record of the transcript bundle TEST: ABCD2345/transcript.jsonl"},
		"ABCD2345/transcript.pdf":                     {opsimport.KindRecord, "PDF record of the transcript bundle TEST: ABCD2345/transcript.jsonl"},
		"ABCD2345/artifacts/root-ca.crt.pem":          {opsimport.KindCertificate, `the pinned root "Example Devices Root CA R1"`},
		"ABCD2345/artifacts/firmware-signing.crt.pem": {opsimport.KindCertificate, `firmware-signing certificate "Example Devices Firmware Signing 2026"`},
		"ABCD2345/artifacts/firmware-signing.pub.pem": {opsimport.KindArtifact, `public key (ECDSA P-256, PEM) of firmware-signing certificate "Example Devices Firmware Signing 2026"`},
		"ABCD2345/artifacts/firmware-signing.pub.der": {opsimport.KindArtifact, `public key (ECDSA P-256, DER) of firmware-signing certificate "Example Devices Firmware Signing 2026"`},
		"ABCD2345/artifacts/firmware-signing.pub.raw": {opsimport.KindArtifact, `raw public key of firmware-signing certificate "Example Devices Firmware Signing 2026"`},
	} {
		it := item(t, r, name)
		if it.Kind != want.kind || it.Title != want.title {
			t.Errorf("%s: %v %q; want %v %q", name, it.Kind, it.Title, want.kind, want.title)
		}
	}
	fw := item(t, r, "ABCD2345/artifacts/firmware-signing.crt.pem")
	if fw.Event != 6 || !anyContains(fw.Notes, "also recorded by the transcript bundle TEST: ABCD2345/transcript.jsonl at event 6") {
		t.Fatalf("firmware certificate: event %d, notes %q", fw.Event, fw.Notes)
	}
	raw := item(t, r, "ABCD2345/artifacts/firmware-signing.pub.raw")
	if raw.Event != 9 || !anyContains(field(raw.Fields, "Recorded by"), "event 9") {
		t.Fatalf("raw key: event %d, fields %q", raw.Event, raw.Fields)
	}

	// Written with the bundle's layout.
	out := t.TempDir()
	ws, err := r.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	if last := ws[len(ws)-1]; last.Name != "ABCD2345/transcript.jsonl" {
		t.Fatalf("the transcript is not written last: %+v", ws)
	}
	res, err := verify.Carried(filepath.Join(out, "ABCD2345", "transcript.jsonl"), verify.Pin{Root: p.Root})
	if err != nil || res.Status != verify.Verified || len(res.Absent) != 1 {
		t.Fatalf("the written ceremony directory does not verify as carried: %v", err)
	}
}

// A bundle at the top level of the inputs (names without a directory).
func TestTranscriptAtTopLevel(t *testing.T) {
	p := newPKI(t)
	c := newFirmwareCeremony(t, p)
	r, err := opsimport.Check(stage(t, c.bundle(t, "")...), verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	if it := item(t, r, "artifacts/firmware-signing.pub.der"); it.Kind != opsimport.KindArtifact {
		t.Fatalf("%v", it.Kind)
	}
}

func TestTranscriptRefused(t *testing.T) {
	p := newPKI(t)
	c := newFirmwareCeremony(t, p)
	files := c.bundle(t, "B/")
	pin := verify.Pin{Root: p.Root}
	altered := bytes.Clone(c.Artifacts[3].Data) // firmware-signing.pub.der
	altered[len(altered)-1] ^= 0x01
	chain, err := transcript.Check(c.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	ls := bytes.SplitAfter(c.Transcript, []byte("\n"))
	unsealed := bytes.Join(ls[:len(ls)-2], nil) // without the seal event

	other := newPKI(t)
	foreign := newFirmwareCeremony(t, other)

	for _, tc := range []struct {
		name   string
		files  []file
		origin string
		msgs   []string
	}{
		{"an artifact altered", with(files, "B/artifacts/firmware-signing.pub.der", altered),
			"B/artifacts/firmware-signing.pub.der", []string{"event 8 recorded", "the file was changed", "(checked against the transcript bundle TEST: B/transcript.jsonl)"}},
		{"the backup carried", with(files, "B/"+backupPath, c.Artifacts[5].Data),
			"B/" + backupPath, []string{"a wrapped key backup", "stay in the ceremony room"}},
		{"an unrecorded file under artifacts", with(files, "B/artifacts/extra.pub.pem", c.Artifacts[2].Data),
			"B/artifacts/extra.pub.pem", []string{"not recorded in the transcript"}},
		{"a file in a subdirectory of artifacts", with(files, "B/artifacts/sub/x.pem", c.Artifacts[2].Data),
			"B/transcript.jsonl", []string{"artifacts/sub: not recorded in the transcript"}},
		{"the record altered", with(files, "B/transcript.md", []byte(strings.Replace(record.Render(chain), "Room 4", "Room 5", 1))),
			"B/transcript.md", []string{"does not match the transcript beside it (bundle TEST: B/transcript.jsonl)"}},
		{"the PDF record altered", with(files, "B/transcript.pdf", bytes.Replace(renderPDF(t, chain), []byte("/Creator"), []byte("/Creatox"), 1)),
			"B/transcript.pdf", []string{"does not match the transcript beside it (bundle TEST: B/transcript.jsonl): it is not that transcript's PDF record"}},
		{"the PDF record of another transcript", with(files, "B/transcript.pdf", renderPDF(t, foreignChain(t, foreign))),
			"B/transcript.pdf", []string{"does not match the transcript beside it"}},
		{"the seal missing", without(files, "B/transcript.sig"),
			"B/transcript.jsonl", []string{"transcript.sig: missing: event 12 says the transcript was sealed"}},
		{"unsealed", with(without(files, "B/transcript.sig"), "B/transcript.jsonl", unsealed),
			"B/transcript.jsonl", []string{"NOT SEALED", "only a sealed transcript is imported"}},
		{"sealed under another root", without(without(foreign.bundle(t, "F/"), "F/artifacts/root-ca.crt.pem"), "F/artifacts/firmware-signing.crt.pem"),
			"F/transcript.sig", []string{"does not chain to the pinned root"}},
		{"a transcript not named transcript.jsonl", []file{{"B/ceremony.jsonl", c.Transcript}},
			"B/ceremony.jsonl", []string{`named "ceremony.jsonl"`}},
		{"a transcript.jsonl that is none", []file{{"B/transcript.jsonl", append([]byte("\ufeff"), c.Transcript...)}},
			"B/transcript.jsonl", []string{"it is no ceremony transcript"}},
		{"a seal without its transcript", []file{{"B/transcript.sig", c.Sig}},
			"B/transcript.sig", []string{"a transcript seal without a verified transcript.jsonl beside it"}},
		{"a seal beside another directory's transcript", append(without(without(files, "B/transcript.sig"), "B/transcript.md"), file{"C/transcript.sig", c.Sig}),
			"B/transcript.jsonl", []string{"transcript.sig: missing"}},
		{"a record without its transcript", []file{{"B/transcript.md", []byte(record.Render(chain))}},
			"B/transcript.md", []string{"a printable record without a verified transcript.jsonl beside it"}},
		{"a PDF record without its transcript", []file{{"B/transcript.pdf", renderPDF(t, chain)}},
			"B/transcript.pdf", []string{"a printable record without a verified transcript.jsonl beside it"}},
		{"a public key not covered", []file{{"firmware-signing.pub.pem", c.Artifacts[2].Data}},
			"firmware-signing.pub.pem", []string{"not covered by a certificate chain to the pinned root or a verified transcript"}},
		{"a file beside the transcript that it does not record", append(files, file{"B/firmware-signing.pub.pem", foreign.Artifacts[2].Data}),
			"B/firmware-signing.pub.pem", []string{"not covered by a certificate chain to the pinned root or a verified transcript"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := opsimport.Check(stage(t, tc.files...), pin, now)
			if r != nil {
				t.Fatal("a report came with the refusal")
			}
			wantRefusal(t, err, "bundle TEST: "+tc.origin, tc.msgs...)
		})
	}
}

// A bundle made by hand with every file under its base name (as qr export
// made them before it kept artifacts/): the transcript records
// artifacts/firmware-signing.pub.pem, the bundle carries
// firmware-signing.pub.pem. The sealed transcript's SHA-256 vouches for it:
// it is matched by content, and the report says so.
func TestTranscriptArtifactsMatchedByContent(t *testing.T) {
	p := newPKI(t)
	c := newFirmwareCeremony(t, p)
	files := []file{
		{"transcript.jsonl", c.Transcript},
		{"transcript.sig", c.Sig},
		{"firmware-signing.crt.pem", c.Artifacts[1].Data},
		{"firmware-signing.pub.pem", c.Artifacts[2].Data},
	}
	r, err := opsimport.Check(stage(t, files...), verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}

	pub := item(t, r, "firmware-signing.pub.pem")
	if pub.Kind != opsimport.KindArtifact || !pub.ByContent || pub.ArtifactPath != "artifacts/firmware-signing.pub.pem" || pub.Event != 7 ||
		pub.Title != `public key (ECDSA P-256, PEM) of firmware-signing certificate "Example Devices Firmware Signing 2026"` {
		t.Fatalf("public key: %v by content %v, %s event %d, %q", pub.Kind, pub.ByContent, pub.ArtifactPath, pub.Event, pub.Title)
	}
	if !anyContains(pub.Notes, "matched by content: the transcript bundle TEST: transcript.jsonl records no file by this name, but records artifacts/firmware-signing.pub.pem (event 7) with this file's SHA-256") ||
		!anyContains(field(pub.Fields, "Recorded by"), "event 7, as artifacts/firmware-signing.pub.pem (matched by content)") {
		t.Fatalf("public key notes %q, fields %q", pub.Notes, pub.Fields)
	}

	fw := item(t, r, "firmware-signing.crt.pem")
	if fw.Kind != opsimport.KindCertificate || !fw.ByContent || fw.Event != 6 ||
		!anyContains(fw.Notes, "also recorded by the transcript bundle TEST: transcript.jsonl at event 6 as artifacts/firmware-signing.crt.pem (matched by content: the same SHA-256)") {
		t.Fatalf("firmware certificate: by content %v, event %d, notes %q", fw.ByContent, fw.Event, fw.Notes)
	}

	tr := item(t, r, "transcript.jsonl")
	arts := field(tr.Fields, "Artifact")
	if !anyContains(arts, "artifacts/firmware-signing.pub.pem: carried as firmware-signing.pub.pem (matched by content: the same SHA-256), checked (event 7") ||
		!anyContains(arts, "artifacts/firmware-signing.crt.pem: carried as firmware-signing.crt.pem (matched by content: the same SHA-256), checked (event 6") ||
		!anyContains(arts, "artifacts/firmware-signing.pub.der: not carried (event 8") {
		t.Fatalf("transcript artifacts %q", arts)
	}
	if !anyContains(tr.Notes, "not carried (recorded, but not among the inputs): artifacts/root-ca.crt.pem, artifacts/firmware-signing.pub.der, artifacts/firmware-signing.pub.raw, "+backupPath) {
		t.Fatalf("transcript notes %q", tr.Notes)
	}

	// Written as carried; the transcript still verifies there (the files
	// beside it are no part of its artifacts/).
	out := t.TempDir()
	if _, err := r.Write(out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "firmware-signing.pub.pem")); !bytes.Equal(got, c.Artifacts[2].Data) {
		t.Fatalf("wrote %q", got)
	}
	if res, err := verify.Carried(filepath.Join(out, "transcript.jsonl"), verify.Pin{Root: p.Root}); err != nil || res.Status != verify.Verified {
		t.Fatalf("the written transcript does not verify: %v", err)
	}

	// A copy outside the ceremony directory, beside the artifact carried
	// under its recorded path, is matched too.
	r, err = opsimport.Check(stage(t, append(c.bundle(t, "B/"), file{"firmware-signing.pub.der", c.Artifacts[3].Data})...), verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	if der := item(t, r, "firmware-signing.pub.der"); der.Kind != opsimport.KindArtifact || !der.ByContent || der.ArtifactPath != "artifacts/firmware-signing.pub.der" {
		t.Fatalf("copy: %v by content %v %s", der.Kind, der.ByContent, der.ArtifactPath)
	}
	if !anyContains(field(item(t, r, "B/transcript.jsonl").Fields, "Artifact"), "artifacts/firmware-signing.pub.der: carried, checked; also as firmware-signing.pub.der (matched by content: the same SHA-256) (event 8") {
		t.Fatalf("transcript artifacts %q", field(item(t, r, "B/transcript.jsonl").Fields, "Artifact"))
	}
}

// Content that several recorded artifacts share names no one artifact: a
// file carried under another name with it is refused, naming them.
func TestTranscriptContentMatchAmbiguous(t *testing.T) {
	p := newPKI(t)
	spki, err := x509.MarshalPKIXPublicKey(ceremonytest.NewKey(t, elliptic.P256()).Public())
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	c := ceremonytest.NewCeremony(t, p.PKI,
		ceremonytest.Artifact{Path: "artifacts/a.pub.pem", Data: key},
		ceremonytest.Artifact{Path: "artifacts/b.pub.pem", Data: key},
	)
	_, err = opsimport.Check(stage(t, file{"transcript.jsonl", c.Transcript}, file{"transcript.sig", c.Sig}, file{"x.pub.pem", key}), verify.Pin{Root: p.Root}, now)
	wantRefusal(t, err, "bundle TEST: x.pub.pem", "not recorded under this name, and its SHA-256 is that of 2 recorded artifacts (artifacts/a.pub.pem at event 5 of bundle TEST: transcript.jsonl, artifacts/b.pub.pem at event 6 of bundle TEST: transcript.jsonl): carry it under its recorded path")

	// Under its recorded path it is that artifact.
	if _, err := opsimport.Check(stage(t, file{"transcript.jsonl", c.Transcript}, file{"transcript.sig", c.Sig}, file{"artifacts/a.pub.pem", key}), verify.Pin{Root: p.Root}, now); err != nil {
		t.Fatal(err)
	}
}

// Pinned by fingerprint, the root certificate must be among the inputs:
// a root certificate file, a chain file, or in a transcript's seal.
func TestPinByFingerprint(t *testing.T) {
	p := newPKI(t)
	berlin, _ := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	c := newFirmwareCeremony(t, p)
	fp := colonFingerprint(p.Root)
	pin := verify.Pin{Fingerprint: fp}

	for name, files := range map[string][]file{
		"root certificate file": {{"root-ca.crt.pem", ceremonytest.PEM(p.Root)}, {"berlin.crt.pem", ceremonytest.PEM(berlin)}},
		"chain file":            {{"berlin.chain.pem", ceremonytest.PEM(berlin, p.Root)}},
		"transcript seal":       append(without(c.bundle(t, "T/"), "T/artifacts/root-ca.crt.pem"), file{"berlin.crt.der", berlin.Raw}),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := opsimport.Check(stage(t, files...), pin, now)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Root.Equal(p.Root) {
				t.Fatalf("root %v", r.Root.Subject)
			}
		})
	}
	t.Run("root not among the inputs", func(t *testing.T) {
		_, err := opsimport.Check(stage(t, file{"berlin.crt.pem", ceremonytest.PEM(berlin)}), pin, now)
		wantRefusal(t, err, "", "the pinned root (SHA-256 "+record.GroupHex(seal.Fingerprint(p.Root))+") is not among the inputs: add the root certificate file")
	})
	t.Run("the fingerprint of a certificate that is no root", func(t *testing.T) {
		_, err := opsimport.Check(stage(t, c.bundle(t, "T/")...), verify.Pin{Fingerprint: seal.Fingerprint(p.Audit)}, now)
		wantRefusal(t, err, "", "pinned root: ", "is not a self-signed CA certificate")
	})
	t.Run("a malformed fingerprint", func(t *testing.T) {
		_, err := opsimport.Check(stage(t, c.bundle(t, "T/")...), verify.Pin{Fingerprint: "AB:CD"}, now)
		wantRefusal(t, err, "", "fingerprint")
	})
	t.Run("a root pinned by certificate that is no root", func(t *testing.T) {
		_, err := opsimport.Check(stage(t, c.bundle(t, "T/")...), verify.Pin{Root: berlin}, now)
		wantRefusal(t, err, "", "is not a self-signed CA certificate")
	})
	t.Run("certificate and fingerprint disagree", func(t *testing.T) {
		_, err := opsimport.Check(stage(t, c.bundle(t, "T/")...), verify.Pin{Root: p.Root, Fingerprint: seal.Fingerprint(berlin)}, now)
		wantRefusal(t, err, "", "not the pinned fingerprint")
	})
	t.Run("no pin", func(t *testing.T) {
		_, err := opsimport.Check(stage(t, c.bundle(t, "T/")...), verify.Pin{}, now)
		wantRefusal(t, err, "", "no pinned root")
	})
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

// Check reads each input once: what it verified is what Write writes, even
// if the input file changes in between.
func TestWriteWritesWhatWasChecked(t *testing.T) {
	p := newPKI(t)
	ins := stage(t, file{"root-ca.crt.pem", ceremonytest.PEM(p.Root)})
	r, err := opsimport.Check(ins, verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ins[0].Path, []byte("changed after the check\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := r.Write(out); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "root-ca.crt.pem")); !bytes.Equal(got, ceremonytest.PEM(p.Root)) {
		t.Fatalf("wrote %q", got)
	}
}

func foreignChain(t *testing.T, c *firmwareCeremony) *transcript.Chain {
	t.Helper()
	chain, err := transcript.Check(c.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	return chain
}
