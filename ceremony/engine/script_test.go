package engine

import (
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/script"
)

const base = `version: 1
name: t
title: Test
roles:
  - name: administrator
    description: operates
    min: 1
    max: 1
  - name: witness
    description: watches
    min: 1
inputs:
  - name: place
    description: where
  - name: key_label
    description: label
    default: root-ca
steps:
  - id: attendance
    kind: attendance
    title: Attendance
  - id: welcome
    kind: confirm
    title: Welcome
    say: Welcome to ${place}.
    confirm: [administrator, witness]
  - id: preflight
    kind: preflight
    title: Preflight
  - id: clock
    kind: choose
    title: Clock
    say: Is the clock right?
    by: witness
    options:
      - value: yes-right
        text: right
      - value: wrong
        text: wrong
        abort: true
  - id: login
    kind: hsm-login
    title: Login
    by: administrator
  - id: gen
    kind: generate-key
    title: Generate
    template: root-ca
    label: ${key_label}
  - id: cert
    kind: issue-certificate
    title: Certificate
    template: root-ca
    key: gen
    issuer: self
    approved_by: witness
  - id: write-cert
    kind: write-artifact
    title: Write cert
    source: cert
    name: root-ca
  - id: write-key
    kind: write-artifact
    title: Write key
    source: gen
    name: root-ca
  - id: seal
    kind: seal
    title: Seal
    label: audit
`

func TestShippedScript(t *testing.T) {
	s, err := LoadScript("../../scripts/root-key-generation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "root-key-generation" || len(s.SHA256) != 64 || s.Steps[0].Kind != script.KindAttendance {
		t.Fatalf("script %+v", s)
	}
	vals, err := s.ResolveInputs(map[string]string{"place": "Room 4"})
	if err != nil {
		t.Fatal(err)
	}
	if vals["key_label"] != "root-ca" {
		t.Fatalf("inputs %v", vals)
	}
	i := s.StepIndex("generate-root-key")
	if script.Expand(s.Steps[i].Spec.(*generateKeyStep).Label, vals) != "root-ca" {
		t.Fatal("label not expanded")
	}
	if got := artifactFiles(s, &s.Steps[s.StepIndex("write-root-public-key")])[0]; got != "root-ca.pub.pem" {
		t.Fatalf("public key artifact %q", got)
	}
	if got := artifactFiles(s, &s.Steps[s.StepIndex("write-root-certificate")])[0]; got != "root-ca.crt.pem" {
		t.Fatalf("certificate artifact %q", got)
	}
}

// The shipped scripts split and restore as the issue asks: 3-of-5 officers
// and custodians, a backup handed out, a restore that needs no threshold
// of its own.
func TestShippedQuorumScripts(t *testing.T) {
	root, err := LoadScript("../../scripts/root-key-generation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]*script.Quorum{
		"initialise-hsm":   {Role: "officer", Threshold: 3, Shares: 5},
		"back-up-root-key": {Role: "custodian", Threshold: 3, Shares: 5},
	} {
		i := root.StepIndex(id)
		if i < 0 || quorumOf(&root.Steps[i]) == nil || *quorumOf(&root.Steps[i]) != *want {
			t.Fatalf("step %s: %+v", id, root.Steps[max(i, 0)])
		}
	}
	if got := artifactFiles(root, &root.Steps[root.StepIndex("back-up-root-key")])[0]; got != "root-ca.backup" {
		t.Fatalf("backup artifact %q", got)
	}
	restore, err := LoadScript("../../scripts/restore-backup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := restore.Steps[restore.StepIndex("rebuild-backup-key")]
	if st.Kind != KindRebuildBackupKey || quorumOf(&st).Role != "custodian" || quorumOf(&st).Threshold != 0 {
		t.Fatalf("rebuild step %+v", st)
	}
	// The custodians' shares are checked before the new token is touched.
	if rb, init := restore.StepIndex("rebuild-backup-key"), restore.KindAt(KindInitToken); rb < 0 || init < 0 || rb > init {
		t.Fatalf("rebuild-backup-key at steps[%d], init-token at steps[%d]", rb, init)
	}
	if st := restore.Steps[restore.StepIndex("restore-root-key")]; st.Kind != KindRestoreKey || st.Spec.(*restoreKeyStep).Source != "rebuild-backup-key" {
		t.Fatalf("restore step %+v", st)
	}
	if _, err := restore.ResolveInputs(map[string]string{"place": "x"}); err == nil {
		t.Fatal("the restore script ran without a backup file")
	}
}

func TestBaseIsValid(t *testing.T) {
	if _, err := ParseScript("s.yaml", []byte(base)); err != nil {
		t.Fatal(err)
	}
}

func TestScriptRejects(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown top-level field", "title: Test\n", "title: Test\nauthor: me\n", `s.yaml:4:1: unknown field "author"`},
		{"unknown step field", "    title: Preflight\n", "    title: Preflight\n    timeout: 5\n", `s.yaml:30:5: unknown field "timeout"`},
		{"unknown kind", "kind: preflight", "kind: reboot", `s.yaml:28: steps[2].kind: unknown step kind "reboot"`},
		{"missing kind", "    kind: preflight\n", "", "steps[2].kind: required"},
		{"duplicate id", "id: clock", "id: welcome", `s.yaml:30: steps[3].id: duplicate step id "welcome" (first used by steps[1])`},
		{"undeclared role in confirm", "confirm: [administrator, witness]", "confirm: [administrator, auditor]", `steps[1].confirm[1]: undeclared role "auditor" (roles: administrator, witness)`},
		{"undeclared role in by", "by: witness", "by: officer", `steps[3].by: undeclared role "officer"`},
		{"role twice in confirm", "confirm: [administrator, witness]", "confirm: [witness, witness]", `role "witness" listed twice`},
		{"field of another kind", "    title: Login\n", "    title: Login\n    template: root-ca\n", "s.yaml:44: steps[4].template: not used by a hsm-login step"},
		{"label on confirm", "    confirm: [administrator, witness]\n", "    confirm: [administrator, witness]\n    label: x\n", "steps[1].label: not used by a confirm step"},
		{"undeclared input", "Welcome to ${place}.", "Welcome to ${site}.", "steps[1].say: refers to undeclared input ${site}"},
		{"template path", "    template: root-ca\n    label", "    template: ../../etc/passwd\n    label", `steps[5].template: "../../etc/passwd": give the template's name`},
		{"missing template", "    template: root-ca\n    label", "    label", "steps[5].template: required"},
		{"key references later step", "key: gen", "key: write-key", `steps[6].key: step "write-key" comes later`},
		{"key references wrong kind", "key: gen", "key: clock", `steps[6].key: step "clock" is a choose step, not generate-key`},
		{"key references nothing", "key: gen", "key: nope", `steps[6].key: no step with id "nope"`},
		{"issuer nothing", "issuer: self", "issuer: root", `steps[6].issuer: no step with id "root"`},
		{"issuer missing", "    issuer: self\n", "", `steps[6].issuer: required: "self", or the id of the earlier step whose key signs`},
		{"issuer not a certificate", "issuer: self", "issuer: gen", `steps[6].issuer: step "gen" is a generate-key step, not issue-certificate`},
		{"issuer itself", "issuer: self", "issuer: cert", `steps[6].issuer: step "cert" comes later`},
		{"issuer certifies the same key", "  - id: write-key\n", "  - id: again\n    kind: issue-certificate\n    title: Again\n    template: root-ca\n    key: gen\n    issuer: cert\n  - id: write-key\n", `steps[8].issuer: step "cert" certifies the same key`},
		{"no seal", "  - id: seal\n    kind: seal\n    title: Seal\n    label: audit\n", "", "steps[8]: the last step must be a seal step"},
		{"seal not last", "  - id: write-key\n", "  - id: early-seal\n    kind: seal\n    title: Seal\n    label: audit\n  - id: write-key\n", "steps[9].kind: a write-artifact step after the seal (steps[8]): nothing may be recorded after it; only export-qr may follow"},
		{"export-qr before the seal", "  - id: seal\n", "  - id: out\n    kind: export-qr\n    title: Out\n  - id: seal\n", "steps[9].kind: export-qr exports the sealed transcript: put it after the seal step"},
		{"two export-qr steps", "    label: audit\n", "    label: audit\n  - id: out\n    kind: export-qr\n    title: Out\n  - id: out2\n    kind: export-qr\n    title: Out again\n", "steps[11].kind: only one export-qr step (steps[10] is one)"},
		{"two seals", "    label: audit\n", "    label: audit\n  - id: seal2\n    kind: seal\n    title: Seal again\n    label: audit\n", "steps[10].kind: a seal step after the seal (steps[9])"},
		{"export-qr bad ecc", "    label: audit\n", "    label: audit\n  - id: out\n    kind: export-qr\n    title: Out\n    ecc: X\n", "steps[10].ecc: "},
		{"export-qr frame too large for H", "    label: audit\n", "    label: audit\n  - id: out\n    kind: export-qr\n    title: Out\n    ecc: H\n    frame_bytes: 1600\n", "steps[10].frame_bytes: frame size 1600 bytes: choose 16 to "},
		{"export-qr frame too small", "    label: audit\n", "    label: audit\n  - id: out\n    kind: export-qr\n    title: Out\n    frame_bytes: 8\n", "steps[10].frame_bytes: frame size 8 bytes"},
		{"export-qr with a label", "    label: audit\n", "    label: audit\n  - id: out\n    kind: export-qr\n    title: Out\n    label: x\n", "steps[10].label: not used by a export-qr step"},
		{"seal without label", "    label: audit\n", "", "steps[9].label: required: the HSM label of the transcript-signing (audit) key"},
		{"network override by unknown role", "    title: Preflight\n", "    title: Preflight\n    network_override_by: ops\n", `steps[2].network_override_by: undeclared role "ops"`},
		{"network override on confirm", "    confirm: [administrator, witness]\n", "    confirm: [administrator, witness]\n    network_override_by: witness\n", "steps[1].network_override_by: not used by a confirm step"},
		{"source missing", "source: cert", "source: ghost", `steps[7].source: no step with id "ghost"`},
		{"same artifact twice", "    source: gen\n    name: root-ca", "    source: cert\n    name: root-ca", "steps[8].name: artifact root-ca.crt.pem is already written by steps[7]"},
		{"confirm before attendance", "  - id: attendance\n    kind: attendance\n    title: Attendance\n", "", "steps[0]: a confirm step needs people: put the attendance step before it"},
		{"login before preflight", "  - id: preflight\n    kind: preflight\n    title: Preflight\n", "", "hsm-login must come after the preflight step"},
		{"generate without login", "  - id: login\n    kind: hsm-login\n    title: Login\n    by: administrator\n", "", "generate-key needs the HSM: put an hsm-login or init-token step before it"},
		{"two attendance steps", "    kind: preflight\n", "    kind: attendance\n", "only one attendance step"},
		{"confirm without roles", "    confirm: [administrator, witness]\n", "", "steps[1].confirm: list the roles"},
		{"confirm without text", "    say: Welcome to ${place}.\n", "", "steps[1].say: required"},
		{"no title", "    title: Preflight\n", "", "steps[2].title: required"},
		{"one option", "      - value: wrong\n        text: wrong\n        abort: true\n", "", "steps[3].options: give at least two options"},
		{"all options abort", "        text: right\n", "        text: right\n        abort: true\n", "every option aborts"},
		{"wrong version", "version: 1", "version: 2", "s.yaml:1: version: must be 1"},
		{"bad name", "name: t", "name: Root Key", `name: "Root Key"`},
		{"role min 0", "    min: 1\n    max: 1", "    min: 0\n    max: 1", "roles[0].min: must be at least 1"},
		{"role max below min", "    min: 1\n    max: 1", "    min: 2\n    max: 1", "roles[0].max: 1 is less than min 2"},
		{"duplicate role", "  - name: witness", "  - name: administrator", `roles[1].name: role "administrator" declared twice`},
		{"duplicate input", "  - name: key_label", "  - name: place", `inputs[1].name: input "place" declared twice`},
		{"input without description", "    description: where\n", "", "inputs[0].description: required"},
		{"bad step id", "id: write-key", "id: Write_Key", `"Write_Key": use lower-case`},
		{"duplicate yaml key", "    title: Preflight\n", "    title: Preflight\n    title: Again\n", `mapping key "title" already defined`},
		{"wrong type", "    min: 1\n    max: 1", "    min: one\n    max: 1", "expected an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("case does not apply: %q not in base", tc.old)
			}
			_, err := ParseScript("s.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("script accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestResolveInputs(t *testing.T) {
	s, err := ParseScript("s.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		given map[string]string
		want  string
	}{
		{map[string]string{}, "input place is required (where): pass --input place=VALUE"},
		{map[string]string{"place": "x", "colour": "red"}, "--input colour: script t has no such input (it takes: place, key_label)"},
		{map[string]string{"place": " "}, "--input place: empty value"},
		{map[string]string{"place": "a\nb"}, "--input place: contains a control character or line break"},
	} {
		if _, err := s.ResolveInputs(tc.given); err == nil || err.Error() != tc.want {
			t.Errorf("ResolveInputs(%v) = %v, want %q", tc.given, err, tc.want)
		}
	}
	vals, err := s.ResolveInputs(map[string]string{"place": "Room 4", "key_label": "root-2026"})
	if err != nil || vals["key_label"] != "root-2026" || script.Expand("at ${place}: ${key_label}", vals) != "at Room 4: root-2026" {
		t.Fatalf("%v %v", vals, err)
	}
	for _, bad := range []string{"noequals", "=v", "Upper=v", "a b=v"} {
		if _, _, err := script.ParseInputFlag(bad); err == nil {
			t.Errorf("script.ParseInputFlag(%q) accepted", bad)
		}
	}
	if n, v, err := script.ParseInputFlag("place=Room=4"); err != nil || n != "place" || v != "Room=4" {
		t.Fatalf("ParseInputFlag: %q %q %v", n, v, err)
	}
}

// quorumBase initialises the token with officers' shares and backs the key
// up to custodians.
const quorumBase = `version: 1
name: q
title: Quorum
roles:
  - name: administrator
    description: operates
    min: 1
    max: 1
  - name: officer
    description: activates the HSM
    min: 3
    max: 3
  - name: custodian
    description: holds backup shares
    min: 3
    max: 3
steps:
  - id: attendance
    kind: attendance
    title: Attendance
  - id: preflight
    kind: preflight
    title: Preflight
  - id: init
    kind: init-token
    title: Initialise
    quorum: {role: officer, threshold: 2, shares: 3}
  - id: give-officers
    kind: hand-out-shares
    title: Officers' shares
    split: init
  - id: gen
    kind: generate-key
    title: Generate
    template: root-ca
    label: root-ca
  - id: backup
    kind: backup-key
    title: Backup
    key: gen
    name: root-ca
    quorum: {role: custodian, threshold: 2, shares: 3}
  - id: give-custodians
    kind: hand-out-shares
    title: Custodians' shares
    split: backup
  - id: seal
    kind: seal
    title: Seal
    label: audit
`

// restoreBase rebuilds a backup key from custodians' shares before it
// initialises a blank token, then restores the key into it.
const restoreBase = `version: 1
name: r
title: Restore
roles:
  - name: administrator
    description: operates
    min: 1
    max: 1
  - name: officer
    description: activates the HSM
    min: 3
    max: 3
  - name: custodian
    description: holds backup shares
    min: 3
    max: 3
inputs:
  - name: backup
    description: backup file
    default: root-ca.backup
steps:
  - id: attendance
    kind: attendance
    title: Attendance
  - id: preflight
    kind: preflight
    title: Preflight
  - id: rebuild
    kind: rebuild-backup-key
    title: Rebuild the backup key
    backup: ${backup}
    certificate: root.pem
    quorum: {role: custodian}
  - id: init
    kind: init-token
    title: Initialise
    quorum: {role: officer, threshold: 2, shares: 3}
  - id: give-officers
    kind: hand-out-shares
    title: Officers' shares
    split: init
  - id: restore
    kind: restore-key
    title: Restore
    source: rebuild
    label: restored
  - id: seal
    kind: seal
    title: Seal
    label: audit
`

func TestRestoreBaseIsValid(t *testing.T) {
	if _, err := ParseScript("r.yaml", []byte(restoreBase)); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreScriptRejects(t *testing.T) {
	rebuild := "  - id: rebuild\n    kind: rebuild-backup-key\n    title: Rebuild the backup key\n    backup: ${backup}\n    certificate: root.pem\n    quorum: {role: custodian}\n"
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"threshold on a rebuild", "quorum: {role: custodian}", "quorum: {role: custodian, threshold: 2}", "steps[2].quorum: give only the role"},
		{"rebuild without backup", "    backup: ${backup}\n", "", "steps[2].backup: required"},
		{"rebuild without certificate", "    certificate: root.pem\n", "", "steps[2].certificate: required"},
		{"rebuild without quorum", "    quorum: {role: custodian}\n", "", "steps[2].quorum: required"},
		{"rebuild undeclared input", "certificate: root.pem", "certificate: ${root}", "steps[2].certificate: refers to undeclared input ${root}"},
		{"rebuild before attendance", "  - id: attendance\n    kind: attendance\n    title: Attendance\n", "", "needs people: put the attendance step before it"},
		{"rebuild after init-token", rebuild + "  - id: init\n    kind: init-token\n    title: Initialise\n    quorum: {role: officer, threshold: 2, shares: 3}\n",
			"  - id: init\n    kind: init-token\n    title: Initialise\n    quorum: {role: officer, threshold: 2, shares: 3}\n" + rebuild,
			"steps[3]: rebuild-backup-key must come before the init-token step (steps[2]), so that a wrong backup key is refused before the token is initialised"},
		{"restore without source", "    source: rebuild\n", "", "steps[5].source: required: the id of an earlier rebuild-backup-key step"},
		{"restore of a non-rebuild", "    source: rebuild\n", "    source: init\n", `steps[5].source: step "init" is an init-token step, not rebuild-backup-key`},
		{"restore without label", "    label: restored\n", "", "steps[5].label: required"},
		{"restore with its own backup", "    source: rebuild\n", "    source: rebuild\n    backup: ${backup}\n", "steps[5].backup: not used by a restore-key step"},
		{"restore with its own quorum", "    source: rebuild\n", "    source: rebuild\n    quorum: {role: custodian}\n", "steps[5].quorum: not used by a restore-key step"},
		{"restore twice", "  - id: seal\n", "  - id: restore2\n    kind: restore-key\n    title: Again\n    source: rebuild\n    label: again\n  - id: seal\n",
			`steps[6].source: the backup key of step "rebuild" is already used by steps[5]`},
		{"rebuilt, never restored", "  - id: restore\n    kind: restore-key\n    title: Restore\n    source: rebuild\n    label: restored\n", "",
			`steps[2]: nothing restores with the backup key of step "rebuild": add a restore-key step with source: rebuild`},
		{"restore without the SO", "  - id: init\n    kind: init-token\n    title: Initialise\n    quorum: {role: officer, threshold: 2, shares: 3}\n  - id: give-officers\n    kind: hand-out-shares\n    title: Officers' shares\n    split: init\n",
			"  - id: login\n    kind: hsm-login\n    title: Login\n    by: administrator\n", "steps[4]: restore-key needs the HSM's security officer"},
		{"untrusted wrap on a restore", "    label: restored\n", "    label: restored\n    allow_untrusted_wrap: true\n", "steps[5].allow_untrusted_wrap: not used by a restore-key step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(restoreBase, tc.old) {
				t.Fatalf("case does not apply: %q not in base", tc.old)
			}
			_, err := ParseScript("r.yaml", []byte(strings.Replace(restoreBase, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("script accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestQuorumBaseIsValid(t *testing.T) {
	s, err := ParseScript("q.yaml", []byte(quorumBase))
	if err != nil {
		t.Fatal(err)
	}
	if got := artifactFiles(s, &s.Steps[5])[0]; got != "root-ca.backup" {
		t.Errorf("backup artifact = %q", got)
	}
}

func TestQuorumScriptRejects(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"threshold 1", "threshold: 2, shares: 3}\n  - id: give-officers", "threshold: 1, shares: 3}\n  - id: give-officers", "steps[2].quorum.threshold: must be at least 2"},
		{"shares below threshold", "{role: officer, threshold: 2, shares: 3}", "{role: officer, threshold: 3, shares: 2}", "steps[2].quorum.shares: 2 is less than the threshold 3"},
		{"shares beyond the role", "{role: officer, threshold: 2, shares: 3}", "{role: officer, threshold: 2, shares: 4}", "exactly 4 must attend"},
		{"no quorum", "    quorum: {role: officer, threshold: 2, shares: 3}\n", "", "steps[2].quorum: required: {role: ROLE, threshold: M, shares: N}"},
		{"undeclared quorum role", "{role: officer, threshold: 2, shares: 3}", "{role: admin, threshold: 2, shares: 3}", `steps[2].quorum.role: undeclared role "admin"`},
		{"shares never handed out", "  - id: give-custodians\n    kind: hand-out-shares\n    title: Custodians' shares\n    split: backup\n", "", `steps[5]: nobody receives the shares of step "backup"`},
		{"handed out twice", "    split: backup\n", "    split: init\n", `steps[6].split: the shares of step "init" are already handed out by steps[3]`},
		{"hand-out of a key", "    split: backup\n", "    split: gen\n", `steps[6].split: step "gen" is a generate-key step, not init-token or backup-key`},
		{"hand-out before split", "    split: init\n", "    split: backup\n", `steps[3].split: step "backup" comes later`},
		{"init and login", "  - id: gen\n", "  - id: login\n    kind: hsm-login\n    title: Login\n    by: administrator\n  - id: gen\n", "steps[4].kind: the HSM is opened once"},
		{"backup of a non-key", "    key: gen\n", "    key: init\n", `steps[5].key: step "init" is an init-token step, not generate-key`},
		{"backup before the SO can act", "  - id: init\n    kind: init-token\n    title: Initialise\n    quorum: {role: officer, threshold: 2, shares: 3}\n  - id: give-officers\n    kind: hand-out-shares\n    title: Officers' shares\n    split: init\n",
			"  - id: login\n    kind: hsm-login\n    title: Login\n    by: administrator\n", "steps[4]: backup-key needs the HSM's security officer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(quorumBase, tc.old) {
				t.Fatalf("case does not apply: %q not in base", tc.old)
			}
			_, err := ParseScript("q.yaml", []byte(strings.Replace(quorumBase, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("script accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// quorumOf returns a step's quorum, or nil.
func quorumOf(st *script.Step) *script.Quorum {
	if q, ok := st.Spec.(script.QuorumStep); ok {
		return q.StepQuorum()
	}
	return nil
}
