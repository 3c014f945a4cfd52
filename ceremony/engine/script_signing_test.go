package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/script"
)

func shippedScript(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "scripts", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestShippedSigningScripts(t *testing.T) {
	for _, name := range []string{"sign-intermediate", "sign-server-intermediate", "sign-firmware-cert",
		"generate-firmware-key", "sign-verification-cert", "sign-verification-cert-intermediate", "issue-crl"} {
		s, err := ParseScript(name+".yaml", []byte(shippedScript(t, name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Name != name {
			t.Errorf("%s: name %q", name, s.Name)
		}
	}
	s, _ := ParseScript("f.yaml", []byte(shippedScript(t, "sign-firmware-cert")))
	st := &s.Steps[s.StepIndex("write-firmware")]
	if got := strings.Join(artifactFiles(s, st), " "); got != "firmware-signing.crt.pem firmware-signing.chain.pem firmware-signing.pub.pem firmware-signing.pub.der firmware-signing.pub.raw" {
		t.Errorf("firmware artifacts: %s", got)
	}
	c, _ := ParseScript("c.yaml", []byte(shippedScript(t, "issue-crl")))
	if got := artifactFiles(c, &c.Steps[c.StepIndex("write-crl")])[0]; got != "root-ca.crl.pem" {
		t.Errorf("CRL artifact: %s", got)
	}
}

func TestSigningScriptRejects(t *testing.T) {
	for _, tc := range []struct {
		script, old, new, want string
	}{
		{"sign-intermediate", "    approved_by: officer\n", "", "steps[8].approved_by: required: the role whose every member approves"},
		{"sign-intermediate", "    approved_by: officer\n", "    approved_by: auditor\n", `steps[8].approved_by: undeclared role "auditor"`},
		{"sign-intermediate", "    csr: ${csr}\n", "", "give exactly one of key"},
		{"sign-intermediate", "    csr: ${csr}\n", "    csr: ${csr}\n    throwaway_key: true\n", "steps[8].csr: input csr must have default: none: with throwaway_key: true the certificate is for a throwaway key unless a CSR is given"},
		{"sign-intermediate", "    csr: ${csr}\n", "    csr: ${request}\n", "steps[8].csr: refers to undeclared input ${request}"},
		{"sign-intermediate", "    csr: ${csr}\n", "    csr: ${csr}\n    subject: {common_name: x}\n", "steps[8].subject: a CSR brings its own subject"},
		{"sign-intermediate", "    issuer: find-root\n", "    issuer: self\n", "steps[8].issuer: only a key generated in this ceremony can sign its own certificate"},
		{"sign-intermediate", "    issuer: find-root\n", "    issuer: inspect-request\n", "is a confirm step, not issue-certificate or restore-key or use-key"},
		{"sign-intermediate", "    formats: [certificate, chain]\n", "    formats: [certificate, crl]\n", `steps[9].formats[1]: "crl": a issue-certificate source can be written as certificate, chain, public-key`},
		{"sign-intermediate", "    formats: [certificate, chain]\n", "    formats: [chain, chain]\n", `steps[9].formats[1]: "chain" listed twice`},
		{"sign-intermediate", "    label: ${key_label}\n    certificate", "    certificate", "steps[7].label: required: the HSM label of the key to use"},
		{"sign-intermediate", "  - id: inspect-request\n", "  - id: early\n    kind: use-key\n    title: Early\n    label: x\n\n  - id: inspect-request\n", "steps[5]: use-key needs the HSM: put an hsm-login step before it"},
		{"issue-crl", "    revocations: ${revocations}\n", "", "steps[8].revocations: required"},
		{"issue-crl", "    approved_by: officer\n", "", "steps[8].approved_by: required"},
		{"issue-crl", "    issuer: find-root\n", "    issuer: welcome\n", "steps[8].issuer: step \"welcome\" is a confirm step"},
		{"generate-firmware-key", "    token: firmware-build\n    by: build-engineer\n", "    token: firmware-build\n    quorum: {role: officer}\n", "a second token is opened with its owner's PIN"},
		{"generate-firmware-key", "    label: ${firmware_key_label}\n    token: firmware-build\n", "    label: ${firmware_key_label}\n    token: other\n", `nobody logs in to token "other" before this step`},
		{"generate-firmware-key", "    token: firmware-build\n    by: build-engineer\n", "    token: Firmware_Build\n    by: build-engineer\n", `"Firmware_Build": use the lower-case name`},
	} {
		base := shippedScript(t, tc.script)
		if !strings.Contains(base, tc.old) {
			t.Fatalf("%s: case does not apply: %q", tc.script, tc.old)
		}
		_, err := ParseScript("s.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q -> %q: error = %v\nwant one line with %q", tc.script, tc.old, tc.new, err, tc.want)
		}
	}
}

// The verification scripts certify a CSR's key when the csr input names a
// file and a throwaway key when it is none (its default); the
// intermediate's variant finds the intermediate CA's key on a second
// token, checked against its certificate and chained to the root.
func TestVerificationScripts(t *testing.T) {
	for _, name := range []string{"sign-verification-cert", "sign-verification-cert-intermediate"} {
		s, err := ParseScript(name+".yaml", []byte(shippedScript(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		st := &s.Steps[s.StepIndex("sign-verification")]
		if in, ok := csrInputOf(st); !ok || in != "csr" {
			t.Errorf("%s: CSRInput() = %q, %t", name, in, ok)
		}
		given := map[string]string{"place": "p", "root_certificate": "r.pem", "code": "0a0b", "hsm_bag_in": "TEB-1"}
		if name == "sign-verification-cert-intermediate" {
			given["ca_key_label"], given["ca_certificate"] = "factory-a-ca", "i.pem"
		}
		got, err := s.ResolveInputs(given)
		if err != nil || got["csr"] != NoCSR {
			t.Errorf("%s: without csr: %v, %v", name, got["csr"], err)
		}
		given["csr"] = "v.csr.pem"
		if got, err := s.ResolveInputs(given); err != nil || got["csr"] != "v.csr.pem" {
			t.Errorf("%s: --input csr=FILE: %v, %v", name, got["csr"], err)
		}
	}
	s, _ := ParseScript("s.yaml", []byte(shippedScript(t, "sign-verification-cert-intermediate")))
	st := s.Steps[s.StepIndex("find-ca-key")].Spec.(*useKeyStep)
	if st.Token != "intermediate-ca" || st.Issuer != "find-root" || st.Certificate != "${ca_certificate}" {
		t.Errorf("find-ca-key: token %q issuer %q certificate %q", st.Token, st.Issuer, st.Certificate)
	}
	if _, ok := csrInputOf(&s.Steps[s.StepIndex("find-ca-key")]); ok {
		t.Error("CSRInput on a use-key step")
	}
	i, _ := ParseScript("i.yaml", []byte(shippedScript(t, "sign-intermediate")))
	if _, ok := csrInputOf(&i.Steps[i.StepIndex("sign-intermediate")]); ok {
		t.Error("CSRInput on a step with csr alone")
	}
	w := &s.Steps[s.StepIndex("write-verification")]
	if got := strings.Join(artifactFiles(s, w), " "); got != "verification.crt.pem verification.chain.pem" {
		t.Errorf("artifacts: %s", got)
	}
}

// Each way to get the csr-or-throwaway form or a use-key on a second
// token wrong is one line naming the field.
func TestVerificationScriptRejects(t *testing.T) {
	openCAToken := shippedScript(t, "sign-verification-cert-intermediate")
	openCAToken = openCAToken[strings.Index(openCAToken, "  - id: open-ca-token\n"):strings.Index(openCAToken, "  - id: find-ca-key\n")]
	const other = "  - id: find-other\n    kind: use-key\n    title: Other\n    label: x\n    token: intermediate-ca\n    certificate: c.pem\n    issuer: find-ca-key\n\n  - id: sign-verification\n"
	for _, tc := range []struct {
		script, old, new, want string
	}{
		{"sign-verification-cert", "    csr: ${csr}\n", "    csr: ${csr}.pem\n",
			`steps[8].csr: "${csr}.pem": with throwaway_key: true, csr is one input reference alone, such as ${csr}, whose default is none`},
		{"sign-verification-cert", "    csr: ${csr}\n", "    csr: none\n", `steps[8].csr: "none": with throwaway_key: true, csr is one input reference alone`},
		{"sign-verification-cert", "    csr: ${csr}\n", "    csr: ${code}\n", "steps[8].csr: input code must have default: none"},
		{"sign-verification-cert", "    default: none\n", "", "steps[8].csr: input csr must have default: none"},
		{"sign-verification-cert", "    default: none\n", "    default: verification.csr.pem\n", "steps[8].csr: input csr must have default: none"},
		{"sign-verification-cert", "    csr: ${csr}\n    throwaway_key: true\n", "    csr: ${csr}\n", "steps[8].subject: a CSR brings its own subject"},
		{"sign-verification-cert", "    csr: ${csr}\n", "    csr: ${csr}\n    key: find-root\n", "give exactly one of key"},
		{"sign-verification-cert", "    csr: ${csr}\n", "    csr: ${request}\n", "steps[8].csr: refers to undeclared input ${request}"},
		{"sign-verification-cert-intermediate", "    label: ${key_label}\n    certificate: ${root_certificate}\n",
			"    label: ${key_label}\n    certificate: ${root_certificate}\n    token: intermediate-ca\n",
			`steps[7].token: nobody logs in to token "intermediate-ca" before this step: put an hsm-login step with token: intermediate-ca before it`},
		{"sign-verification-cert-intermediate", openCAToken, "",
			`steps[8].token: nobody logs in to token "intermediate-ca" before this step`},
		{"sign-verification-cert-intermediate", "    token: intermediate-ca\n    certificate: ${ca_certificate}\n", "    token: other-ca\n    certificate: ${ca_certificate}\n",
			`steps[9].token: nobody logs in to token "other-ca" before this step`},
		{"sign-verification-cert-intermediate", "    certificate: ${ca_certificate}\n", "",
			`steps[9].certificate: required with token: the certificate of the key on token "intermediate-ca", as a file (a token made by ceremony csr holds none)`},
		{"sign-verification-cert-intermediate", "    issuer: find-root\n", "",
			"steps[9].issuer: required with token: the id of the earlier use-key step that finds the root on the ceremony's main token"},
		{"sign-verification-cert-intermediate", "    issuer: find-root\n", "    issuer: activate-hsm\n",
			`steps[9].issuer: step "activate-hsm" is a hsm-login step, not use-key`},
		{"sign-verification-cert-intermediate", "    issuer: find-root\n", "    issuer: sign-verification\n",
			`steps[9].issuer: step "sign-verification" comes later`},
		{"sign-verification-cert-intermediate", "  - id: sign-verification\n", other,
			`steps[10].issuer: step "find-ca-key" finds a key on token "intermediate-ca": the issuer is found on the ceremony's main token (the root)`},
		{"sign-verification-cert", "    label: ${key_label}\n    certificate: ${root_certificate}\n",
			"    label: ${key_label}\n    certificate: ${root_certificate}\n    issuer: welcome\n", "steps[7].issuer: goes with token: a key on the ceremony's main token is found with the certificate stored beside it"},
		{"sign-verification-cert", "    label: ${key_label}\n    certificate: ${root_certificate}\n",
			"    label: ${key_label}\n    certificate: ${root_certificate}\n    token: Bad_Name\n", `steps[7].token: nobody logs in to token "Bad_Name"`},
	} {
		base := shippedScript(t, tc.script)
		if !strings.Contains(base, tc.old) {
			t.Fatalf("%s: case does not apply: %q", tc.script, tc.old)
		}
		_, err := ParseScript("s.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q -> %q: error = %v\nwant one line with %q", tc.script, tc.old, tc.new, err, tc.want)
		}
	}
}

// artifactFiles returns the files a write-artifact or backup-key step
// writes under artifacts/.
func artifactFiles(s *script.Script, st *script.Step) []string {
	switch k := st.Spec.(type) {
	case *writeArtifactStep:
		return k.files(s)
	case *backupKeyStep:
		return []string{k.file()}
	}
	return nil
}

// csrInputOf returns the input an issue-certificate step with both csr
// and throwaway_key takes its CSR from, and false for any other step.
func csrInputOf(st *script.Step) (string, bool) {
	if ic, ok := st.Spec.(*issueCertificateStep); ok {
		return ic.csrInput()
	}
	return "", false
}
