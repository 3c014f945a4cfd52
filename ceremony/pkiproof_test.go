package main

// Commands that prove the PKI the ceremonies build works for what it is
// for, outside the ceremony tool: a device certificate issued by a factory
// intermediate whose key stays in the factory's token authenticates to a
// TLS server that trusts only the root (and the root's CRL can shut a
// factory out), and a firmware image signed with the build system's key
// verifies against the firmware-signing certificate chained to the root.
// Everything a relying party does here is the Go standard library's own;
// only the factory and the build system use package hsm, through their
// token's crypto.Signer.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/devicepki/ceremony/ceremony/keys"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/hsm"
)

// softHSMMu serialises the stories' in-process use of SoftHSM2. SoftHSM2
// reads SOFTHSM2_CONF from the process environment when it is initialised,
// and each story has a token directory of its own, while the stories run
// in parallel in one test process. package hsm initialises the module when
// its first token opens and finalises and unloads it when the last one
// closes, so under this lock, with SOFTHSM2_CONF set to the story's, every
// use sees exactly the story's tokens.
var softHSMMu sync.Mutex

// withToken opens the token that the story's hsm.yaml names (the "demo"
// token: the factory's and the build system's token in these stories),
// logs in with the PIN in user.pin and calls f.
func withToken(ts *testscript.TestScript, f func(tok *hsm.Token)) {
	softHSMMu.Lock()
	defer softHSMMu.Unlock()
	old, had := os.LookupEnv("SOFTHSM2_CONF")
	ts.Check(os.Setenv("SOFTHSM2_CONF", ts.Getenv("SOFTHSM2_CONF")))
	defer func() {
		if had {
			_ = os.Setenv("SOFTHSM2_CONF", old)
		} else {
			_ = os.Unsetenv("SOFTHSM2_CONF")
		}
	}()
	cfg, err := hsm.LoadConfig(ts.MkAbs("hsm.yaml"))
	ts.Check(err)
	tok, err := hsm.Open(cfg)
	ts.Check(err)
	defer func() { ts.Check(tok.Close()) }()
	pinBytes, err := os.ReadFile(ts.MkAbs("user.pin"))
	ts.Check(err)
	pin := secret.New(bytes.TrimSpace(pinBytes))
	clear(pinBytes)
	err = tok.Login(pin)
	pin.Wipe()
	ts.Check(err)
	f(tok)
}

// readPEM returns the DER of the single PEM block of type typ in path.
func readPEM(ts *testscript.TestScript, path, typ string) []byte {
	data, err := os.ReadFile(ts.MkAbs(path))
	ts.Check(err)
	b, rest := pem.Decode(data)
	if b == nil || b.Type != typ {
		ts.Fatalf("%s: no PEM %s block", path, typ)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		ts.Fatalf("%s: more than one PEM block", path)
	}
	return b.Bytes
}

func readCertificate(ts *testscript.TestScript, path string) *x509.Certificate {
	c, err := x509.ParseCertificate(readPEM(ts, path, "CERTIFICATE"))
	ts.Check(err)
	return c
}

// crlPolicy is what the TLS server does with the root's CRL: the CRL must
// be the root's (its issuer, its signature), current, and no certificate
// the root issued in a verified chain may be on it.
type crlPolicy struct {
	root *x509.Certificate
	crl  *x509.RevocationList
}

// loadCRL parses and checks a CRL of root: signed by it, issued by it,
// current now.
func loadCRL(der []byte, root *x509.Certificate, now time.Time) (*crlPolicy, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("CRL: %w", err)
	}
	if !bytes.Equal(crl.RawIssuer, root.RawSubject) {
		return nil, fmt.Errorf("CRL issued by %q, not by the root %q", crl.Issuer, root.Subject)
	}
	if err := crl.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("CRL signature: %w", err)
	}
	if err := crlCurrent(crl, now); err != nil {
		return nil, err
	}
	return &crlPolicy{root: root, crl: crl}, nil
}

func crlCurrent(crl *x509.RevocationList, now time.Time) error {
	if now.Before(crl.ThisUpdate) {
		return fmt.Errorf("CRL number %v is not valid yet (this update %s)", crl.Number, crl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if crl.NextUpdate.IsZero() || now.After(crl.NextUpdate) {
		return fmt.Errorf("CRL number %v is out of date (next update %s)", crl.Number, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

// check rejects a verified chain in which a certificate the root issued
// is revoked. Certificates issued by others (the device leaf, issued by
// the factory) are not the root CRL's business.
func (p *crlPolicy) check(chains [][]*x509.Certificate, now time.Time) error {
	if err := crlCurrent(p.crl, now); err != nil {
		return err
	}
	if len(chains) == 0 {
		return errors.New("no verified chain to check against the CRL")
	}
	for _, chain := range chains {
		for k := 0; k+1 < len(chain); k++ {
			if !chain[k+1].Equal(p.root) {
				continue
			}
			for _, e := range p.crl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(chain[k].SerialNumber) == 0 {
					return fmt.Errorf("certificate %q (serial %x) is revoked by the root's CRL number %v since %s (reason code %d)",
						chain[k].Subject, chain[k].SerialNumber, p.crl.Number, e.RevocationTime.UTC().Format(time.RFC3339), e.ReasonCode)
				}
			}
		}
	}
	return nil
}

// serverIdentity makes a throwaway server CA and a server certificate for
// name, in software: the server's side of the handshake is not what is
// being proven.
func serverIdentity(name string) (tls.Certificate, *x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Throwaway test server CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, nil
}

// issueDeviceLeaf generates a device key pair in the token and has the
// intermediate key labelled caLabel, in the same token, certify it:
// not a CA, digitalSignature, clientAuth, valid for an hour.
func issueDeviceLeaf(ts *testscript.TestScript, tok *hsm.Token, inter *x509.Certificate, caLabel string) (*x509.Certificate, *hsm.KeyPair) {
	ca, err := tok.FindKeyPair(caLabel)
	ts.Check(err)
	if !keys.SamePublicKey(ca.Public(), inter.PublicKey) {
		ts.Fatalf("key %q on the token is not the key of the intermediate certificate %q", caLabel, inter.Subject)
	}
	id := make([]byte, 8)
	_, err = rand.Read(id)
	ts.Check(err)
	device, err := tok.GenerateKeyPair("device-"+hex.EncodeToString(id), keys.ECDSAP256)
	ts.Check(err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	ts.Check(err)
	serial.Add(serial, big.NewInt(1))
	now := time.Now()
	notBefore := now.Add(-time.Minute)
	if notBefore.Before(inter.NotBefore) {
		notBefore = inter.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{Country: []string{"DE"}, Organization: []string{"Example Devices GmbH"},
			CommonName: "device " + hex.EncodeToString(id)},
		NotBefore: notBefore, NotAfter: now.Add(time.Hour),
		BasicConstraintsValid: true, IsCA: false,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, device.Public(), ca)
	ts.Check(err)
	leaf, err := x509.ParseCertificate(der)
	ts.Check(err)
	ts.Check(leaf.CheckSignatureFrom(inter))
	return leaf, device
}

// handshake runs a TLS 1.3 handshake over loopback TCP between a server
// whose config is srv and a client whose config is cli, then a request
// and a reply, so that a rejection the TLS 1.3 server sends after the
// client's Finished reaches the client. It returns what each side saw.
func handshake(srv, cli *tls.Config) (reply string, serverErr, clientErr error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err, nil
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(deadline)
		conn := tls.Server(c, srv)
		if err := conn.Handshake(); err != nil {
			done <- err
			return
		}
		st := conn.ConnectionState()
		req := make([]byte, 64)
		n, err := conn.Read(req)
		if err != nil {
			done <- fmt.Errorf("read request: %w", err)
			return
		}
		chain := st.VerifiedChains[0]
		var names []string
		for _, c := range chain {
			names = append(names, strconv.Quote(c.Subject.CommonName))
		}
		_, err = fmt.Fprintf(conn, "server got %q from %s over %s, verified chain %s",
			req[:n], chain[0].Subject.CommonName, tls.VersionName(st.Version), strings.Join(names, " <- "))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close() // ends the server's Accept
		return "", <-done, err
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	conn := tls.Client(c, cli)
	clientErr = conn.Handshake()
	if clientErr == nil {
		if _, clientErr = conn.Write([]byte("hello from the device")); clientErr == nil {
			var b []byte
			b, clientErr = io.ReadAll(conn)
			reply = string(b)
			if clientErr == nil && reply == "" {
				clientErr = errors.New("the server closed the connection without a reply")
			}
		}
	}
	_ = conn.Close()
	serverErr = <-done
	return reply, serverErr, clientErr
}

// mtls ROOT.pem INTERMEDIATE.crt.pem KEY-LABEL [CRL.pem]: in the "demo"
// token (the factory's), generates a device key pair and has the factory
// intermediate key KEY-LABEL issue its certificate; the device then
// connects with mutual TLS 1.3 to a Go server whose ClientCAs hold only
// the root (RequireAndVerifyClientCert) and which, given the root's CRL,
// rejects a chain through a certificate the CRL revokes. It succeeds if
// the handshake and an exchange of data succeed, and prints what each side
// saw. The device certificate is written to KEY-LABEL.device.crt.pem.
func cmdMTLS(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 && len(args) != 4 {
		ts.Fatalf("usage: mtls ROOT.pem INTERMEDIATE.crt.pem KEY-LABEL [CRL.pem]")
	}
	root := readCertificate(ts, args[0])
	inter := readCertificate(ts, args[1])
	label := args[2]
	now := time.Now()
	var policy *crlPolicy
	if len(args) == 4 {
		var err error
		policy, err = loadCRL(readPEM(ts, args[3], "X509 CRL"), root, now)
		ts.Check(err) // a CRL the server cannot use is the story's mistake, not a rejection
	}
	srvCert, srvRoots, err := serverIdentity("devices.example.test")
	ts.Check(err)
	roots := x509.NewCertPool()
	roots.AddCert(root) // the root alone: the intermediate comes from the client
	srv := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
	}
	if policy != nil {
		srv.VerifyConnection = func(cs tls.ConnectionState) error {
			return policy.check(cs.VerifiedChains, time.Now())
		}
	}
	var serverErr, clientErr error
	var reply string
	withToken(ts, func(tok *hsm.Token) {
		leaf, device := issueDeviceLeaf(ts, tok, inter, label)
		ts.Check(os.WriteFile(ts.MkAbs(label+".device.crt.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o644))
		fmt.Fprintf(ts.Stdout(), "device certificate %q serial %x issued by %q with key %q in token %q (device key %q in the token)\n",
			leaf.Subject, leaf.SerialNumber, leaf.Issuer, label, tok.Info().Label, device.Label)
		cli := &tls.Config{
			MinVersion: tls.VersionTLS13,
			ServerName: "devices.example.test",
			RootCAs:    srvRoots,
			Certificates: []tls.Certificate{{
				Certificate: [][]byte{leaf.Raw, inter.Raw},
				PrivateKey:  device,
				Leaf:        leaf,
			}},
		}
		reply, serverErr, clientErr = handshake(srv, cli)
	})
	crlNote := "without a CRL"
	if policy != nil {
		crlNote = fmt.Sprintf("checking the root's CRL number %v", policy.crl.Number)
	}
	ok := serverErr == nil && clientErr == nil
	if ok {
		fmt.Fprintf(ts.Stdout(), "mutual TLS handshake OK (server trusts only %q, %s)\n", root.Subject.CommonName, crlNote)
		fmt.Fprintf(ts.Stdout(), "%s\n", reply)
	} else {
		fmt.Fprintf(ts.Stdout(), "mutual TLS handshake FAILED (server trusts only %q, %s)\n", root.Subject.CommonName, crlNote)
		if serverErr != nil {
			fmt.Fprintf(ts.Stderr(), "server: %v\n", serverErr)
		}
		if clientErr != nil {
			fmt.Fprintf(ts.Stderr(), "client: %v\n", clientErr)
		}
	}
	if ok == neg {
		ts.Fatalf("mtls: handshake ok: %t (server: %v; client: %v)", ok, serverErr, clientErr)
	}
}

// fwsign KEY-LABEL IMAGE SIG: the build system signs the firmware image
// IMAGE with its key KEY-LABEL in the "demo" token (ECDSA over SHA-256)
// and writes the ASN.1 DER signature to SIG.
func cmdFWSign(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: fwsign KEY-LABEL IMAGE SIG")
	}
	image, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	digest := sha256.Sum256(image)
	withToken(ts, func(tok *hsm.Token) {
		kp, err := tok.FindKeyPair(args[0])
		ts.Check(err)
		if kp.Algorithm != keys.ECDSAP256 {
			ts.Fatalf("key %q is %s, not ECDSA P-256", args[0], kp.Algorithm)
		}
		sig, err := kp.Sign(rand.Reader, digest[:], crypto.SHA256)
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), sig, 0o644))
		fmt.Fprintf(ts.Stdout(), "signed %s (%d bytes, SHA-256 %x) with key %q in token %q\n", args[1], len(image), digest, args[0], tok.Info().Label)
	})
}

// fwverify CERT.pem ROOT.pem IMAGE SIG [RAW]: what a device does before
// it installs an image, with nothing but the standard library: the
// firmware-signing certificate CERT must chain to ROOT for code signing
// (not a CA, digitalSignature) and SIG must be its key's ECDSA P-256
// SHA-256 signature of IMAGE. With RAW, the raw public key artifact (the
// 65-byte uncompressed point a bootloader compiles in) must be that very
// key, and the signature must verify with it too. It succeeds iff every
// check passes, and says which one failed.
func cmdFWVerify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 && len(args) != 5 {
		ts.Fatalf("usage: fwverify CERT.pem ROOT.pem IMAGE SIG [RAW]")
	}
	cert := readCertificate(ts, args[0])
	root := readCertificate(ts, args[1])
	image, err := os.ReadFile(ts.MkAbs(args[2]))
	ts.Check(err)
	sig, err := os.ReadFile(ts.MkAbs(args[3]))
	ts.Check(err)
	var raw []byte
	if len(args) == 5 {
		raw, err = os.ReadFile(ts.MkAbs(args[4]))
		ts.Check(err)
	}
	err = verifyFirmware(cert, root, image, sig, raw)
	if err == nil {
		digest := sha256.Sum256(image)
		fmt.Fprintf(ts.Stdout(), "firmware %s (SHA-256 %x) verified: signed by %q, which chains to %q for code signing\n",
			args[2], digest, cert.Subject.CommonName, root.Subject.CommonName)
	} else {
		fmt.Fprintf(ts.Stderr(), "firmware %s rejected: %v\n", args[2], err)
	}
	if (err == nil) == neg {
		ts.Fatalf("fwverify: %v", err)
	}
}

func verifyFirmware(cert, root *x509.Certificate, image, sig, raw []byte) error {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		return fmt.Errorf("certificate %q: %w", cert.Subject, err)
	}
	switch {
	case cert.IsCA:
		return fmt.Errorf("certificate %q is a CA certificate", cert.Subject)
	case cert.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return fmt.Errorf("certificate %q lacks the digitalSignature key usage", cert.Subject)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("certificate %q does not hold an ECDSA P-256 key", cert.Subject)
	}
	digest := sha256.Sum256(image)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return fmt.Errorf("signature does not verify with the key of %q", cert.Subject)
	}
	if raw == nil {
		return nil
	}
	rawPub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return fmt.Errorf("raw public key (%d bytes): %w", len(raw), err)
	}
	if !rawPub.Equal(pub) {
		return fmt.Errorf("raw public key is not the key of %q", cert.Subject)
	}
	if !ecdsa.VerifyASN1(rawPub, digest[:], sig) {
		return errors.New("signature does not verify with the raw public key")
	}
	return nil
}

// flipbyte FILE N: flips the low bit of byte N of FILE (0-based; a
// negative N counts from the end, -1 is the last byte).
// cmdPEMFlip flips one bit of byte N of a PEM file's body (its decoded
// bytes), keeping its headers: a damaged ciphertext in a well-formed file.
func cmdPEMFlip(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: pemflip FILE N")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	block, _ := pem.Decode(data)
	if block == nil {
		ts.Fatalf("%s holds no PEM block", args[0])
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n < 0 || n >= len(block.Bytes) {
		ts.Fatalf("%s's body has %d bytes", args[0], len(block.Bytes))
	}
	block.Bytes[n] ^= 0x01
	ts.Check(os.WriteFile(path, pem.EncodeToMemory(block), 0o644))
}

func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: flipbyte FILE N")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n < 0 {
		n += len(data)
	}
	if n < 0 || n >= len(data) {
		ts.Fatalf("%s has %d bytes", args[0], len(data))
	}
	data[n] ^= 0x01
	ts.Check(os.WriteFile(path, data, 0o644))
}
