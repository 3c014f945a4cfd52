package engine

import (
	"context"
	"errors"
	"time"

	"github.com/devicepki/ceremony/ceremony/pki"
	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/secret"
)

// Face is how the engine talks to the people in the room. It has two
// implementations: the answers file (package answers) for rehearsals, demos
// and tests, and the TUI for real ceremonies. The engine behaves the same
// whichever face it is given.
//
// The engine runs in its own goroutine and calls the prompt methods one at a
// time; each blocks until the people answer or ctx is done, so a face may
// show the prompt asynchronously (a TUI sends it to its event loop and waits
// for the reply). Report must not block.
type Face interface {
	// Name says which face this is ("answers-file", "tui"); the transcript
	// records it.
	Name() string
	// Attendance asks who is present, by role.
	Attendance(ctx context.Context, req AttendanceRequest) (Attendance, error)
	// Confirm asks one participant to confirm a step. A nil error means
	// they confirmed; ErrAborted means they, or the room, stopped the
	// ceremony.
	Confirm(ctx context.Context, req ConfirmRequest) error
	// Approve shows one participant what is about to be signed, decoded
	// in full, and asks them to approve it. A nil error means they
	// approved; ErrAborted means they, or the room, refused.
	Approve(ctx context.Context, req ApprovalRequest) error
	// Choose asks one of the candidates to pick an option.
	Choose(ctx context.Context, req ChoiceRequest) (Choice, error)
	// Secret asks one of the candidates to enter a secret such as a PIN.
	// The engine wipes the returned secret after use.
	Secret(ctx context.Context, req SecretRequest) (SecretAnswer, error)
	// Override asks one of the candidates whether the ceremony may go on
	// despite a failed safety check the script lets them override (a live
	// network interface), and why. ErrAborted means nobody overrides: the
	// ceremony stops.
	Override(ctx context.Context, req OverrideRequest) (OverrideAnswer, error)
	// Share asks one of the candidates, keyholders of a split, for their
	// share (typed, or scanned from the share card's QR code). The engine
	// checks it at once and asks again, with Problem set, if it is wrong.
	Share(ctx context.Context, req ShareRequest) (ShareAnswer, error)
	// HandOut shows one keyholder their share, on a screen of its own
	// that the others look away from, and has them type it back (or scan
	// its QR code); the engine checks the copy and asks again, with
	// Problem set, if it differs. The face clears the screen afterwards.
	HandOut(ctx context.Context, req HandOutRequest) (HandOutAnswer, error)
	// Announce shows a step's text to be read aloud before the machine
	// acts on it (a key generated, a token initialised, a share handed
	// out) and waits until the participant, who leads the room, says to
	// go on. ErrAborted means they stopped the ceremony instead.
	Announce(ctx context.Context, req AnnounceRequest) error
	// Inventory asks one participant to type the value of each item that
	// is not filled in (a bag number, an asset tag, where a thing is
	// stored) and returns them by item name. Problem, when set, says why
	// the last answer was refused.
	Inventory(ctx context.Context, req InventoryRequest) (map[string]string, error)
	// Exceptions returns the exceptions the participants recorded during a
	// step (none is the usual answer). The engine asks after every step,
	// and at a step that failed.
	Exceptions(ctx context.Context, step StepInfo) ([]Exception, error)
	// Report tells the room what the engine is doing.
	Report(Report)
}

// ErrAborted is returned by a face when the people stop the ceremony.
var ErrAborted = errors.New("ceremony aborted by the participants")

// ErrNoRetry is returned by a face asked to re-enter a rejected secret when it
// has nothing else to offer (an answers file holds one PIN); the engine then
// reports the rejection itself.
var ErrNoRetry = errors.New("no other secret to try")

// Participant is a person present at the ceremony.
type Participant struct {
	Role string
	Name string
}

// StepInfo describes the step a prompt or report belongs to.
type StepInfo struct {
	Index int // 0-based
	Total int
	ID    string
	Kind  string
	Title string
	// Say is the step's text, inputs expanded, to be read aloud.
	Say string
}

// AttendanceRequest asks who is present.
type AttendanceRequest struct {
	Step  StepInfo
	Roles []script.Role
}

// Attendance maps a role name to the names of the people present in it, in
// the order they were recorded.
type Attendance map[string][]string

// ConfirmRequest asks one participant to confirm a step.
type ConfirmRequest struct {
	Step        StepInfo
	Participant Participant
}

// AnnounceRequest asks the participant who leads the room to read a step's
// text aloud (Step.Say) and to say when the machine may act.
type AnnounceRequest struct {
	Step        StepInfo
	Participant Participant
}

// InventoryRequest asks one participant for an inventory's values.
type InventoryRequest struct {
	Step        StepInfo
	Participant Participant
	Items       []InventoryItem
	// Attempt counts from 1; Problem says what was wrong with the last.
	Attempt int
	Problem string
}

// InventoryItem is one item of an inventory: filled in (FromToken, with
// Value) or to be typed, maybe with the value it must have.
type InventoryItem struct {
	Name      string
	Value     string
	FromToken bool
	Expect    string
}

// ApprovalRequest asks one participant to approve a signature.
type ApprovalRequest struct {
	Step        StepInfo
	Participant Participant
	// What is being signed: "certificate" or "CRL".
	What string
	// Fields decode the exact to-be-signed content; TBSSHA256 is its
	// digest, also in Words for reading aloud.
	Fields    []pki.Field
	TBSSHA256 string
	Words     string
	// NotSigned says nothing is signed: what is approved is a statement
	// (an exception: a key without backup), recorded with its SHA-256
	// (in TBSSHA256) and who approved it.
	NotSigned bool
}

// ChoiceRequest asks one of the candidates to choose.
type ChoiceRequest struct {
	Step       StepInfo
	Candidates []Participant
	Options    []Option
}

// Choice is an answer to a ChoiceRequest.
type Choice struct {
	Value string
	By    Participant
}

// SecretRequest asks one of the candidates for a secret.
type SecretRequest struct {
	Step       StepInfo
	What       string // "HSM user PIN for token "root""
	Candidates []Participant
	// Attempt counts from 1; after a rejected secret the engine asks
	// again, up to MaxSecretAttempts.
	Attempt int
}

// MaxSecretAttempts is how often a rejected PIN may be entered again.
const MaxSecretAttempts = 3

// SecretAnswer is a secret and who entered it.
type SecretAnswer struct {
	Secret *secret.Secret
	By     Participant
}

// OverrideRequest asks whether a failed safety check may be overridden.
type OverrideRequest struct {
	Step StepInfo
	// Check names the check ("network"); Problem says what failed.
	Check      string
	Problem    string
	Candidates []Participant
}

// OverrideAnswer is an override and who gave it, with their reason.
type OverrideAnswer struct {
	By     Participant
	Reason string
}

// Exception is a deviation from the script recorded by a participant, as in
// the annotated scripts of public root key ceremonies: what the script
// expected, what happened instead, and what the people did about it.
type Exception struct {
	By       Participant
	Expected string
	Happened string
	Action   string
}

// ReportKind says what a Report is about.
type ReportKind int

// Report kinds.
const (
	// StepStarted: a step begins.
	StepStarted ReportKind = iota
	// StepDone: a step finished; Text summarises what happened.
	StepDone
	// OperationStarted: a long operation (key generation, signing) began.
	OperationStarted
	// OperationDone: it finished after Elapsed.
	OperationDone
	// Notice: something the room should read (a fingerprint, a warning).
	Notice
)

// Report is a progress message from the engine.
type Report struct {
	Kind    ReportKind
	Step    StepInfo
	Text    string
	Elapsed time.Duration
}

// ShareRequest asks a keyholder for a share of a split on record.
type ShareRequest struct {
	Step StepInfo
	// Purpose is "activation" or "backup"; Split the split's id.
	Purpose string
	Split   string
	// Number counts the shares entered so far, from 1, up to Needed.
	Number, Needed int
	// Candidates are the keyholders present who have not entered one.
	Candidates []Participant
	// Attempt counts from 1 for this Number; Problem says why the
	// previous entry was rejected (never containing the share).
	Attempt int
	Problem string
}

// ShareAnswer is a share's text and who entered it. The engine wipes it.
type ShareAnswer struct {
	Text *secret.Secret
	By   Participant
}

// HandOutRequest shows one keyholder their share.
type HandOutRequest struct {
	Step   StepInfo
	Holder Participant
	// Describe says which share this is, in words (no secret).
	Describe string
	// Text is the share as the keyholder copies it (lines of groups);
	// Compact is the same in one line, for a QR code.
	Text, Compact *secret.Secret
	// Number of Count: the keyholder's place in the hand-out.
	Number, Count int
	// Rehearsal is true when the ceremony is a rehearsal; the share was
	// then also written to RehearsalFile.
	Rehearsal     bool
	RehearsalFile string
	// Attempt counts from 1; Problem says why the previous copy typed
	// back was rejected and where.
	Attempt int
	Problem string
}

// HandOutAnswer is the keyholder's copy of their share, typed back, and
// optionally removable media to write an encrypted copy to.
type HandOutAnswer struct {
	TypedBack *secret.Secret
	// MediaDir, if set, is a directory on the keyholder's removable
	// media; the engine writes the share there encrypted with
	// Passphrase (age, scrypt).
	MediaDir   string
	Passphrase *secret.Secret
}
