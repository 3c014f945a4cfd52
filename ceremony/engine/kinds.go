package engine

import (
	"context"
	"fmt"

	"github.com/devicepki/ceremony/ceremony/script"
)

// Kinds is the table of the step kinds the engine runs: the one place a
// kind is registered. Each kind lives in its own file (kind_*.go) with
// its spec (the step's fields), Validate (script load), prepare (plan),
// run (ceremony) and Asks (what it asks the room).
var Kinds = script.NewKinds(
	attendanceKind,
	preflightKind,
	confirmKind,
	chooseKind,
	inventoryKind,
	initTokenKind,
	hsmLoginKind,
	handOutSharesKind,
	generateKeyKind,
	useKeyKind,
	issueCertificateKind,
	issueCRLKind,
	writeArtifactKind,
	backupKeyKind,
	rebuildBackupKeyKind,
	restoreKeyKind,
	sealKind,
	exportQRKind,
)

// LoadScript reads and validates the script at path against Kinds.
func LoadScript(path string) (*script.Script, error) {
	return script.Load(path, Kinds)
}

// ParseScript validates a script read from path against Kinds.
func ParseScript(path string, data []byte) (*script.Script, error) {
	return script.Parse(path, data, Kinds)
}

// stepKind is a kind's spec as the engine runs it.
type stepKind interface {
	script.Spec
	// prepare checks what needs files or the HSM config (templates,
	// CSRs, certificates, other tokens) before anything runs, and keeps
	// what it read in the plan.
	prepare(p *Plan, i int) error
	// run runs the step and returns a one-line summary of what happened.
	run(ctx context.Context, r *run, info StepInfo) (string, error)
	// asks says what the step asks the people in the room.
	asks() []Ask
}

// kindOf returns the engine's view of step i's spec.
func kindOf(s *script.Script, i int) stepKind {
	return s.Steps[i].Spec.(stepKind)
}

// specOf returns the spec of the step with the given id, if it is a T.
func specOf[T any](s *script.Script, id string) (T, bool) {
	var zero T
	j := s.StepIndex(id)
	if j < 0 {
		return zero, false
	}
	t, ok := s.Steps[j].Spec.(T)
	return t, ok
}

// stepPath returns the YAML path of a field of step i ("" for the step).
func stepPath(i int, field string) string {
	if field == "" {
		return fmt.Sprintf("steps[%d]", i)
	}
	return fmt.Sprintf("steps[%d].%s", i, field)
}

// AskKind is a kind of question a step puts to the people in the room.
type AskKind int

// What a step can ask.
const (
	// AskConfirm: every attendee of Roles confirms the step.
	AskConfirm AskKind = iota + 1
	// AskApprove: every attendee of Role approves what is signed.
	AskApprove
	// AskChoose: one attendee of Role chooses one of Options.
	AskChoose
	// AskPIN: one attendee of Role enters a PIN.
	AskPIN
	// AskShares: attendees of Role enter their shares of a split on
	// record, up to its threshold.
	AskShares
	// AskHandOut: each keyholder of the split made by step Split
	// receives a share, types it back and says what media it went on.
	AskHandOut
	// AskNetworkOverride: one attendee of Role may let the ceremony go
	// on while a network interface is up. It is optional.
	AskNetworkOverride
	// AskInventory: one attendee of Role types a value for each of Items.
	AskInventory
)

// Ask is one question a step puts to the people in the room.
type Ask struct {
	Kind AskKind
	// Role is who answers (AskApprove, AskChoose, AskPIN, AskShares,
	// AskNetworkOverride); Roles who confirm (AskConfirm).
	Role  string
	Roles []string
	// Options are the answers of an AskChoose.
	Options []Option
	// Split is the id of the step whose shares are handed out.
	Split string
	// Items are the names of the values an AskInventory asks for.
	Items []string
}

// Asks returns what a step of a script loaded with Kinds asks the people
// in the room, so that a face can check its answers before the ceremony.
func Asks(st *script.Step) []Ask {
	if k, ok := st.Spec.(stepKind); ok {
		return k.asks()
	}
	return nil
}

// Option is one possible answer to a choose step.
type Option struct {
	Value string `yaml:"value"`
	Text  string `yaml:"text"`
	// Abort means choosing this option stops the ceremony.
	Abort bool `yaml:"abort"`
}

// noPrepare is embedded by kinds with nothing to prepare.
type noPrepare struct{}

func (noPrepare) prepare(*Plan, int) error { return nil }

// asksNothing is embedded by kinds that ask the room nothing.
type asksNothing struct{}

func (asksNothing) asks() []Ask { return nil }
