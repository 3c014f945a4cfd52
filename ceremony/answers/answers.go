// Package answers is the answers-file face of the ceremony engine: the
// people's answers (attendance, confirmations, choices, PINs) written in a
// YAML file in advance, for rehearsals, demos, tests and CI.
//
//	version: 1
//	script: root-key-generation
//	attendance:
//	  administrator: [Alice Example]
//	  witness: [Wendy Example]
//	steps:
//	  welcome:
//	    confirmed_by: [Alice Example, Wendy Example]
//	  check-clock:
//	    choice: matches
//	  sign-intermediate:         # issue-certificate, issue-crl
//	    approved_by: [Olga Officer, Omar Officer, Otto Officer]
//	  preflight:                 # only if a network interface is up
//	    network_override: {by: Alice Example, reason: Rehearsal on a lab machine}
//	  activate-hsm:
//	    pin: {file: user.pin}    # or {env: NAME}
//	  generate-root-key:
//	    exceptions:              # any step may record exceptions
//	      - by: Wendy Example
//	        expected: Key generation takes seconds
//	        happened: It took two minutes
//	        done: Waited; the HSM log showed no error
//
// The file is decoded strictly and checked against the script before the
// ceremony starts: every step that asks something has its answer, and every
// name answering was recorded present. A PIN is read only when the engine
// asks for it, from a file (relative to the answers file) or an environment
// variable, so the answers file itself can be committed without a secret.
package answers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

type file struct {
	Version    int                   `yaml:"version"`
	Script     string                `yaml:"script"`
	Attendance map[string][]string   `yaml:"attendance"`
	Steps      map[string]stepAnswer `yaml:"steps"`
}

type stepAnswer struct {
	ConfirmedBy []string `yaml:"confirmed_by"`
	// ApprovedBy are the people who approve what is about to be signed
	// (issue-certificate, issue-crl): every present member of the
	// step's approved_by role.
	ApprovedBy []string      `yaml:"approved_by"`
	Choice     string        `yaml:"choice"`
	By         string        `yaml:"by"`
	PIN        *secretSource `yaml:"pin"`
	// NetworkOverride lets the ceremony go on with a network interface
	// up, where the script allows it (preflight).
	NetworkOverride *override `yaml:"network_override"`
	// Exceptions are recorded after the step (before it, for the seal).
	Exceptions []exception `yaml:"exceptions"`
	// Shares are the keyholders' shares, in the order they are entered
	// (hsm-login with a quorum, rebuild-backup-key).
	Shares []shareSource `yaml:"shares"`
	// TypedBack replaces, per keyholder, the copy a rehearsal types back
	// (by default the rehearsal share file) (hand-out-shares).
	TypedBack map[string]secretSource `yaml:"typed_back"`
	// Media asks, per keyholder, for an encrypted copy of the share on
	// removable media (hand-out-shares).
	Media map[string]mediaCopy `yaml:"media"`
	// Inventory gives the value typed for each item (inventory).
	Inventory map[string]string `yaml:"inventory"`
}

// shareSource is a keyholder's share, read from a file.
type shareSource struct {
	By   string `yaml:"by"`
	File string `yaml:"file"`
	// IssuedToOther is why By enters a share issued to someone else (an
	// absent officer's, say); without it such a share stops the ceremony.
	IssuedToOther string `yaml:"issued_to_other"`
}

// mediaCopy is a directory on removable media and the passphrase that
// encrypts the copy written there.
type mediaCopy struct {
	Dir        string        `yaml:"dir"`
	Passphrase *secretSource `yaml:"passphrase"`
}

type override struct {
	By     string `yaml:"by"`
	Reason string `yaml:"reason"`
}

type exception struct {
	By       string `yaml:"by"`
	Expected string `yaml:"expected"`
	Happened string `yaml:"happened"`
	Done     string `yaml:"done"`
}

// secretSource says where a secret comes from; exactly one field is set.
type secretSource struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// maxSecretFile bounds the size of a PIN file.
const maxSecretFile = 1024

// Face answers the engine's prompts from an answers file.
type Face struct {
	path string
	dir  string
	f    file
	doc  *strictyaml.Document
	out  io.Writer
	// shown records the content already printed for approval.
	shown map[string]bool
}

var _ engine.Face = (*Face)(nil)

// Load reads the answers file at path and checks it against s. Progress is
// written to progress (nil for none). An answers file can hand shares out
// only in a rehearsal: outside one, a script with a hand-out-shares step is
// refused here, before anything runs.
func Load(path string, s *script.Script, progress io.Writer, rehearsal bool) (*Face, error) {
	data, err := durable.ReadFile(durable.Answers, path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, s, progress, rehearsal)
}

// parse decodes and checks an answers file read from path; see Load.
func parse(path string, data []byte, s *script.Script, progress io.Writer, rehearsal bool) (*Face, error) {
	var err error
	a := &Face{path: path, dir: filepath.Dir(path), out: progress, shown: map[string]bool{}}
	if a.out == nil {
		a.out = io.Discard
	}
	if a.doc, err = strictyaml.Decode(path, data, &a.f, strictyaml.Sensitive); err != nil {
		return nil, err
	}
	if err := a.check(s); err != nil {
		return nil, err
	}
	if !rehearsal {
		for i := range s.Steps {
			if slices.ContainsFunc(engine.Asks(&s.Steps[i]), func(a engine.Ask) bool { return a.Kind == engine.AskHandOut }) {
				return nil, a.errorf("script", "script %s hands out shares (step %q), which an answers file cannot show to a keyholder: run a rehearsal (--rehearsal) or use the TUI", s.Name, s.Steps[i].ID)
			}
		}
	}
	return a, nil
}

// Name implements engine.Face.
func (a *Face) Name() string { return "answers-file" }

func (a *Face) errorf(path, format string, args ...any) error {
	return a.doc.Errorf(path, format, args...)
}

func (a *Face) check(s *script.Script) error {
	if a.f.Version != 1 {
		return a.errorf("version", "must be 1")
	}
	if a.f.Script != s.Name {
		return a.errorf("script", "this answers file is for script %q, not %q", a.f.Script, s.Name)
	}
	if err := engine.CheckAttendance(s.Roles, a.f.Attendance); err != nil {
		return a.errorf("attendance", "%v", err)
	}
	present := map[string]string{} // name -> role
	for role, names := range a.f.Attendance {
		for _, n := range names {
			present[n] = role
		}
	}
	for _, id := range slices.Sorted(maps.Keys(a.f.Steps)) {
		if s.StepIndex(id) < 0 {
			return a.errorf("steps."+id, "script %s has no step %q", s.Name, id)
		}
	}
	attendanceAt, sealAt := -1, -1
	for i := range s.Steps {
		if s.Steps[i].Kind == script.KindSeal {
			sealAt = i // the seal step itself still takes exceptions
		}
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		ans, has := a.f.Steps[st.ID]
		p := "steps." + st.ID
		want := map[string]bool{"exceptions": true}
		if st.Kind == script.KindAttendance {
			attendanceAt = i
		}
		for j, ex := range ans.Exceptions {
			ep := fmt.Sprintf("%s.exceptions[%d]", p, j)
			if sealAt >= 0 && i > sealAt {
				return a.errorf(ep, "step %q comes after the seal: nothing can be recorded after it; note the exception on the paper record, or at an earlier step", st.ID)
			}
			if attendanceAt < 0 {
				return a.errorf(ep, "step %q comes before attendance: nobody is recorded present to note an exception", st.ID)
			}
			if _, ok := present[ex.By]; !ok {
				return a.errorf(ep+".by", "%q is not present", ex.By)
			}
			for _, f := range []struct{ name, text string }{{"expected", ex.Expected}, {"happened", ex.Happened}, {"done", ex.Done}} {
				if strings.TrimSpace(f.text) == "" {
					return a.errorf(ep+"."+f.name, "required: an exception says what was expected, what happened and what was done")
				}
				if err := engine.CheckNote(f.name, f.text); err != nil {
					return a.errorf(ep+"."+f.name, "%v", err)
				}
			}
		}
		for _, ask := range engine.Asks(st) {
			if err := a.checkAsk(p, s, st, ask, ans, has, present, want); err != nil {
				return err
			}
		}
		if ans.NetworkOverride != nil && !want["network_override"] && st.Kind == script.KindPreflight {
			return a.errorf(p+".network_override", "step %q allows no network override in the script", st.ID)
		}
		if has {
			set := map[string]bool{"confirmed_by": len(ans.ConfirmedBy) > 0, "approved_by": len(ans.ApprovedBy) > 0, "choice": ans.Choice != "", "by": ans.By != "",
				"pin": ans.PIN != nil, "network_override": ans.NetworkOverride != nil, "shares": len(ans.Shares) > 0,
				"typed_back": len(ans.TypedBack) > 0, "media": len(ans.Media) > 0, "inventory": len(ans.Inventory) > 0}
			for _, f := range []string{"confirmed_by", "approved_by", "choice", "by", "pin", "network_override", "shares", "typed_back", "media", "inventory"} {
				if set[f] && !want[f] {
					return a.errorf(p+"."+f, "step %q is a %s step and asks nothing of this kind", st.ID, st.Kind)
				}
			}
		}
	}
	return nil
}

// checkAsk checks the answers to one question a step asks, and marks the
// answer fields it takes in want.
func (a *Face) checkAsk(p string, s *script.Script, st *script.Step, ask engine.Ask, ans stepAnswer, has bool, present map[string]string, want map[string]bool) error {
	switch ask.Kind {
	case engine.AskNetworkOverride:
		if ans.NetworkOverride == nil {
			return nil // optional: needed only if an interface is up
		}
		want["network_override"] = true
		op := p + ".network_override"
		if strings.TrimSpace(ans.NetworkOverride.Reason) == "" {
			return a.errorf(op+".reason", "required: why the ceremony may go on with a network interface up")
		}
		if err := engine.CheckNote("reason", ans.NetworkOverride.Reason); err != nil {
			return a.errorf(op+".reason", "%v", err)
		}
		return a.checkBy(op, ans.NetworkOverride.By, ask.Role, present)
	case engine.AskConfirm:
		want["confirmed_by"] = true
		if !has || len(ans.ConfirmedBy) == 0 {
			return a.errorf(p, "step %q needs confirmed_by: the names of everyone who confirms it", st.ID)
		}
		for _, role := range ask.Roles {
			for _, n := range a.f.Attendance[role] {
				if !slices.Contains(ans.ConfirmedBy, n) {
					return a.errorf(p+".confirmed_by", "step %q: no confirmation from %s %q", st.ID, role, n)
				}
			}
		}
		for j, n := range ans.ConfirmedBy {
			if role, ok := present[n]; !ok || !slices.Contains(ask.Roles, role) {
				return a.errorf(fmt.Sprintf("%s.confirmed_by[%d]", p, j), "%q is not present in a role that confirms step %q", n, st.ID)
			}
		}
	case engine.AskApprove:
		want["approved_by"] = true
		if !has || len(ans.ApprovedBy) == 0 {
			return a.errorf(p, "step %q needs approved_by: the names of every %s present, who each approve it", st.ID, ask.Role)
		}
		for _, n := range a.f.Attendance[ask.Role] {
			if !slices.Contains(ans.ApprovedBy, n) {
				return a.errorf(p+".approved_by", "step %q: no approval from %s %q", st.ID, ask.Role, n)
			}
		}
		for j, n := range ans.ApprovedBy {
			if role, ok := present[n]; !ok || role != ask.Role {
				return a.errorf(fmt.Sprintf("%s.approved_by[%d]", p, j), "%q is not present as %s, the role that approves step %q", n, ask.Role, st.ID)
			}
			if slices.Index(ans.ApprovedBy, n) != j {
				return a.errorf(fmt.Sprintf("%s.approved_by[%d]", p, j), "%q listed twice", n)
			}
		}
	case engine.AskChoose:
		want["choice"], want["by"] = true, true
		if !has || ans.Choice == "" {
			return a.errorf(p, "step %q needs a choice (one of: %s)", st.ID, optionValues(ask.Options))
		}
		if !slices.ContainsFunc(ask.Options, func(o engine.Option) bool { return o.Value == ans.Choice }) {
			return a.errorf(p+".choice", "%q is not an option of step %q (one of: %s)", ans.Choice, st.ID, optionValues(ask.Options))
		}
		return a.checkBy(p, ans.By, ask.Role, present)
	case engine.AskShares:
		want["shares"] = true
		return a.checkShares(p, st, ask.Role, ans, present)
	case engine.AskPIN:
		want["pin"], want["by"] = true, true
		if !has || ans.PIN == nil {
			return a.errorf(p, "step %q needs a pin: {file: PATH} or {env: NAME}", st.ID)
		}
		if (ans.PIN.File == "") == (ans.PIN.Env == "") {
			return a.errorf(p+".pin", "give exactly one of file or env")
		}
		return a.checkBy(p, ans.By, ask.Role, present)
	case engine.AskInventory:
		want["inventory"], want["by"] = true, true
		for _, name := range ask.Items {
			if v, ok := ans.Inventory[name]; !has || !ok || strings.TrimSpace(v) == "" {
				return a.errorf(p+".inventory", "step %q needs inventory: {%q: VALUE, ...}, a value for each item typed", st.ID, name)
			}
		}
		for name := range ans.Inventory {
			if !slices.Contains(ask.Items, name) {
				return a.errorf(p+".inventory", "step %q types no item %q (items: %s)", st.ID, name, strings.Join(ask.Items, ", "))
			}
		}
		if ans.By != "" {
			return a.checkBy(p, ans.By, ask.Role, present)
		}
	case engine.AskHandOut:
		want["typed_back"], want["media"] = true, true
		split, ok := s.Steps[s.StepIndex(ask.Split)].Spec.(script.QuorumStep)
		if !ok {
			return fmt.Errorf("step %q hands out the shares of step %q, which splits nothing", st.ID, ask.Split)
		}
		return a.checkHandOut(p, split.StepQuorum().Role, ans, present)
	}
	return nil
}

// checkShares checks the shares a quorum step is given: each from a
// different keyholder present in the quorum's role, each from a file.
func (a *Face) checkShares(p string, st *script.Step, role string, ans stepAnswer, present map[string]string) error {
	if len(ans.Shares) == 0 {
		return a.errorf(p, "step %q needs shares: [{by: NAME, file: PATH}, ...], one per %s who enters one", st.ID, role)
	}
	seen := map[string]bool{}
	for j, sh := range ans.Shares {
		sp := fmt.Sprintf("%s.shares[%d]", p, j)
		switch {
		case present[sh.By] != role:
			return a.errorf(sp+".by", "%q is not present as %s", sh.By, role)
		case seen[sh.By]:
			return a.errorf(sp+".by", "%q enters a share twice", sh.By)
		case sh.File == "":
			return a.errorf(sp+".file", "required: the file holding the share as typed")
		}
		seen[sh.By] = true
	}
	return nil
}

// checkHandOut checks the per-keyholder answers of a hand-out step.
func (a *Face) checkHandOut(p, role string, ans stepAnswer, present map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(ans.TypedBack)) {
		src := ans.TypedBack[name]
		if present[name] != role {
			return a.errorf(p+".typed_back", "%q is not present as %s", name, role)
		}
		if (src.File == "") == (src.Env == "") {
			return a.errorf(p+".typed_back."+name, "give exactly one of file or env")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ans.Media)) {
		m := ans.Media[name]
		mp := p + ".media." + name
		switch {
		case present[name] != role:
			return a.errorf(p+".media", "%q is not present as %s", name, role)
		case m.Dir == "":
			return a.errorf(mp+".dir", "required: the directory on the keyholder's removable media")
		case m.Passphrase == nil || (m.Passphrase.File == "") == (m.Passphrase.Env == ""):
			return a.errorf(mp+".passphrase", "required: {file: PATH} or {env: NAME}")
		}
		if fi, err := os.Stat(a.abs(m.Dir)); err != nil || !fi.IsDir() {
			return a.errorf(mp+".dir", "not a directory (is the keyholder's media mounted?)")
		}
		// Shares go to the keyholders in attendance order.
		n := slices.Index(a.f.Attendance[role], name) + 1
		if _, err := os.Lstat(filepath.Join(a.abs(m.Dir), fmt.Sprintf("%s-%d.share.age", role, n))); err == nil {
			return a.errorf(mp+".dir", "already holds %s-%d.share.age; a media copy is never overwritten", role, n)
		}
		pass, err := a.read(mp+".passphrase", m.Passphrase)
		if err != nil {
			return err
		}
		short := pass.Len() < engine.MinPassphraseLen
		pass.Wipe()
		if short {
			return a.errorf(mp+".passphrase", "shorter than %d characters", engine.MinPassphraseLen)
		}
	}
	return nil
}

func (a *Face) checkBy(p, by, role string, present map[string]string) error {
	if by == "" {
		if n := len(a.f.Attendance[role]); n > 1 {
			return a.errorf(p, "%d people attend as %s: say which one acts with by: NAME", n, role)
		}
		return nil
	}
	if present[by] != role {
		return a.errorf(p+".by", "%q is not present as %s", by, role)
	}
	return nil
}

// read returns the secret given at YAML path p. Errors name the line of
// the source, never the file or variable name it holds (a PIN may have
// been typed there).
func (a *Face) read(p string, s *secretSource) (*secret.Secret, error) {
	sec, err := secret.Read(secret.Source{File: a.abs(s.File), Env: s.Env},
		secret.ReadOptions{MaxFileSize: maxSecretFile, Named: "here", FileNoun: "secret file"})
	var re *secret.ReadError
	if errors.As(err, &re) {
		return nil, a.errorf(p+"."+re.Field, "%s", re.Error())
	}
	return sec, err
}

// abs resolves a path relative to the answers file.
func (a *Face) abs(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(a.dir, path)
}

func (a *Face) answer(step engine.StepInfo) (stepAnswer, error) {
	ans, ok := a.f.Steps[step.ID]
	if !ok {
		return ans, fmt.Errorf("answers: no answer for step %q (%s)", step.ID, step.Title)
	}
	return ans, nil
}

// Attendance implements engine.Face.
func (a *Face) Attendance(_ context.Context, req engine.AttendanceRequest) (engine.Attendance, error) {
	if len(a.f.Attendance) == 0 {
		return nil, fmt.Errorf("answers: no attendance for step %q", req.Step.ID)
	}
	out := engine.Attendance{}
	for role, names := range a.f.Attendance {
		out[role] = append([]string(nil), names...)
	}
	return out, nil
}

// Confirm implements engine.Face.
func (a *Face) Confirm(_ context.Context, req engine.ConfirmRequest) error {
	ans, err := a.answer(req.Step)
	if err != nil {
		return err
	}
	if !slices.Contains(ans.ConfirmedBy, req.Participant.Name) {
		return fmt.Errorf("answers: step %q: no confirmation from %s %q", req.Step.ID, req.Participant.Role, req.Participant.Name)
	}
	return nil
}

// Approve implements engine.Face: the approvals are those listed in the
// step's approved_by. What was shown is printed, as on the screen.
func (a *Face) Approve(_ context.Context, req engine.ApprovalRequest) error {
	ans, err := a.answer(req.Step)
	if err != nil {
		return err
	}
	if !slices.Contains(ans.ApprovedBy, req.Participant.Name) {
		return fmt.Errorf("answers: step %q: no approval from %s %q", req.Step.ID, req.Participant.Role, req.Participant.Name)
	}
	if !a.shown[req.Step.ID+req.TBSSHA256] {
		// The decoded content, printed once per step as a screen shows it.
		a.shown[req.Step.ID+req.TBSSHA256] = true
		what, words := "To be signed", "TBS SHA-256 as words:"
		if req.NotSigned {
			what, words = "To be approved", "SHA-256 as words:"
		}
		fmt.Fprintf(a.out, "        %s (%s), as shown to every approver:\n", what, record.Printable(req.What))
		for _, f := range req.Fields {
			// Decoded from a CSR or certificate: one line, never raw.
			fmt.Fprintf(a.out, "          %-28s %s\n", record.Printable(f.Label)+":", record.Printable(f.Value))
		}
		fmt.Fprintf(a.out, "          %-28s %s\n", words, req.Words)
	}
	fmt.Fprintf(a.out, "        Approved by %s (%s), as the answers file says\n", record.Printable(req.Participant.Name), req.Participant.Role)
	return nil
}

// Choose implements engine.Face.
func (a *Face) Choose(_ context.Context, req engine.ChoiceRequest) (engine.Choice, error) {
	ans, err := a.answer(req.Step)
	if err != nil {
		return engine.Choice{}, err
	}
	return engine.Choice{Value: ans.Choice, By: engine.Participant{Name: ans.By}}, nil
}

// Secret implements engine.Face. An answers file holds one PIN per step, so
// a second attempt gets engine.ErrNoRetry.
func (a *Face) Secret(_ context.Context, req engine.SecretRequest) (engine.SecretAnswer, error) {
	if req.Attempt > 1 {
		return engine.SecretAnswer{}, engine.ErrNoRetry
	}
	ans, err := a.answer(req.Step)
	if err != nil {
		return engine.SecretAnswer{}, err
	}
	if ans.PIN == nil {
		return engine.SecretAnswer{}, fmt.Errorf("answers: step %q: no pin", req.Step.ID)
	}
	sec, err := a.read("steps."+req.Step.ID+".pin", ans.PIN)
	if err != nil {
		return engine.SecretAnswer{}, err
	}
	return engine.SecretAnswer{Secret: sec, By: engine.Participant{Name: ans.By}}, nil
}

// Share implements engine.Face: the step's shares, in order. An answers
// file holds one share per keyholder, so a rejected share gets
// engine.ErrNoRetry.
func (a *Face) Share(_ context.Context, req engine.ShareRequest) (engine.ShareAnswer, error) {
	if req.Attempt > 1 {
		return engine.ShareAnswer{}, engine.ErrNoRetry
	}
	ans, err := a.answer(req.Step)
	if err != nil {
		return engine.ShareAnswer{}, err
	}
	k := req.Number - 1
	if k >= len(ans.Shares) {
		return engine.ShareAnswer{}, a.errorf("steps."+req.Step.ID+".shares", "%d shares given; %d of split %s are needed", len(ans.Shares), req.Needed, req.Split)
	}
	sh := ans.Shares[k]
	text, err := a.read(fmt.Sprintf("steps.%s.shares[%d].file", req.Step.ID, k), &secretSource{File: sh.File})
	if err != nil {
		return engine.ShareAnswer{}, err
	}
	return engine.ShareAnswer{Text: text, By: engine.Participant{Name: sh.By}}, nil
}

// HandOut implements engine.Face. An answers file cannot show a share to
// a person: in a rehearsal, the keyholder "types back" the rehearsal share
// file (or the typed_back file the answers give for them); outside a
// rehearsal it refuses.
func (a *Face) HandOut(_ context.Context, req engine.HandOutRequest) (engine.HandOutAnswer, error) {
	if req.Attempt > 1 {
		return engine.HandOutAnswer{}, engine.ErrNoRetry
	}
	ans := a.f.Steps[req.Step.ID]
	p := "steps." + req.Step.ID
	var (
		out  engine.HandOutAnswer
		err  error
		from string
	)
	if src, ok := ans.TypedBack[req.Holder.Name]; ok {
		from = "the answers file"
		out.TypedBack, err = a.read(p+".typed_back."+req.Holder.Name, &src)
	} else if req.Rehearsal && req.RehearsalFile != "" {
		from = "the rehearsal share file"
		out.TypedBack, err = a.read(p, &secretSource{File: req.RehearsalFile})
	} else {
		return out, fmt.Errorf("answers: step %q: an answers file cannot show %s their share; run a rehearsal (--rehearsal) or use the TUI", req.Step.ID, req.Holder.Name)
	}
	if err != nil {
		return out, err
	}
	fmt.Fprintf(a.out, "        %s receives %s; typed back from %s\n", record.Printable(req.Holder.Name), record.Printable(req.Describe), from)
	if m, ok := ans.Media[req.Holder.Name]; ok {
		out.MediaDir = a.abs(m.Dir)
		if out.Passphrase, err = a.read(p+".media."+req.Holder.Name+".passphrase", m.Passphrase); err != nil {
			out.TypedBack.Wipe()
			return engine.HandOutAnswer{}, err
		}
	}
	return out, nil
}

// Override implements engine.Face: the step's network_override, if the
// answers file gives one.
func (a *Face) Override(_ context.Context, req engine.OverrideRequest) (engine.OverrideAnswer, error) {
	ans := a.f.Steps[req.Step.ID]
	if req.Check == "share-holder" {
		// A share entered by someone other than its holder: the entry's
		// issued_to_other gives the reason.
		for _, sh := range ans.Shares {
			if len(req.Candidates) == 1 && sh.By == req.Candidates[0].Name && sh.IssuedToOther != "" {
				return engine.OverrideAnswer{By: req.Candidates[0], Reason: sh.IssuedToOther}, nil
			}
		}
		return engine.OverrideAnswer{}, fmt.Errorf("answers: step %q: %s; give the share's issued_to_other: REASON to use it", req.Step.ID, req.Problem)
	}
	if req.Check != "network" || ans.NetworkOverride == nil {
		return engine.OverrideAnswer{}, fmt.Errorf("answers: step %q: %s, and the answers file gives no network_override {by: NAME, reason: TEXT}", req.Step.ID, req.Problem)
	}
	o := ans.NetworkOverride
	return engine.OverrideAnswer{By: engine.Participant{Name: o.By}, Reason: o.Reason}, nil
}

// Inventory implements engine.Face: the step's inventory values. A value
// the engine refused is not offered again.
func (a *Face) Inventory(_ context.Context, req engine.InventoryRequest) (map[string]string, error) {
	if req.Problem != "" {
		return nil, fmt.Errorf("answers: step %q: %s", req.Step.ID, req.Problem)
	}
	return a.f.Steps[req.Step.ID].Inventory, nil
}

// Announce implements engine.Face: an answers file stands for the room,
// which has read the script; the machine goes on.
func (a *Face) Announce(context.Context, engine.AnnounceRequest) error { return nil }

// Exceptions implements engine.Face: the step's exceptions.
func (a *Face) Exceptions(_ context.Context, step engine.StepInfo) ([]engine.Exception, error) {
	var out []engine.Exception
	for _, ex := range a.f.Steps[step.ID].Exceptions {
		out = append(out, engine.Exception{By: engine.Participant{Name: ex.By}, Expected: ex.Expected, Happened: ex.Happened, Action: ex.Done})
	}
	return out, nil
}

// Report implements engine.Face: progress lines for the person running the
// rehearsal.
func (a *Face) Report(r engine.Report) {
	switch r.Kind {
	case engine.StepStarted:
		fmt.Fprintf(a.out, "[%2d/%d] %s\n", r.Step.Index+1, r.Step.Total, record.Printable(r.Text))
	case engine.StepDone:
		fmt.Fprintf(a.out, "        %s\n", record.Printable(r.Text))
	case engine.OperationStarted:
		fmt.Fprintf(a.out, "        %s ...\n", record.Printable(r.Text))
	case engine.OperationDone:
		fmt.Fprintf(a.out, "        ... done in %s\n", r.Elapsed.Round(100_000))
	case engine.Notice:
		fmt.Fprintf(a.out, "        %s\n", record.Printable(r.Text))
	}
}

func optionValues(opts []engine.Option) string {
	var vs []string
	for _, o := range opts {
		vs = append(vs, o.Value)
	}
	return strings.Join(vs, ", ")
}
