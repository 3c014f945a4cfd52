package script

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		"generate-firmware-key", "sign-verification-cert", "issue-crl"} {
		s, err := Parse(name+".yaml", []byte(shippedScript(t, name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Name != name {
			t.Errorf("%s: name %q", name, s.Name)
		}
	}
	s, _ := Parse("f.yaml", []byte(shippedScript(t, "sign-firmware-cert")))
	st := &s.Steps[s.StepIndex("write-firmware")]
	if got := strings.Join(s.ArtifactFiles(st), " "); got != "firmware-signing.crt.pem firmware-signing.chain.pem firmware-signing.pub.pem firmware-signing.pub.der firmware-signing.pub.raw" {
		t.Errorf("firmware artifacts: %s", got)
	}
	c, _ := Parse("c.yaml", []byte(shippedScript(t, "issue-crl")))
	if got := c.ArtifactFile(&c.Steps[c.StepIndex("write-crl")]); got != "root-ca.crl.pem" {
		t.Errorf("CRL artifact: %s", got)
	}
}

func TestSigningScriptRejects(t *testing.T) {
	for _, tc := range []struct {
		script, old, new, want string
	}{
		{"sign-intermediate", "    approved_by: officer\n", "", "steps[7].approved_by: required: the role whose every member approves"},
		{"sign-intermediate", "    approved_by: officer\n", "    approved_by: auditor\n", `steps[7].approved_by: undeclared role "auditor"`},
		{"sign-intermediate", "    csr: ${csr}\n", "", "give exactly one of key"},
		{"sign-intermediate", "    csr: ${csr}\n", "    csr: ${csr}\n    throwaway_key: true\n", "give exactly one of key"},
		{"sign-intermediate", "    csr: ${csr}\n", "    csr: ${request}\n", "steps[7].csr: refers to undeclared input ${request}"},
		{"sign-intermediate", "    csr: ${csr}\n", "    csr: ${csr}\n    subject: {common_name: x}\n", "steps[7].subject: a CSR brings its own subject"},
		{"sign-intermediate", "    issuer: find-root\n", "    issuer: self\n", "steps[7].issuer: only a key generated in this ceremony can sign its own certificate"},
		{"sign-intermediate", "    issuer: find-root\n", "    issuer: inspect-request\n", "is a confirm step, not issue-certificate or restore-key or use-key"},
		{"sign-intermediate", "    formats: [certificate, chain]\n", "    formats: [certificate, crl]\n", `steps[8].formats[1]: "crl": a issue-certificate source can be written as certificate, chain, public-key`},
		{"sign-intermediate", "    formats: [certificate, chain]\n", "    formats: [chain, chain]\n", `steps[8].formats[1]: "chain" listed twice`},
		{"sign-intermediate", "    label: ${key_label}\n    certificate", "    certificate", "steps[6].label: required: the HSM label of the key to use"},
		{"sign-intermediate", "  - id: inspect-request\n", "  - id: early\n    kind: use-key\n    title: Early\n    label: x\n\n  - id: inspect-request\n", "steps[4]: use-key needs the HSM: put an hsm-login step before it"},
		{"issue-crl", "    revocations: ${revocations}\n", "", "steps[7].revocations: required"},
		{"issue-crl", "    approved_by: officer\n", "", "steps[7].approved_by: required"},
		{"issue-crl", "    issuer: find-root\n", "    issuer: welcome\n", "steps[7].issuer: step \"welcome\" is a confirm step"},
		{"generate-firmware-key", "    token: firmware-build\n    by: build-engineer\n", "    token: firmware-build\n    quorum: {role: officer}\n", "a second token is opened with its owner's PIN"},
		{"generate-firmware-key", "    label: ${firmware_key_label}\n    token: firmware-build\n", "    label: ${firmware_key_label}\n    token: other\n", `nobody logs in to token "other" before this step`},
		{"generate-firmware-key", "    token: firmware-build\n    by: build-engineer\n", "    token: Firmware_Build\n    by: build-engineer\n", `"Firmware_Build": use the lower-case name`},
	} {
		base := shippedScript(t, tc.script)
		if !strings.Contains(base, tc.old) {
			t.Fatalf("%s: case does not apply: %q", tc.script, tc.old)
		}
		_, err := Parse("s.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q -> %q: error = %v\nwant one line with %q", tc.script, tc.old, tc.new, err, tc.want)
		}
	}
}
