package opsimport_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicepki/ceremony/ceremony/opsimport"
	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/seal"
	"github.com/devicepki/ceremony/ceremony/verify"
	"github.com/devicepki/ceremony/internal/ceremonytest"
)

// A root, two factory intermediates (one alone, one in a chain file with
// the root), a device certificate under the first, and the root's CRL
// revoking a third intermediate, retired, that is not among the inputs.
// The same CRL revoking the first intermediate refuses the import: that
// intermediate, and the device certificate under it.
func TestCertificatesAndCRL(t *testing.T) {
	p := newPKI(t)
	berlin, berlinKey := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	shenzhen, _ := intermediate(t, "Example Devices Factory Shenzhen CA 1", p.Root, p.RootKey)
	retired, _ := intermediate(t, "Example Devices Factory Porto CA 1", p.Root, p.RootKey)
	device, _ := endEntity(t, "device-000123", berlin, berlinKey, nil)
	revokesBerlin := crl(t, 2, p.Root, p.RootKey, now.Add(180*24*time.Hour), berlin)
	serial := hex.EncodeToString(berlin.SerialNumber.Bytes())

	_, err := opsimport.Check(stage(t,
		file{"berlin.crt.pem", ceremonytest.PEM(berlin)},
		file{"root-ca.crl.pem", revokesBerlin},
	), verify.Pin{Root: p.Root}, now)
	wantRefusal(t, err, "bundle TEST: berlin.crt.pem",
		`intermediate CA "Example Devices Factory Berlin CA 1" (serial `+serial+`) is revoked by CRL 2 (bundle TEST: root-ca.crl.pem), reason key-compromise, since `,
		"a revoked certificate is not imported")
	_, err = opsimport.Check(stage(t,
		file{"device.crt.der", device.Raw},
		file{"berlin.crt.pem", ceremonytest.PEM(berlin)},
		file{"root-ca.crl.pem", revokesBerlin},
	), verify.Pin{Root: p.Root}, now)
	wantRefusal(t, err, "bundle TEST: device.crt.der",
		`end-entity certificate "device-000123" was issued by "Example Devices Factory Berlin CA 1" (serial `+serial+`), which CRL 2 (bundle TEST: root-ca.crl.pem) revokes, reason key-compromise`,
		"a certificate under a revoked CA is not imported")

	ins := stage(t,
		file{"artifacts/root-ca.crt.pem", ceremonytest.PEM(p.Root)},
		file{"berlin.crt.pem", ceremonytest.PEM(berlin)},
		file{"shenzhen.chain.pem", ceremonytest.PEM(shenzhen, p.Root)},
		file{"device.crt.der", device.Raw},
		file{"root-ca.crl.pem", crl(t, 2, p.Root, p.RootKey, now.Add(180*24*time.Hour), retired)},
	)
	r, err := opsimport.Check(ins, verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Root.Equal(p.Root) || len(r.Items) != 5 {
		t.Fatalf("root %v, %d items", r.Root.Subject, len(r.Items))
	}

	root := item(t, r, "artifacts/root-ca.crt.pem")
	if root.Kind != opsimport.KindCertificate || len(root.Certificates) != 1 || root.Certificates[0].Role != opsimport.RoleRoot ||
		root.Title != `the pinned root "Example Devices Root CA R1"` || len(root.Notes) != 0 {
		t.Fatalf("root: %+v", root)
	}

	b := item(t, r, "berlin.crt.pem")
	bc := b.Certificates[0]
	if bc.Role != opsimport.RoleIntermediateCA || b.Title != `intermediate CA "Example Devices Factory Berlin CA 1"` || len(bc.Chain) != 2 || !bc.Chain[1].Equal(p.Root) {
		t.Fatalf("berlin: %q, role %v, chain of %d", b.Title, bc.Role, len(bc.Chain))
	}
	if len(bc.Revoked) != 0 || anyContains(b.Notes, "REVOKED") {
		t.Fatalf("berlin revoked: %+v, notes %q", bc.Revoked, b.Notes)
	}
	for label, want := range map[string]string{
		"Subject":             "CN=Example Devices Factory Berlin CA 1,O=Example Devices GmbH,C=DE",
		"Issuer":              "CN=Example Devices Root CA R1,O=Example Devices GmbH,C=DE",
		"Serial":              hex.EncodeToString(berlin.SerialNumber.Bytes()),
		"Basic constraints":   "CA:TRUE, path length 0",
		"Extended key usage":  "clientAuth",
		"Validity":            "valid now",
		"Certificate SHA-256": seal.Fingerprint(berlin),
		"Chain":               `"Example Devices Factory Berlin CA 1", issued by "Example Devices Root CA R1" (the pinned root)`,
	} {
		if got := field(b.Fields, label); len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("berlin %s = %q, want %q", label, got, want)
		}
	}

	sz := item(t, r, "shenzhen.chain.pem")
	if len(sz.Certificates) != 2 || sz.Certificates[0].Role != opsimport.RoleIntermediateCA || sz.Certificates[1].Role != opsimport.RoleRoot {
		t.Fatalf("shenzhen chain: %q", sz.Title)
	}
	if sz.Title != `2 certificates: intermediate CA "Example Devices Factory Shenzhen CA 1", the pinned root "Example Devices Root CA R1"` || anyContains(sz.Notes, "REVOKED") {
		t.Fatalf("shenzhen chain: %q, notes %q", sz.Title, sz.Notes)
	}
	if got := field(sz.Fields, "Certificate 2 of 2"); len(got) != 1 || got[0] != `the pinned root "Example Devices Root CA R1"` {
		t.Fatalf("shenzhen chain fields %q", got)
	}

	d := item(t, r, "device.crt.der")
	if d.Certificates[0].Role != opsimport.RoleEndEntity || len(d.Certificates[0].Chain) != 3 || anyContains(d.Notes, "REVOKED") {
		t.Fatalf("device: %q, notes %q", d.Title, d.Notes)
	}

	c := item(t, r, "root-ca.crl.pem")
	if c.Kind != opsimport.KindCRL || !c.CRLSigner.Equal(p.Root) || c.Title != `CRL 2 of the pinned root "Example Devices Root CA R1"` {
		t.Fatalf("crl: %q", c.Title)
	}
	if got := field(c.Fields, "Revoked"); len(got) != 1 || !strings.Contains(got[0], hex.EncodeToString(retired.SerialNumber.Bytes())) || !strings.Contains(got[0], "key-compromise") {
		t.Fatalf("crl revoked %q", got)
	}
	if got := field(c.Fields, "Currency"); len(got) != 1 || !strings.HasPrefix(got[0], "current") || len(c.Notes) != 0 {
		t.Fatalf("crl currency %q, notes %q", got, c.Notes)
	}

	// Written as they came, under their names.
	out := filepath.Join(t.TempDir(), "import", "2026")
	ws, err := r.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 5 {
		t.Fatalf("wrote %+v", ws)
	}
	for _, in := range ins {
		want, _ := os.ReadFile(in.Path)
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(in.Name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %v", in.Name, err)
		}
	}
}

// What each kind of certificate is called.
func TestRoles(t *testing.T) {
	p := newPKI(t)
	berlin, berlinKey := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	firmware, _ := endEntity(t, "Example Devices Firmware Signing 2026", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	})
	signing, _ := endEntity(t, "Example Devices Ceremony Transcript Signing 1", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.ExtKeyUsage, c.UnknownExtKeyUsage = nil, []asn1.ObjectIdentifier{pki.DocumentSigningOID}
	})
	code := "64a3f29fc7b396c3821db8045232d1a26b0b71bcff534ba57c7e33be3b26c53a"
	registration, _ := endEntity(t, code, berlin, berlinKey, nil)
	server, _ := endEntity(t, "api.example.com", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	expired, _ := endEntity(t, "old device", berlin, berlinKey, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = now.Add(-50*time.Minute), now.Add(-10*time.Minute)
	})
	future, _ := endEntity(t, "next year", berlin, berlinKey, func(c *x509.Certificate) {
		c.NotBefore = now.Add(24 * time.Hour)
	})
	ins := stage(t,
		file{"berlin.crt.pem", ceremonytest.PEM(berlin)},
		file{"firmware.crt.pem", ceremonytest.PEM(firmware)},
		file{"signing.crt.pem", ceremonytest.PEM(signing)},
		file{"audit.crt.pem", ceremonytest.PEM(p.Audit)},
		file{"verification.crt.pem", ceremonytest.PEM(registration)},
		file{"server.crt.pem", ceremonytest.PEM(server)},
		file{"expired.crt.pem", ceremonytest.PEM(expired)},
		file{"future.crt.pem", ceremonytest.PEM(future)},
	)
	r, err := opsimport.Check(ins, verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		role  opsimport.Role
		title string
		note  string
	}{
		{"firmware.crt.pem", opsimport.RoleFirmwareSigning, `firmware-signing certificate "Example Devices Firmware Signing 2026"`, ""},
		{"signing.crt.pem", opsimport.RoleTranscriptSigning, `transcript-signing certificate "Example Devices Ceremony Transcript Signing 1"`, ""},
		{"audit.crt.pem", opsimport.RoleTranscriptSigning, `transcript-signing certificate "Transcript Audit"`, "no extended key usage"},
		{"verification.crt.pem", opsimport.RoleVerification, "cloud CA registration (verification) certificate for registration code " + code, ""},
		{"server.crt.pem", opsimport.RoleEndEntity, `end-entity certificate "api.example.com"`, ""},
		{"expired.crt.pem", opsimport.RoleEndEntity, `end-entity certificate "old device"`, "EXPIRED on"},
		{"future.crt.pem", opsimport.RoleEndEntity, `end-entity certificate "next year"`, "NOT YET VALID"},
	} {
		it := item(t, r, tc.name)
		if it.Certificates[0].Role != tc.role || it.Title != tc.title {
			t.Errorf("%s: role %v, title %q; want %v, %q", tc.name, it.Certificates[0].Role, it.Title, tc.role, tc.title)
		}
		if tc.note == "" && len(it.Notes) > 0 || tc.note != "" && !anyContains(it.Notes, tc.note) {
			t.Errorf("%s: notes %q, want %q", tc.name, it.Notes, tc.note)
		}
	}
	if got := field(item(t, r, "expired.crt.pem").Fields, "Validity"); len(got) != 1 || !strings.HasPrefix(got[0], "EXPIRED") {
		t.Errorf("expired: validity %q", got)
	}
}

// Certificates that do not chain to the pinned root are refused, naming
// the file and the certificate; Check returns no report, so nothing can
// be written.
func TestForeignCertificates(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t) // another root with the same name
	foreignCA, foreignKey := intermediate(t, "Example Devices Factory Berlin CA 1", other.Root, other.RootKey)
	berlin, _ := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	foreignDevice, _ := endEntity(t, "device-000999", foreignCA, foreignKey, nil)

	// Self-signed with the root's subject, another key.
	impostorKey := ceremonytest.NewKey(t, elliptic.P384())
	tmpl := ceremonytest.RootTemplate("Example Devices Root CA R1")
	impostor := ceremonytest.NewCert(t, tmpl, tmpl, impostorKey.Public(), impostorKey)
	evil := ceremonytest.NewPKI(t, "Evil Root")

	damaged := bytes.Clone(berlin.Raw)
	damaged[len(damaged)-3] ^= 0x01 // in the signature
	if _, err := x509.ParseCertificate(damaged); err != nil {
		t.Fatalf("the damaged certificate should still parse: %v", err)
	}
	unknownIssuer, _ := endEntity(t, "orphan", foreignCA, foreignKey, nil)
	beforeRoot, _ := endEntity(t, "device-early", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = p.Root.NotBefore.Add(-48*time.Hour), p.Root.NotBefore.Add(-24*time.Hour)
	})
	keyDER, err := x509.MarshalPKCS8PrivateKey(ceremonytest.NewKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})

	for _, tc := range []struct {
		name  string
		files []file
		bad   string
		msgs  []string
	}{
		{"issued by another root of the same name", []file{{"ok.crt.pem", ceremonytest.PEM(berlin)}, {"foreign.crt.pem", ceremonytest.PEM(foreignCA)}},
			"foreign.crt.pem", []string{`certificate "Example Devices Factory Berlin CA 1" does not chain to the pinned root "Example Devices Root CA R1"`, "another key with the same name"}},
		{"another root of the same name itself", []file{{"other-root.crt.pem", ceremonytest.PEM(other.Root)}},
			"other-root.crt.pem", []string{"self-signed with the pinned root's name, but it is not the pinned root"}},
		{"another root", []file{{"ok.crt.pem", ceremonytest.PEM(berlin)}, {"evil.chain.pem", ceremonytest.PEM(evil.Audit, evil.Root)}},
			"evil.chain.pem", []string{`certificate "Transcript Audit" (1 of 2)`, `issued by "CN=Evil Root,O=Example Devices GmbH,C=DE", which is neither the pinned root`}},
		{"self-signed with the root's subject", []file{{"root-ca.crt.pem", ceremonytest.PEM(impostor)}},
			"root-ca.crt.pem", []string{"self-signed with the pinned root's name"}},
		{"a chain through a foreign intermediate", []file{{"device.chain.pem", ceremonytest.PEM(foreignDevice, foreignCA)}},
			"device.chain.pem", []string{`"device-000999" (1 of 2)`}},
		{"the issuer not among the inputs", []file{{"orphan.crt.pem", ceremonytest.PEM(unknownIssuer)}},
			"orphan.crt.pem", []string{"neither the pinned root nor a certificate among the inputs that chains to it"}},
		{"a broken signature", []file{{"berlin.crt.der", damaged}},
			"berlin.crt.der", []string{"does not chain to the pinned root"}},
		// Said in the user's words, not Go's "current time ... is before".
		{"valid before its issuer", []file{{"early.crt.pem", ceremonytest.PEM(beforeRoot)}},
			"early.crt.pem", []string{`its issuer "CN=Example Devices Root CA R1,O=Example Devices GmbH,C=DE" was not valid when it was: it is valid from ` + beforeRoot.NotBefore.UTC().Format("2006-01-02")}},
		{"a private key", []file{{"berlin.crt.pem", keyPEM}},
			"berlin.crt.pem", []string{"a private key (PEM PRIVATE KEY): secrets never leave the ceremony room or their token"}},
		{"a private key in DER", []file{{"berlin.der", keyDER}},
			"berlin.der", []string{"a private key (DER, PKCS#8)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := opsimport.Check(stage(t, tc.files...), verify.Pin{Root: p.Root}, now)
			if r != nil {
				t.Fatal("a report came with the refusal")
			}
			wantRefusal(t, err, "bundle TEST: "+tc.bad, tc.msgs...)
		})
	}
}

// PEM certificate and CRL files hold nothing else.
func TestStrictPEM(t *testing.T) {
	p := newPKI(t)
	rootPEM := ceremonytest.PEM(p.Root)
	crlPEM := crl(t, 1, p.Root, p.RootKey, now.Add(time.Hour))
	withHeader := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Note": "trust me"}, Bytes: p.Root.Raw})
	for name, tc := range map[string]struct {
		data []byte
		msg  string
	}{
		"text before":          {append([]byte("This is the company root.\n"), rootPEM...), "text outside its PEM blocks"},
		"text after":           {append(bytes.Clone(rootPEM), "trust it\n"...), "text outside its PEM blocks"},
		"PEM header":           {withHeader, "a PEM header"},
		"certificate and CRL":  {append(bytes.Clone(rootPEM), crlPEM...), "PEM blocks of different types (CERTIFICATE, X509 CRL)"},
		"two CRLs":             {append(bytes.Clone(crlPEM), crlPEM...), "2 CRLs in one file"},
		"damaged base64":       {bytes.Replace(rootPEM, []byte("MII"), []byte("M!I"), 1), "damaged PEM certificate or CRL"},
		"truncated":            {rootPEM[:len(rootPEM)-30], "damaged PEM certificate or CRL"},
		"certificate repeated": {append(bytes.Clone(rootPEM), rootPEM...), "certificate 2 is certificate 1 again"},
		"first of two damaged": {append(bytes.Replace(rootPEM, []byte("MII"), []byte("M!I"), 1), rootPEM...), "a damaged block"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := opsimport.Check(stage(t, file{"x.pem", tc.data}), verify.Pin{Root: p.Root}, now)
			wantRefusal(t, err, "bundle TEST: x.pem", tc.msg)
		})
	}
}

func TestCRLs(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	berlin, berlinKey := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	device, _ := endEntity(t, "device-000123", berlin, berlinKey, nil)
	device2, _ := endEntity(t, "device-000124", berlin, berlinKey, nil)
	noCRLSign, noCRLSignKey := endEntity(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey, func(c *x509.Certificate) {
		c.IsCA, c.MaxPathLenZero, c.KeyUsage, c.SubjectKeyId = true, true, x509.KeyUsageCertSign, []byte{1, 2, 3, 4}
	})
	pin := verify.Pin{Root: p.Root}

	t.Run("signed by an intermediate among the inputs", func(t *testing.T) {
		files := []file{
			{"berlin.crt.pem", ceremonytest.PEM(berlin)},
			{"device.crt.pem", ceremonytest.PEM(device)},
			{"device2.crt.pem", ceremonytest.PEM(device2)},
			{"berlin.crl.der", pemBytes(t, crl(t, 7, berlin, berlinKey, now.Add(-time.Second), device))},
			{"berlin-old.crl.pem", crl(t, 6, berlin, berlinKey, now.Add(-time.Second))},
		}
		// The device the intermediate's CRL revokes refuses the import.
		_, err := opsimport.Check(stage(t, files...), pin, now)
		wantRefusal(t, err, "bundle TEST: device.crt.pem", `end-entity certificate "device-000123" (serial `, "is revoked by CRL 7 (bundle TEST: berlin.crl.der), reason key-compromise")
		// Also with the stale CRLs allowed: revoked stays revoked.
		_, err = opsimport.CheckWith(stage(t, files...), pin, opsimport.Options{Now: now, AllowStaleCRL: "test"})
		wantRefusal(t, err, "bundle TEST: device.crt.pem", "is revoked by CRL 7")
		// Without it, the rest is imported, the stale CRLs by a reason.
		r, err := opsimport.CheckWith(stage(t, append(files[:1:1], files[2:]...)...), pin, opsimport.Options{Now: now, AllowStaleCRL: "test"})
		if err != nil {
			t.Fatal(err)
		}
		c := item(t, r, "berlin.crl.der")
		if !c.CRLSigner.Equal(berlin) || c.Title != `CRL 7 of "Example Devices Factory Berlin CA 1"` {
			t.Fatalf("crl %q", c.Title)
		}
		if !anyContains(c.Notes, "PAST ITS NEXT UPDATE") || !anyContains(field(c.Fields, "Revoked"), "serial "+hex.EncodeToString(device.SerialNumber.Bytes())) {
			t.Fatalf("crl notes %q, fields %q", c.Notes, c.Fields)
		}
		if old := item(t, r, "berlin-old.crl.pem"); !anyContains(old.Notes, "CRL 7 of the same issuer (bundle TEST: berlin.crl.der) is newer") {
			t.Fatalf("old crl notes %q", old.Notes)
		}
		if anyContains(item(t, r, "device2.crt.pem").Notes, "REVOKED") {
			t.Fatal("the intermediate's CRL revokes the wrong device")
		}
		if anyContains(item(t, r, "berlin.crt.pem").Notes, "REVOKED") {
			t.Fatal("the intermediate's own CRL revokes the intermediate")
		}
	})
	for _, tc := range []struct {
		name  string
		files []file
		msg   string
	}{
		{"signed by a foreign key in the root's name",
			[]file{{"root-ca.crl.pem", crl(t, 3, renamed(berlin, p.Root), berlinKey, now.Add(time.Hour), berlin)}},
			`CRL 3 names the pinned root "Example Devices Root CA R1" as its issuer, but the pinned root's key did not sign it: another key with the same name did`},
		{"signed by another root",
			[]file{{"root-ca.crl.pem", crl(t, 3, other.Root, other.RootKey, now.Add(time.Hour))}},
			`CRL 3 names the pinned root "Example Devices Root CA R1" as its issuer, but the pinned root's key did not sign it: another key with the same name did`},
		{"signed by a certificate among the inputs in another's name",
			[]file{{"berlin.crt.pem", ceremonytest.PEM(berlin)}, {"root-ca.crl.pem", crl(t, 3, renamed(noCRLSign, berlin), noCRLSignKey, now.Add(time.Hour))}},
			`CRL 3 names "Example Devices Factory Berlin CA 1" as its issuer, but that certificate's key did not sign it`},
		{"its issuer not among the inputs",
			[]file{{"root-ca.crl.pem", crl(t, 3, berlin, berlinKey, now.Add(time.Hour))}},
			`CRL 3 was issued by "CN=Example Devices Factory Berlin CA 1,O=Example Devices GmbH,C=DE", which is neither the pinned root nor a CA certificate among the inputs that chains to it`},
		{"signed by a CA without cRLSign",
			[]file{{"ca.crt.pem", ceremonytest.PEM(noCRLSign)}, {"root-ca.crl.pem", crl(t, 3, renamed(noCRLSign, noCRLSign), noCRLSignKey, now.Add(time.Hour))}},
			"may not sign CRLs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := opsimport.Check(stage(t, tc.files...), pin, now)
			wantRefusal(t, err, "bundle TEST: root-ca.crl.pem", tc.msg)
		})
	}
}

// A look-alike root: the pinned root's name, every string in it encoded as
// UTF8String rather than PrintableString (so the names differ byte for byte
// but read the same), on another key. Its CRL is called what it is: the
// pinned root's name, not the pinned root's key. The pinned root's own key
// signing a CRL under that encoding of its name is the pinned root's CRL.
func TestCRLOfALookAlikeRoot(t *testing.T) {
	p := newPKI(t)
	pin := verify.Pin{Root: p.Root}
	berlin, _ := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	utf8Subject := utf8Name(t, p.Root.Subject)

	tmpl := ceremonytest.RootTemplate(p.Root.Subject.CommonName)
	tmpl.RawSubject = utf8Subject
	lookKey := ceremonytest.NewKey(t, elliptic.P384())
	look := ceremonytest.NewCert(t, tmpl, tmpl, lookKey.Public(), lookKey)
	if bytes.Equal(look.RawSubject, p.Root.RawSubject) || look.Subject.String() != p.Root.Subject.String() {
		t.Fatalf("the look-alike's name %q (% x) is not the root's %q (% x) in another encoding", look.Subject, look.RawSubject, p.Root.Subject, p.Root.RawSubject)
	}

	_, err := opsimport.Check(stage(t, file{"berlin.crt.pem", ceremonytest.PEM(berlin)}, file{"root-ca.crl.pem", crl(t, 5, look, lookKey, now.Add(time.Hour), berlin)}), pin, now)
	wantRefusal(t, err, "bundle TEST: root-ca.crl.pem",
		`CRL 5 names the pinned root "Example Devices Root CA R1" as its issuer, but the pinned root's key did not sign it: another key with the same name did`)
	if strings.Contains(err.Error(), "add the issuing CA") {
		t.Fatalf("refusal %q asks for an issuing CA", err)
	}

	// The same look-alike in the chain check, for comparison: the same
	// diagnosis.
	_, err = opsimport.Check(stage(t, file{"root-ca.crt.pem", ceremonytest.PEM(look)}), pin, now)
	wantRefusal(t, err, "bundle TEST: root-ca.crt.pem", "it is self-signed with the pinned root's name, but it is not the pinned root")

	// The pinned root's own key, its name in UTF8String: accepted, and it
	// revokes what it lists.
	asUTF8 := renamed(p.Root, p.Root)
	asUTF8.RawSubject = utf8Subject
	r, err := opsimport.Check(stage(t, file{"root-ca.crl.pem", crl(t, 6, asUTF8, p.RootKey, now.Add(time.Hour), berlin)}), pin, now)
	if err != nil {
		t.Fatal(err)
	}
	if c := item(t, r, "root-ca.crl.pem"); c.Kind != opsimport.KindCRL || !c.CRLSigner.Equal(p.Root) {
		t.Fatalf("crl %v %q", c.Kind, c.Title)
	}
	_, err = opsimport.Check(stage(t, file{"berlin.crt.pem", ceremonytest.PEM(berlin)}, file{"root-ca.crl.pem", crl(t, 6, asUTF8, p.RootKey, now.Add(time.Hour), berlin)}), pin, now)
	wantRefusal(t, err, "bundle TEST: berlin.crt.pem", "is revoked by CRL 6")
}

// utf8Name encodes n as a DER Name with every string a UTF8String.
func utf8Name(t testing.TB, n pkix.Name) []byte {
	t.Helper()
	var rdns pkix.RDNSequence
	for _, rdn := range n.ToRDNSequence() {
		var set pkix.RelativeDistinguishedNameSET
		for _, atv := range rdn {
			set = append(set, pkix.AttributeTypeAndValue{Type: atv.Type, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(atv.Value.(string))}})
		}
		rdns = append(rdns, set)
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// renamed is cert with the subject of as, so that a key can sign a CRL in
// another's name (x509.CreateRevocationList takes the issuer name from
// the certificate it is given).
func renamed(cert, as *x509.Certificate) *x509.Certificate {
	c := *cert
	c.RawSubject, c.Subject = as.RawSubject, as.Subject
	c.KeyUsage |= x509.KeyUsageCRLSign
	if len(c.SubjectKeyId) == 0 {
		c.SubjectKeyId = []byte{1}
	}
	return &c
}

// pemBytes returns the DER inside a one-block PEM file.
func pemBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// A factory intermediate (clientAuth, as every factory CA is) cannot mint
// the company's firmware-signing or transcript-signing certificate: a
// codeSigning certificate under it is refused (an issuer may not grant an
// extended key usage it does not hold), and a documentSigning one is only
// an end-entity certificate of that factory.
func TestFactoryCannotMintSigners(t *testing.T) {
	p := newPKI(t)
	berlin, berlinKey := intermediate(t, "Example Devices Factory Berlin CA 1", p.Root, p.RootKey)
	fw, _ := endEntity(t, "Example Devices Firmware Signing 2027", berlin, berlinKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	})
	_, err := opsimport.Check(stage(t, file{"berlin.crt.pem", ceremonytest.PEM(berlin)}, file{"fw.crt.pem", ceremonytest.PEM(fw)}), verify.Pin{Root: p.Root}, now)
	wantRefusal(t, err, "bundle TEST: fw.crt.pem", "codeSigning", "not within its issuers' extended key usages")

	audit, _ := endEntity(t, "Example Devices Ceremony Transcript Signing 9", berlin, berlinKey, func(c *x509.Certificate) {
		c.ExtKeyUsage, c.UnknownExtKeyUsage = nil, []asn1.ObjectIdentifier{pki.DocumentSigningOID}
	})
	r, err := opsimport.Check(stage(t, file{"berlin.crt.pem", ceremonytest.PEM(berlin)}, file{"audit.crt.pem", ceremonytest.PEM(audit)}), verify.Pin{Root: p.Root}, now)
	if err != nil {
		t.Fatal(err)
	}
	it := item(t, r, "audit.crt.pem")
	if it.Certificates[0].Role != opsimport.RoleEndEntity || !strings.Contains(it.Title, "not by the root") {
		t.Fatalf("role %v, title %q", it.Certificates[0].Role, it.Title)
	}
}
