package engine

import (
	"strings"
	"testing"
)

// The backup step of quorumBase, and its hand-out.
const (
	quorumBackup = "  - id: backup\n    kind: backup-key\n    title: Backup\n    key: gen\n    name: root-ca\n    quorum: {role: custodian, threshold: 2, shares: 3}\n"
	quorumGive   = "  - id: give-custodians\n    kind: hand-out-shares\n    title: Custodians' shares\n    split: backup\n"
	// noneBackup is a backup step that makes no backup.
	noneBackup = "  - id: backup\n    kind: backup-key\n    title: No backup\n    key: gen\n    method: none\n    approved_by: officer\n"
)

// Scripts choose a backup method; method: none needs a role that
// approves it, and has no file, split or hand-out.
func TestBackupMethodValidation(t *testing.T) {
	if !strings.Contains(quorumBase, quorumBackup+quorumGive) {
		t.Fatal("quorumBase changed")
	}
	for _, method := range []string{"rfc5649", "aes-cbc-pad"} {
		s, err := ParseScript("q.yaml", []byte(strings.Replace(quorumBase, "    name: root-ca\n", "    name: root-ca\n    method: "+method+"\n", 1)))
		if err != nil {
			t.Fatalf("method %s: %v", method, err)
		}
		if st := s.Steps[5].Spec.(*backupKeyStep); st.method() != method || st.none() || len(st.asks()) != 0 {
			t.Errorf("method %s: %+v", method, st)
		}
	}
	s, err := ParseScript("q.yaml", []byte(strings.Replace(quorumBase, quorumBackup+quorumGive, noneBackup, 1)))
	if err != nil {
		t.Fatalf("method none: %v", err)
	}
	st := s.Steps[5].Spec.(*backupKeyStep)
	if asks := st.asks(); !st.none() || len(asks) != 1 || asks[0].Kind != AskApprove || asks[0].Role != "officer" || st.StepQuorum() != nil {
		t.Errorf("method none: %+v asks %+v", st, asks)
	}

	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown method", "    name: root-ca\n", "    name: root-ca\n    method: rfc5694\n",
			`q.yaml:42: steps[5].method: unknown backup method "rfc5694": rfc5649 (the default), aes-cbc-pad (where the module has no RFC 5649) or none (no backup, approved by a role)`},
		{"none without approved_by", quorumBackup + quorumGive, strings.Replace(noneBackup, "    approved_by: officer\n", "", 1),
			"steps[5].approved_by: required with method: none: the role whose every member approves that the key has no backup"},
		{"none with quorum", quorumBackup + quorumGive, noneBackup + "    quorum: {role: custodian, threshold: 2, shares: 3}\n",
			"steps[5].quorum: method: none makes no backup, so there is no backup key to split"},
		{"none with a name", quorumBackup + quorumGive, noneBackup + "    name: root-ca\n", "steps[5].name: method: none makes no backup, so no file is named"},
		{"none with allow_untrusted_wrap", quorumBackup + quorumGive, noneBackup + "    allow_untrusted_wrap: true\n", "steps[5].allow_untrusted_wrap: method: none makes no backup"},
		{"none approved by nobody declared", quorumBackup + quorumGive, strings.Replace(noneBackup, "approved_by: officer", "approved_by: board", 1), `steps[5].approved_by: undeclared role "board"`},
		{"none handed out", quorumBackup, noneBackup, `steps[6].split: step "backup" makes no backup (method: none), so it has no shares to hand out`},
		{"approved_by on a backup", "    name: root-ca\n", "    name: root-ca\n    approved_by: officer\n", "steps[5].approved_by: only method: none is approved by a role; a backup of method rfc5649 is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(quorumBase, tc.old) {
				t.Fatalf("case does not apply: %q not in base", tc.old)
			}
			_, err := ParseScript("q.yaml", []byte(strings.Replace(quorumBase, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("script accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
