package transcript

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Event types. Each has one payload struct below, named after it, which
// writers put in Entry.Data and readers get back with DataAs.
const (
	TypeCeremonyStarted      = "ceremony-started"
	TypeAttendance           = "attendance"
	TypeConfirmed            = "confirmed"
	TypeInventory            = "inventory"
	TypeChoice               = "choice"
	TypeOverride             = "override"
	TypePreflight            = "preflight"
	TypeException            = "exception"
	TypeHSMLogin             = "hsm-login"
	TypeHSMLoginFailed       = "hsm-login-failed"
	TypeTokenInitialising    = "token-initialising"
	TypeTokenInitialised     = "token-initialised"
	TypeSharesSplit          = "shares-split"
	TypeShareHandedOut       = "share-handed-out"
	TypeShareTypebackFailed  = "share-typeback-failed"
	TypeShareRejected        = "share-rejected"
	TypeExtractionEnding     = "extraction-ending"
	TypeKeyBackedUp          = "key-backed-up"
	TypeBackupException      = "backup-exception"
	TypeBackupKeyRebuilt     = "backup-key-rebuilt"
	TypeKeyRestoring         = "key-restoring"
	TypeKeyRestored          = "key-restored"
	TypeTokenLeftInitialised = "token-left-initialised"
	TypeKeyGenerating        = "key-generating"
	TypeKeyGenerated         = "key-generated"
	TypeKeySelected          = "key-selected"
	TypeLintPassed           = "lint-passed"
	TypeLintFailed           = "lint-failed"
	TypeSigningApproved      = "signing-approved"
	TypeSigningRefused       = "signing-refused"
	TypeCertificateIssued    = "certificate-issued"
	TypeCRLIssued            = "crl-issued"
	TypeArtifactWriting      = "artifact-writing"
	TypeArtifactWritten      = "artifact-written"
	TypeKeyDestroyed         = "key-destroyed"
	TypeRollbackFailed       = "rollback-failed"
	TypeArtifactWithdrawn    = "artifact-withdrawn"
	TypeTranscriptSealing    = "transcript-sealing"
	TypeTranscriptSealed     = "transcript-sealed"
	TypeCeremonyFailed       = "ceremony-failed"
	TypeCeremonyAborted      = "ceremony-aborted"
	TypeCeremonyClosing      = "ceremony-closing"
	TypeCeremonyClosed       = "ceremony-closed"
)

// aliases maps a spelling written by earlier versions to the type's name
// today. Readers accept both.
var aliases = map[string]string{
	"token-initialized": TypeTokenInitialised,
}

// Canonical returns the type's name today for a type read from a
// transcript, which may use an earlier spelling.
func Canonical(typ string) string {
	if c, ok := aliases[typ]; ok {
		return c
	}
	return typ
}

// Is reports whether the event is of one of the types, under any
// spelling.
func (e Event) Is(types ...string) bool {
	return slices.Contains(types, Canonical(e.Type))
}

// Payload is an event's data: each event type has one.
type Payload interface {
	// EventType is the type of the events that carry this payload.
	EventType() string
}

// DataAs decodes the data of an event into the payload of its type. The
// event must be of that type and carry data.
func DataAs[P Payload](e Event) (P, error) {
	var p P
	if !e.Is(p.EventType()) {
		return p, fmt.Errorf("event %d is %s, not %s", e.Seq, e.Type, p.EventType())
	}
	if len(e.Data) == 0 {
		return p, fmt.Errorf("event %d (%s) has no data", e.Seq, e.Type)
	}
	if err := json.Unmarshal(e.Data, &p); err != nil {
		return p, fmt.Errorf("event %d (%s): data: %w", e.Seq, e.Type, err)
	}
	return p, nil
}

// Value is a nested value an event carries whose shape another package
// owns (the token's description, a key's attributes, a share manifest): it
// is written from that package's value and read back into it with Decode.
type Value struct {
	v   any
	raw json.RawMessage
}

// V wraps a value to record.
func V(v any) Value { return Value{v: v} }

// MarshalJSON writes the value.
func (x Value) MarshalJSON() ([]byte, error) {
	if x.raw != nil {
		return x.raw, nil
	}
	return json.Marshal(x.v)
}

// UnmarshalJSON keeps the value's JSON for Decode.
func (x *Value) UnmarshalJSON(b []byte) error {
	x.raw = append(json.RawMessage(nil), b...)
	return nil
}

// Decode reads a value read from a transcript into v.
func (x Value) Decode(v any) error {
	if x.raw == nil {
		return fmt.Errorf("no value recorded")
	}
	return json.Unmarshal(x.raw, v)
}

// IsZero reports whether nothing was recorded (for omitempty).
func (x Value) IsZero() bool { return x.v == nil && x.raw == nil }

// File names a file the ceremony read, with its digest.
type File struct {
	Name   string `json:"name,omitempty"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Text is the file's content, where the transcript carries it (the
	// script and templates a ceremony ran): its SHA-256 is SHA256.
	Text string `json:"text,omitempty"`
}

// Labelled is a token object by label, with its digest.
type Labelled struct {
	Label  string `json:"label"`
	SHA256 string `json:"sha256"`
}

// CertificateRef describes a certificate in an event. Fields are in the
// order they are written.
type CertificateRef struct {
	File     string `json:"file,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	IssuerSH string `json:"issuer_sha256,omitempty"`
	NotAfter string `json:"not_after,omitempty"`
	Path     string `json:"path,omitempty"`
	Serial   string `json:"serial,omitempty"`
	SHA256   string `json:"sha256"`
	Subject  string `json:"subject"`
}

// KeyRef names a key pair on a token.
type KeyRef struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Token string `json:"token,omitempty"`
}

// Payload structs: one per event type. Their fields are declared in the
// order of their JSON names, which is the order the events hold them in
// (as an earlier version, which wrote maps, did).

// CeremonyStarted is the first event.
type CeremonyStarted struct {
	Face          string            `json:"face"`
	FormatVersion int               `json:"format_version"`
	HSM           Value             `json:"hsm"`
	Inputs        map[string]string `json:"inputs"`
	Rehearsal     bool              `json:"rehearsal"`
	// Roles are the script's roles with what each does, for the record's
	// list of participants.
	Roles  []StartedRole `json:"roles,omitempty"`
	Script File          `json:"script"`
	// ScriptApproval is the approval the script records (absent if none).
	ScriptApproval *ScriptApproval `json:"script_approval,omitempty"`
	Steps          []StartedStep   `json:"steps"`
	Templates      []File          `json:"templates"`
	Title          string          `json:"title"`
	ToolVersion    string          `json:"tool_version"`
	ValidityStart  string          `json:"validity_start"`
}

// StartedRole is a role of the script: its name and what people in it
// do, as the script describes it.
type StartedRole struct {
	Description string `json:"description"`
	Name        string `json:"name"`
}

// ScriptApproval is who approved the script, on which day (YYYY-MM-DD),
// and where the decision is written down, as the script states it.
type ScriptApproval struct {
	ApprovedBy []string `json:"approved_by"`
	Date       string   `json:"date"`
	Reference  string   `json:"reference,omitempty"`
}

// StartedStep is a step of the script as ceremony-started lists it.
type StartedStep struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Say is the step's text, inputs expanded, read aloud before it ran.
	Say   string `json:"say,omitempty"`
	Title string `json:"title"`
}

// Attendance records who is present: the actors. It has no data.
type Attendance struct{}

// Confirmed records that everyone in the listed roles confirmed a step.
type Confirmed struct {
	Said string `json:"said"`
}

// Choice records a participant's choice.
type Choice struct {
	Abort    bool   `json:"abort"`
	Question string `json:"question"`
	Value    string `json:"value"`
}

// Override records that a participant let the ceremony go on despite a
// failed safety check.
type Override struct {
	Check string `json:"check"`
	// Details says what the check found, for checks other than the
	// network's (share-holder: the share, its split, to whom it was
	// issued and who entered it).
	Details    Value  `json:"details,omitzero"`
	Interfaces Value  `json:"interfaces"`
	Reason     string `json:"reason"`
}

// Preflight records the environment.
type Preflight struct {
	Capabilities Value             `json:"capabilities"`
	Clock        map[string]string `json:"clock"`
	Host         map[string]string `json:"host"`
	Network      Value             `json:"network"`
	PKCS11Module File              `json:"pkcs11_module"`
	Token        Value             `json:"token"`
	TokenBlank   bool              `json:"token_blank"`
	Tool         Tool              `json:"tool"`
}

// Tool describes the program that wrote the transcript.
type Tool struct {
	Version     string   `json:"version"`
	GoVersion   string   `json:"go_version"`
	Revision    string   `json:"vcs_revision,omitempty"`
	Modified    bool     `json:"vcs_modified,omitempty"`
	Modules     []string `json:"modules"`
	Executable  string   `json:"executable"`
	ExecSHA256  string   `json:"executable_sha256"`
	ExecFailure string   `json:"executable_error,omitempty"`
}

// Exception records a deviation from the script noted by a participant.
type Exception struct {
	Action   string `json:"action"`
	Expected string `json:"expected"`
	Happened string `json:"happened"`
}

// HSMLogin records that the token accepted a PIN (never recorded), or
// the PIN derived from a quorum's shares.
type HSMLogin struct {
	// ActivationRecordFrom says where the record was read: token, file,
	// or token and file.
	ActivationRecordFrom   string       `json:"activation_record_from,omitempty"`
	ActivationRecordSHA256 string       `json:"activation_record_sha256,omitempty"`
	Attempt                int          `json:"attempt,omitempty"`
	Quorum                 *LoginQuorum `json:"quorum,omitempty"`
	Token                  Value        `json:"token"`
}

// LoginQuorum is the quorum whose shares a login rebuilt the PIN from.
type LoginQuorum struct {
	// EnteredBy names who entered each share, in the order of Shares.
	EnteredBy []string `json:"entered_by,omitempty"`
	Shares    []int    `json:"shares"`
	SplitID   string   `json:"split_id"`
	Threshold int      `json:"threshold"`
}

// HSMLoginFailed records that the token rejected a PIN.
type HSMLoginFailed struct {
	Attempt int `json:"attempt"`
}

// TokenInitialising is written just before a blank token is initialised.
type TokenInitialising struct {
	SplitID string `json:"split_id"`
	Token   Value  `json:"token"`
}

// TokenInitialised records a token initialised with derived PINs.
type TokenInitialised struct {
	ActivationRecord Labelled `json:"activation_record"`
	// ActivationRecordKept says where the record is kept: on the token
	// and as an artifact, or only as an artifact.
	ActivationRecordKept string `json:"activation_record_kept,omitempty"`
	// MinPINBits is the floor the script asked for the PINs' entropy.
	MinPINBits int `json:"min_pin_bits,omitempty"`
	// ObjectsFound counts the objects a token taken over (initialised
	// already) held, which stay.
	ObjectsFound int `json:"objects_found,omitempty"`
	// OwnershipTaken: the token had a security officer's PIN, typed
	// (never recorded) to take it over.
	OwnershipTaken bool   `json:"ownership_taken,omitempty"`
	PINDerivation  string `json:"pin_derivation"`
	// PINEntropyBits is the entropy of each derived PIN.
	PINEntropyBits int    `json:"pin_entropy_bits,omitempty"`
	PINLength      int    `json:"pin_length"`
	PINs           string `json:"pins"`
	Token          Value  `json:"token"`
}

// SharesSplit records a secret split among keyholders.
type SharesSplit struct {
	Holders  []Holder `json:"holders"`
	Manifest Value    `json:"manifest"`
}

// Holder is who received which share of a split.
type Holder struct {
	Share int    `json:"share"`
	Role  string `json:"role"`
	Name  string `json:"name"`
}

// ShareHandedOut records a keyholder who received their share and typed
// it back.
type ShareHandedOut struct {
	Attempts      int    `json:"attempts,omitempty"`
	MediaCopy     Value  `json:"media_copy,omitzero"`
	Purpose       string `json:"purpose"`
	RehearsalFile string `json:"rehearsal_file,omitempty"`
	Share         int    `json:"share"`
	ShareSHA256   string `json:"share_sha256"`
	SplitID       string `json:"split_id"`
}

// ShareTypebackFailed records a typed-back copy that differed.
type ShareTypebackFailed struct {
	Attempt int    `json:"attempt"`
	Problem string `json:"problem"`
	Share   int    `json:"share"`
}

// ShareRejected records a wrong share entered at a login or restore.
type ShareRejected struct {
	Attempt int    `json:"attempt"`
	Problem string `json:"problem"`
	SplitID string `json:"split_id"`
}

// KeyBackedUp records a key wrapped under a new backup key.
type KeyBackedUp struct {
	Attributes     Value  `json:"attributes"`
	BackupKeySplit string `json:"backup_key_split"`
	CheckedInHSM   string `json:"checked_in_hsm"`
	// CiphertextSHA256 is the SHA-256 of the ciphertext, recorded for
	// methods without an integrity check of their own (aes-cbc-pad).
	CiphertextSHA256 string `json:"ciphertext_sha256,omitempty"`
	DurationMS       int64  `json:"duration_ms"`
	ID               string `json:"id"`
	Label            string `json:"label"`
	Mechanism        string `json:"mechanism"`
	// MechanismCheck says how the mechanism was chosen (the RFC 5649
	// known-answer test and what each candidate did).
	MechanismCheck  string `json:"mechanism_check,omitempty"`
	Method          string `json:"method,omitempty"`
	Path            string `json:"path"`
	PublicKeySHA256 string `json:"public_key_sha256"`
	SHA256          string `json:"sha256"`
	Size            int    `json:"size"`
	WrappingKey     string `json:"wrapping_key"`
}

// BackupException records that, as the script says (method: none), a key
// has no backup, and who in the room approved that.
type BackupException struct {
	Algorithm       Value  `json:"algorithm"`
	ApprovedBy      string `json:"approved_by"`
	Attributes      Value  `json:"attributes"`
	ID              string `json:"id"`
	Label           string `json:"label"`
	PublicKeySHA256 string `json:"public_key_sha256"`
	Reason          string `json:"reason"`
	Statement       string `json:"statement"`
	StatementSHA256 string `json:"statement_sha256"`
}

// BackupKeyRebuilt records a backup key rebuilt from custodians' shares.
type BackupKeyRebuilt struct {
	Algorithm      Value          `json:"algorithm"`
	BackupFile     File           `json:"backup_file"`
	BackupKeySplit string         `json:"backup_key_split"`
	BackupLabel    string         `json:"backup_label"`
	Certificate    CertificateRef `json:"certificate"`
	Checks         []string       `json:"checks"`
	// EnteredBy names who entered each share, in the order of Shares.
	EnteredBy       []string `json:"entered_by,omitempty"`
	PublicKeySHA256 string   `json:"public_key_sha256"`
	Shares          []int    `json:"shares"`
}

// KeyRestored records a backed-up key unwrapped into the token.
type KeyRestored struct {
	Algorithm       Value          `json:"algorithm"`
	Attributes      Value          `json:"attributes"`
	BackupFile      File           `json:"backup_file"`
	BackupKeySplit  string         `json:"backup_key_split"`
	BackupLabel     string         `json:"backup_label"`
	Certificate     CertificateRef `json:"certificate"`
	Checks          []string       `json:"checks"`
	DurationMS      int64          `json:"duration_ms"`
	ID              string         `json:"id"`
	Label           string         `json:"label"`
	PublicKeySHA256 string         `json:"public_key_sha256"`
	Shares          []int          `json:"shares"`
	StoredOnToken   bool           `json:"stored_on_token"`
	Token           string         `json:"token"`
}

// TokenLeftInitialised records a token a failed ceremony initialised.
type TokenLeftInitialised struct {
	Token Value `json:"token"`
}

// ExtractionEnding is written just before a backed-up key is copied
// unmodifiable and non-extractable and its original destroyed.
type ExtractionEnding struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// KeyGenerating is written just before a key pair is generated: from here
// on, whatever a crash leaves on the token with this CKA_ID is the
// ceremony's, and close destroys it.
type KeyGenerating struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Token string `json:"token"`
}

// KeyRestoring is written just before a backed-up key is unwrapped into
// the token, with the CKA_ID it will get: as KeyGenerating.
type KeyRestoring struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Token string `json:"token"`
}

// KeyGenerated records a key pair generated in the token.
type KeyGenerated struct {
	Algorithm       Value  `json:"algorithm"`
	Attributes      Value  `json:"attributes"`
	DurationMS      int64  `json:"duration_ms"`
	ID              string `json:"id"`
	Label           string `json:"label"`
	PublicKeyPEM    string `json:"public_key_pem"`
	PublicKeySHA256 string `json:"public_key_sha256"`
	Template        string `json:"template"`
	Token           string `json:"token"`
}

// KeySelected records a key made at an earlier ceremony, found on a token.
type KeySelected struct {
	Attributes               Value          `json:"attributes"`
	Certificate              CertificateRef `json:"certificate"`
	CertificateStoredOnToken *bool          `json:"certificate_stored_on_token,omitempty"`
	Checks                   []string       `json:"checks,omitempty"`
	ID                       string         `json:"id"`
	Label                    string         `json:"label"`
	Pinned                   *bool          `json:"pinned,omitempty"`
	PublicKeySHA256          string         `json:"public_key_sha256"`
	Token                    string         `json:"token"`
	TokenName                string         `json:"token_name,omitempty"`
}

// Lint records zlint's run over exact to-be-signed content
// (lint-passed, lint-failed).
type Lint struct {
	Excluded  Value  `json:"excluded"`
	Findings  Value  `json:"findings"`
	Notices   Value  `json:"notices"`
	Passed    int    `json:"passed"`
	Ran       int    `json:"ran"`
	TBSSHA256 string `json:"tbs_sha256"`
	Zlint     string `json:"zlint"`
}

// LintPassed is the payload of lint-passed.
type LintPassed Lint

// LintFailed is the payload of lint-failed.
type LintFailed Lint

// SigningApproved records that every approver saw and approved what is
// signed. Extra fields (subject, serial, crl_number) depend on what.
type SigningApproved struct {
	ApprovedBy string `json:"approved_by"`
	CRLNumber  string `json:"crl_number,omitempty"`
	Serial     string `json:"serial,omitempty"`
	Shown      Value  `json:"shown"`
	Subject    string `json:"subject,omitempty"`
	TBSSHA256  string `json:"tbs_sha256"`
	What       string `json:"what"`
}

// SigningRefused records an approver who refused.
type SigningRefused struct {
	TBSSHA256 string `json:"tbs_sha256"`
}

// CertificateIssued records a certificate signed and checked.
type CertificateIssued struct {
	ApprovedBy         string   `json:"approved_by"`
	Checks             []string `json:"checks"`
	DurationMS         int64    `json:"duration_ms"`
	Issuer             string   `json:"issuer"`
	Key                Value    `json:"key"`
	NotAfter           string   `json:"not_after"`
	NotBefore          string   `json:"not_before"`
	Profile            string   `json:"profile"`
	PublicKeySHA256    string   `json:"public_key_sha256"`
	Serial             string   `json:"serial"`
	SHA256             string   `json:"sha256"`
	SignatureAlgorithm string   `json:"signature_algorithm"`
	SignedByKey        string   `json:"signed_by_key"`
	StoredOnToken      bool     `json:"stored_on_token"`
	Subject            string   `json:"subject"`
	TBSSHA256          string   `json:"tbs_sha256"`
	Template           string   `json:"template"`
	TemplateSHA256     string   `json:"template_sha256"`
}

// CRLIssued records a CRL signed and checked.
type CRLIssued struct {
	ApprovedBy     string   `json:"approved_by"`
	Checks         []string `json:"checks"`
	CRLNumber      string   `json:"crl_number"`
	DurationMS     int64    `json:"duration_ms"`
	Issuer         string   `json:"issuer"`
	IssuerSHA256   string   `json:"issuer_sha256"`
	NewlyRevoked   Value    `json:"newly_revoked"`
	NextUpdate     string   `json:"next_update"`
	PreviousCRL    string   `json:"previous_crl"`
	Revoked        Value    `json:"revoked"`
	SHA256         string   `json:"sha256"`
	SignedByKey    string   `json:"signed_by_key"`
	TBSSHA256      string   `json:"tbs_sha256"`
	Template       string   `json:"template"`
	TemplateSHA256 string   `json:"template_sha256"`
	ThisUpdate     string   `json:"this_update"`
}

// ArtifactWriting is written just before a file is linked under
// artifacts/: a file there with this SHA-256 is the ceremony's, even if
// its artifact-written event never followed.
type ArtifactWriting struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// ArtifactWritten records a file written under artifacts/.
type ArtifactWritten struct {
	// CertificateSHA256 is, for a certificate file, the certificate's
	// fingerprint: the SHA-256 of its DER, which differs from the file's
	// own SHA-256 (of the PEM text).
	CertificateSHA256 string `json:"certificate_sha256,omitempty"`
	Content           string `json:"content"`
	Format            string `json:"format,omitempty"`
	Path              string `json:"path"`
	SHA256            string `json:"sha256"`
	Size              int    `json:"size"`
	Source            string `json:"source"`
}

// KeyDestroyed records a key pair of an unfinished ceremony destroyed.
type KeyDestroyed KeyRef

// RollbackFailed records a key pair that could not be destroyed.
type RollbackFailed KeyRef

// ArtifactWithdrawn records an artifact of an unfinished ceremony deleted.
type ArtifactWithdrawn struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// TranscriptSealed is the last event of a completed ceremony.
type TranscriptSealed struct {
	Artifacts        Value          `json:"artifacts"`
	AuditCertificate CertificateRef `json:"audit_certificate"`
	AuditKey         KeyRef         `json:"audit_key"`
	ChainHash        string         `json:"chain_hash"`
	EventsBeforeSeal int            `json:"events_before_seal"`
	RootCertificate  CertificateRef `json:"root_certificate"`
	SealFile         string         `json:"seal_file"`
	SealFormat       string         `json:"seal_format"`
	Steps            int            `json:"steps"`
}

// CeremonyEnded is the last event of a ceremony that stopped
// (ceremony-failed, ceremony-aborted).
type CeremonyEnded struct {
	Error string `json:"error"`
	Step  string `json:"step"`
}

// CeremonyFailed is the payload of ceremony-failed.
type CeremonyFailed CeremonyEnded

// CeremonyAborted is the payload of ceremony-aborted.
type CeremonyAborted CeremonyEnded

// CeremonyClosed is the last event of a ceremony closed after an
// interruption.
type CeremonyClosed struct {
	AlreadyGone     []string `json:"already_gone"`
	Destroyed       []string `json:"destroyed"`
	LastEventBefore int      `json:"last_event_before"`
	Login           string   `json:"login,omitempty"`
	// TempFilesRemoved names the temporary files of writes cut short
	// that close removed (none was a complete file).
	TempFilesRemoved []string `json:"temp_files_removed,omitempty"`
	Token            Value    `json:"token,omitzero"`
	// TokenGone is the label of a token that was gone when the ceremony
	// was closed (its module listed no initialised token so labelled):
	// the keys on it were recorded as destroyed with it.
	TokenGone string `json:"token_gone,omitempty"`
	// TokenGoneReason is why the closer said that token is gone.
	TokenGoneReason string `json:"token_gone_reason,omitempty"`
	// TornTail is the cut-off last line close set aside, if there was one.
	TornTail  *TornTail `json:"torn_tail,omitempty"`
	Withdrawn []string  `json:"withdrawn"`
}

// TranscriptSealing announces the seal: the audit key about to sign the
// transcript. A ceremony killed after it and before its signature was
// kept is sealed by 'ceremony seal DIR' with this key.
type TranscriptSealing struct {
	AuditCertificate CertificateRef `json:"audit_certificate"`
	AuditKey         KeyRef         `json:"audit_key"`
}

// CeremonyClosing announces what a close is about to destroy and withdraw,
// before it changes anything: a close killed part-way leaves the
// transcript saying which keys and files it was taking away, so that
// verify does not mistake a file it removed for a file gone missing, and
// the next close finishes the job.
type CeremonyClosing struct {
	Destroying  []string `json:"destroying"`  // "label (id ID)" of each key pair
	Withdrawing []string `json:"withdrawing"` // artifact paths
}

// Inventory records equipment, seals or storage: what was read out and
// typed, or reported by the token, item by item.
type Inventory struct {
	Items []InventoryEntry `json:"items"`
}

// InventoryEntry is one item of an inventory.
type InventoryEntry struct {
	// Expected is the value the script required, if it named one.
	Expected  string `json:"expected,omitempty"`
	FromToken bool   `json:"from_token,omitempty"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

// TornTail is a cut-off last line, set aside in a file of its own.
type TornTail struct {
	Event  int    `json:"event"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

func (CeremonyStarted) EventType() string      { return TypeCeremonyStarted }
func (TranscriptSealing) EventType() string    { return TypeTranscriptSealing }
func (Inventory) EventType() string            { return TypeInventory }
func (CeremonyClosing) EventType() string      { return TypeCeremonyClosing }
func (Attendance) EventType() string           { return TypeAttendance }
func (Confirmed) EventType() string            { return TypeConfirmed }
func (Choice) EventType() string               { return TypeChoice }
func (Override) EventType() string             { return TypeOverride }
func (Preflight) EventType() string            { return TypePreflight }
func (Exception) EventType() string            { return TypeException }
func (HSMLogin) EventType() string             { return TypeHSMLogin }
func (HSMLoginFailed) EventType() string       { return TypeHSMLoginFailed }
func (TokenInitialising) EventType() string    { return TypeTokenInitialising }
func (TokenInitialised) EventType() string     { return TypeTokenInitialised }
func (SharesSplit) EventType() string          { return TypeSharesSplit }
func (ShareHandedOut) EventType() string       { return TypeShareHandedOut }
func (ShareTypebackFailed) EventType() string  { return TypeShareTypebackFailed }
func (ShareRejected) EventType() string        { return TypeShareRejected }
func (KeyBackedUp) EventType() string          { return TypeKeyBackedUp }
func (BackupException) EventType() string      { return TypeBackupException }
func (BackupKeyRebuilt) EventType() string     { return TypeBackupKeyRebuilt }
func (KeyRestored) EventType() string          { return TypeKeyRestored }
func (TokenLeftInitialised) EventType() string { return TypeTokenLeftInitialised }
func (ExtractionEnding) EventType() string     { return TypeExtractionEnding }
func (KeyRestoring) EventType() string         { return TypeKeyRestoring }
func (KeyGenerating) EventType() string        { return TypeKeyGenerating }
func (ArtifactWriting) EventType() string      { return TypeArtifactWriting }
func (KeyGenerated) EventType() string         { return TypeKeyGenerated }
func (KeySelected) EventType() string          { return TypeKeySelected }
func (LintPassed) EventType() string           { return TypeLintPassed }
func (LintFailed) EventType() string           { return TypeLintFailed }
func (SigningApproved) EventType() string      { return TypeSigningApproved }
func (SigningRefused) EventType() string       { return TypeSigningRefused }
func (CertificateIssued) EventType() string    { return TypeCertificateIssued }
func (CRLIssued) EventType() string            { return TypeCRLIssued }
func (ArtifactWritten) EventType() string      { return TypeArtifactWritten }
func (KeyDestroyed) EventType() string         { return TypeKeyDestroyed }
func (RollbackFailed) EventType() string       { return TypeRollbackFailed }
func (ArtifactWithdrawn) EventType() string    { return TypeArtifactWithdrawn }
func (TranscriptSealed) EventType() string     { return TypeTranscriptSealed }
func (CeremonyFailed) EventType() string       { return TypeCeremonyFailed }
func (CeremonyAborted) EventType() string      { return TypeCeremonyAborted }
func (CeremonyClosed) EventType() string       { return TypeCeremonyClosed }

// Payloads lists an empty payload of every event type, in the order the
// format documentation lists them.
var Payloads = []Payload{
	CeremonyStarted{}, Attendance{}, Confirmed{}, Inventory{}, Choice{}, Override{}, Preflight{}, Exception{},
	HSMLogin{}, HSMLoginFailed{}, TokenInitialising{}, TokenInitialised{}, SharesSplit{}, ShareHandedOut{},
	ShareTypebackFailed{}, ShareRejected{}, ExtractionEnding{}, KeyBackedUp{}, BackupException{}, BackupKeyRebuilt{}, KeyRestoring{}, KeyRestored{},
	TokenLeftInitialised{}, KeyGenerating{}, KeyGenerated{}, KeySelected{}, LintPassed{}, LintFailed{}, SigningApproved{},
	SigningRefused{}, CertificateIssued{}, CRLIssued{}, ArtifactWriting{}, ArtifactWritten{}, KeyDestroyed{}, RollbackFailed{},
	ArtifactWithdrawn{}, TranscriptSealing{}, TranscriptSealed{}, CeremonyFailed{}, CeremonyAborted{}, CeremonyClosing{}, CeremonyClosed{},
}
