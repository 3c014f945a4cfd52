// Package script reads ceremony scripts (scripts/*.yaml): the runbook of a
// ceremony as data. A script declares the roles that must be present, the
// named inputs it acts on, and an ordered list of steps, each either a human
// step (text read aloud, confirmed by roles, or a choice) or a machine step
// (preflight, attendance, HSM login, key generation, certificate issuance,
// artifact writing, and the seal that ends every script).
//
// Load decodes a script strictly and validates it as a whole before anything
// runs: unknown kinds, fields a kind does not use, duplicate ids, undeclared
// roles and inputs, references to missing or later steps, and steps in an
// impossible order are errors naming the file, line and YAML path. What needs
// other files (templates) is checked by the engine, which also reports by
// YAML path through Errorf.
package script

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/devicepki/ceremony/ceremony/qrimage"
	"github.com/devicepki/ceremony/ceremony/qrtransfer"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/devicepki/ceremony/ceremony/strictyaml"
)

// FormatVersion is the script format this package reads.
const FormatVersion = 1

// Step kinds.
const (
	KindConfirm          = "confirm"
	KindChoose           = "choose"
	KindAttendance       = "attendance"
	KindPreflight        = "preflight"
	KindHSMLogin         = "hsm-login"
	KindGenerateKey      = "generate-key"
	KindIssueCertificate = "issue-certificate"
	KindWriteArtifact    = "write-artifact"
	KindSeal             = "seal"
	// KindInitToken initialises a blank HSM token with PINs derived from a
	// fresh activation secret, split among a quorum of keyholders.
	KindInitToken = "init-token"
	// KindHandOutShares gives each keyholder of a split their share, in
	// turn, and has them type it back.
	KindHandOutShares = "hand-out-shares"
	// KindBackupKey wraps a generated key under a fresh backup key and
	// splits the backup key among a quorum of custodians.
	KindBackupKey = "backup-key"
	// KindRebuildBackupKey reads a backup file and the certificate its key
	// must match, and rebuilds the backup key from custodians' shares,
	// checked against the backup's manifest. It touches no token, so a
	// script puts it before init-token: a wrong backup key is refused
	// before anything is created. The key is held in memory for the
	// restore-key step that names it as its source.
	KindRebuildBackupKey = "rebuild-backup-key"
	// KindRestoreKey unwraps a backed-up key into the token with the
	// backup key an earlier rebuild-backup-key step rebuilt.
	KindRestoreKey = "restore-key"
	// KindUseKey finds a key pair made at an earlier ceremony on the
	// token, with the certificate stored beside it (the root, to sign);
	// or, with token, on a second token, with its certificate given as a
	// file and checked to chain to the root (an intermediate CA's key).
	KindUseKey = "use-key"
	// KindIssueCRL revokes certificates: the issuer signs a CRL listing
	// them and every earlier revocation.
	KindIssueCRL = "issue-crl"
	// KindExportQR writes the sealed transcript and the public artifacts
	// as QR codes to OUT/qr/ (package qrtransfer). It comes after the
	// seal, as the only kind that may, and records nothing.
	KindExportQR = "export-qr"
)

// Artifact formats a write-artifact step can write.
const (
	FormatCertificate  = "certificate"    // NAME.crt.pem
	FormatChain        = "chain"          // NAME.chain.pem: the certificate and its issuers up to the root
	FormatPublicKey    = "public-key"     // NAME.pub.pem: SubjectPublicKeyInfo, PEM
	FormatPublicKeyDER = "public-key-der" // NAME.pub.der: SubjectPublicKeyInfo, DER
	FormatPublicKeyRaw = "public-key-raw" // NAME.pub.raw: the bare key (EC point, or PKCS#1 RSA key)
	FormatCRL          = "crl"            // NAME.crl.pem
)

// formatSuffix is the file name suffix of each format.
var formatSuffix = map[string]string{
	FormatCertificate: ".crt.pem", FormatChain: ".chain.pem", FormatPublicKey: ".pub.pem",
	FormatPublicKeyDER: ".pub.der", FormatPublicKeyRaw: ".pub.raw", FormatCRL: ".crl.pem",
}

// NoPreviousCRL is the previous_crl value of an issuer's first CRL.
const NoPreviousCRL = "none"

// NoCSR is the value of the input an issue-certificate step with both
// csr and throwaway_key names when no CSR is given: the certificate is
// then for a throwaway key.
const NoCSR = "none"

// IssuerSelf is the issue-certificate issuer that means self-signed.
const IssuerSelf = "self"

// Script is a validated ceremony script.
type Script struct {
	// Path is the file the script was read from; SHA256 the hex digest of
	// its bytes.
	Path   string `yaml:"-"`
	SHA256 string `yaml:"-"`

	Version     int     `yaml:"version"`
	Name        string  `yaml:"name"`
	Title       string  `yaml:"title"`
	Description string  `yaml:"description"`
	Roles       []Role  `yaml:"roles"`
	Inputs      []Input `yaml:"inputs"`
	Steps       []Step  `yaml:"steps"`

	doc *strictyaml.Document
}

// Role is a kind of participant and how many of them must be present.
type Role struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Min people of this role must attend (at least 1).
	Min int `yaml:"min"`
	// Max people may attend; 0 means no limit.
	Max int `yaml:"max"`
}

// Input is a named value given with --input NAME=VALUE.
type Input struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Default     *string `yaml:"default"`
}

// Step is one step of a script. Which fields apply depends on Kind; Load
// rejects fields a kind does not use.
type Step struct {
	ID    string `yaml:"id"`
	Kind  string `yaml:"kind"`
	Title string `yaml:"title"`
	// Say is read aloud by the administrator before the step runs. It may
	// use ${input} references.
	Say string `yaml:"say"`

	// Confirm lists the roles whose every attendee confirms (confirm).
	Confirm []string `yaml:"confirm"`
	// By is the role that acts (choose, hsm-login).
	By string `yaml:"by"`
	// NetworkOverrideBy is the role that may let the ceremony go on while a
	// network interface other than loopback is up (preflight). Empty means
	// a live interface stops the ceremony.
	NetworkOverrideBy string `yaml:"network_override_by"`
	// Options are the answers to choose from (choose).
	Options []Option `yaml:"options"`

	// Template names a certificate template in templates/ (generate-key,
	// issue-certificate).
	Template string `yaml:"template"`
	// Label is the HSM label of a new key (generate-key), or of the audit
	// key that seals the transcript (seal); may use ${input}.
	Label string `yaml:"label"`
	// Key is the id of the generate-key step whose key is certified
	// (issue-certificate).
	Key string `yaml:"key"`
	// Issuer is "self" for a self-signed certificate, or the id of an
	// earlier issue-certificate step whose certificate and key issue this
	// one (issue-certificate). For use-key with token, the earlier use-key
	// step on the ceremony's main token (the root) whose certificate
	// issued the certificate of the key found: the chain is checked.
	Issuer string `yaml:"issuer"`
	// Source is the id of the step whose output is written (write-artifact),
	// or of the rebuild-backup-key step whose backup is restored
	// (restore-key).
	Source string `yaml:"source"`
	// Name is the artifact's base name (write-artifact): NAME.crt.pem for a
	// certificate, NAME.pub.pem for a public key; NAME.backup for the
	// wrapped key (backup-key).
	Name string `yaml:"name"`

	// Quorum says which role holds the shares of a split and how many
	// are needed (init-token, backup-key: role, threshold and shares;
	// hsm-login, rebuild-backup-key: role only, the rest is on record).
	Quorum *Quorum `yaml:"quorum"`
	// Split is the id of the init-token or backup-key step whose shares
	// are handed out (hand-out-shares).
	Split string `yaml:"split"`
	// AllowUntrustedWrap lets a backup go ahead on a module that cannot
	// restrict wrapping to trusted keys (backup-key). Default: refuse.
	AllowUntrustedWrap bool `yaml:"allow_untrusted_wrap"`
	// Backup is the path of the backup file to restore, and Certificate
	// the path of the certificate its key must match (rebuild-backup-key);
	// both may use ${input}.
	Backup      string `yaml:"backup"`
	Certificate string `yaml:"certificate"`

	// CSR is the path of the certificate signing request whose key and
	// subject are certified (issue-certificate); may use ${input}.
	CSR string `yaml:"csr"`
	// ThrowawayKey certifies a fresh software key that is discarded at
	// once (issue-certificate): a cloud CA's verification certificate
	// proves the issuer's key, not the subject's. Together with csr, which
	// must then be one ${input} reference alone whose default is "none"
	// (NoCSR), it means a throwaway key unless that input names a CSR.
	ThrowawayKey bool `yaml:"throwaway_key"`
	// Subject gives the values of the attributes the template requests
	// (issue-certificate with key or throwaway_key); values may use
	// ${input}. With csr and throwaway_key together, a CSR given must
	// request exactly this subject.
	Subject map[string]string `yaml:"subject"`
	// ApprovedBy is the role whose every attendee approves the decoded
	// content before the HSM signs it (issue-certificate, issue-crl).
	ApprovedBy string `yaml:"approved_by"`
	// Revocations is the path of the revocations file listing what to
	// revoke and why (issue-crl); may use ${input}.
	Revocations string `yaml:"revocations"`
	// PreviousCRL is the latest CRL the issuer signed before (a path), or
	// "none" for its first (issue-crl); may use ${input}. The new CRL
	// follows it: the next number, every entry it lists.
	PreviousCRL string `yaml:"previous_crl"`
	// Formats are the files a write-artifact step writes; see the Format
	// constants. The default is the certificate, the public key, or the
	// CRL, as the source is.
	Formats []string `yaml:"formats"`
	// Token names one of the HSM config's other_tokens (hsm-login,
	// generate-key, use-key): a second token, such as the firmware build
	// system's or a factory's. Empty means the ceremony's main token.
	Token string `yaml:"token"`
	// FrameBytes is the most bundle bytes per QR frame (export-qr); 0
	// means the default.
	FrameBytes int `yaml:"frame_bytes"`
	// ECC is the QR error-correction level, L, M, Q or H (export-qr);
	// empty means the default.
	ECC string `yaml:"ecc"`
}

// Quorum is an M-of-N split among the people of one role.
type Quorum struct {
	Role string `yaml:"role"`
	// Threshold (M) shares rebuild the secret.
	Threshold int `yaml:"threshold"`
	// Shares (N) is how many keyholders receive one.
	Shares int `yaml:"shares"`
}

// MaxShares bounds N: a share per keyholder, at most 255 (Shamir over
// GF(2^8)); a real quorum is far smaller.
const MaxShares = 255

// Option is one possible answer to a choose step.
type Option struct {
	Value string `yaml:"value"`
	Text  string `yaml:"text"`
	// Abort means choosing this option stops the ceremony.
	Abort bool `yaml:"abort"`
}

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	inputRE    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	inputRefRE = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// Load reads and validates the script at path.
func Load(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("script %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a script read from path.
func Parse(path string, data []byte) (*Script, error) {
	s := &Script{}
	doc, err := strictyaml.Decode(path, data, s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	s.Path, s.SHA256, s.doc = path, hex.EncodeToString(sum[:]), doc
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Errorf reports a problem with the value at a YAML path of the script,
// naming the file and line.
func (s *Script) Errorf(path, format string, args ...any) error {
	return s.doc.Errorf(path, format, args...)
}

// Role returns the declared role called name.
func (s *Script) Role(name string) (Role, bool) {
	if i := s.roleIndex(name); i >= 0 {
		return s.Roles[i], true
	}
	return Role{}, false
}

// StepIndex returns the index of the step with the given id, or -1.
func (s *Script) StepIndex(id string) int {
	return indexBy(s.Steps, func(st Step) string { return st.ID }, id)
}

func (s *Script) roleIndex(name string) int {
	return indexBy(s.Roles, func(r Role) string { return r.Name }, name)
}

func (s *Script) inputIndex(name string) int {
	return indexBy(s.Inputs, func(in Input) string { return in.Name }, name)
}

// indexBy returns the index of the first element of list whose name is
// want, or -1.
func indexBy[T any](list []T, name func(T) string, want string) int {
	for i, x := range list {
		if name(x) == want {
			return i
		}
	}
	return -1
}

// fieldsUsed lists, per kind, the optional fields it may carry besides id,
// kind, title and say.
var fieldsUsed = map[string][]string{
	KindConfirm:          {"confirm"},
	KindChoose:           {"by", "options"},
	KindAttendance:       {},
	KindPreflight:        {"network_override_by"},
	KindHSMLogin:         {"by", "quorum", "token"},
	KindGenerateKey:      {"template", "label", "token"},
	KindIssueCertificate: {"template", "key", "issuer", "csr", "throwaway_key", "subject", "approved_by"},
	KindWriteArtifact:    {"source", "name", "formats"},
	KindUseKey:           {"label", "certificate", "token", "issuer"},
	KindIssueCRL:         {"template", "issuer", "revocations", "previous_crl", "approved_by"},
	KindSeal:             {"label"},
	KindInitToken:        {"quorum"},
	KindHandOutShares:    {"split"},
	KindBackupKey:        {"key", "name", "quorum", "allow_untrusted_wrap"},
	KindRebuildBackupKey: {"backup", "certificate", "quorum"},
	KindRestoreKey:       {"source", "label"},
	KindExportQR:         {"frame_bytes", "ecc"},
}

// optionalFields lists every optional field, in the order errors name them.
var optionalFields = []string{"confirm", "by", "network_override_by", "options", "template", "label", "key", "issuer",
	"source", "name", "quorum", "split", "allow_untrusted_wrap", "backup", "certificate", "csr", "throwaway_key", "subject",
	"approved_by", "revocations", "previous_crl", "formats", "token", "frame_bytes", "ecc"}

// setFields returns the optional fields a step sets.
func (st *Step) setFields() map[string]bool {
	return map[string]bool{
		"confirm": len(st.Confirm) > 0, "by": st.By != "", "options": len(st.Options) > 0,
		"network_override_by": st.NetworkOverrideBy != "",
		"template":            st.Template != "", "label": st.Label != "", "key": st.Key != "",
		"issuer": st.Issuer != "", "source": st.Source != "", "name": st.Name != "",
		"quorum": st.Quorum != nil, "split": st.Split != "", "allow_untrusted_wrap": st.AllowUntrustedWrap,
		"backup": st.Backup != "", "certificate": st.Certificate != "",
		"csr": st.CSR != "", "throwaway_key": st.ThrowawayKey, "subject": len(st.Subject) > 0,
		"approved_by": st.ApprovedBy != "", "revocations": st.Revocations != "", "formats": len(st.Formats) > 0,
		"previous_crl": st.PreviousCRL != "",
		"token":        st.Token != "",
		"frame_bytes":  st.FrameBytes != 0, "ecc": st.ECC != "",
	}
}

func kindList() string {
	return strings.Join([]string{KindAttendance, KindPreflight, KindConfirm, KindChoose, KindInitToken, KindHSMLogin,
		KindHandOutShares, KindGenerateKey, KindUseKey, KindIssueCertificate, KindIssueCRL, KindWriteArtifact, KindBackupKey,
		KindRebuildBackupKey, KindRestoreKey, KindSeal, KindExportQR}, ", ")
}

func (s *Script) validate() error {
	switch {
	case s.Version != FormatVersion:
		return s.Errorf("version", "must be %d (this tool reads script format %d)", FormatVersion, FormatVersion)
	case !nameRE.MatchString(s.Name):
		return s.Errorf("name", "%q: use lower-case letters, digits and '-'", s.Name)
	case strings.TrimSpace(s.Title) == "":
		return s.Errorf("title", "required")
	case len(s.Roles) == 0:
		return s.Errorf("roles", "declare at least one role")
	case len(s.Steps) == 0:
		return s.Errorf("steps", "a script needs steps")
	}
	for i, r := range s.Roles {
		p := fmt.Sprintf("roles[%d]", i)
		switch {
		case !nameRE.MatchString(r.Name):
			return s.Errorf(p+".name", "%q: use lower-case letters, digits and '-'", r.Name)
		case s.roleIndex(r.Name) != i:
			return s.Errorf(p+".name", "role %q declared twice", r.Name)
		case r.Min < 1:
			return s.Errorf(p+".min", "must be at least 1")
		case r.Max != 0 && r.Max < r.Min:
			return s.Errorf(p+".max", "%d is less than min %d (0 means no limit)", r.Max, r.Min)
		}
	}
	for i, in := range s.Inputs {
		p := fmt.Sprintf("inputs[%d]", i)
		switch {
		case !inputRE.MatchString(in.Name):
			return s.Errorf(p+".name", "%q: use lower-case letters, digits and '_'", in.Name)
		case s.inputIndex(in.Name) != i:
			return s.Errorf(p+".name", "input %q declared twice", in.Name)
		case strings.TrimSpace(in.Description) == "":
			return s.Errorf(p+".description", "required: say what the value is")
		}
		if in.Default != nil {
			if err := CheckInputValue(*in.Default); err != nil {
				return s.Errorf(p+".default", "%v", err)
			}
		}
	}

	var (
		attendanceAt, preflightAt, loginAt, activationAt = -1, -1, -1, -1
		artifactFiles                                    = map[string]int{}
		splits                                           = map[string]int{} // split step id -> hand-out step index, or -1
		backedUp                                         = map[string]int{} // generate-key step id -> backup-key step index
		otherLogins                                      = map[string]int{} // other token name -> its hsm-login step index
		rebuilt                                          = map[string]int{} // rebuild-backup-key step id -> restore-key step index, or -1
	)
	sealAt := -1
	for i := range s.Steps {
		st := &s.Steps[i]
		p := fmt.Sprintf("steps[%d]", i)
		used, ok := fieldsUsed[st.Kind]
		if sealAt >= 0 && st.Kind != KindExportQR && ok {
			return s.Errorf(p+".kind", "a %s step after the seal (steps[%d]): nothing may be recorded after it; only %s may follow", st.Kind, sealAt, KindExportQR)
		}
		switch {
		case !nameRE.MatchString(st.ID):
			return s.Errorf(p+".id", "%q: use lower-case letters, digits and '-'", st.ID)
		case s.StepIndex(st.ID) != i:
			return s.Errorf(p+".id", "duplicate step id %q (first used by steps[%d])", st.ID, s.StepIndex(st.ID))
		case st.Kind == "":
			return s.Errorf(p+".kind", "required (one of: %s)", kindList())
		case !ok:
			return s.Errorf(p+".kind", "unknown step kind %q (known: %s)", st.Kind, kindList())
		case strings.TrimSpace(st.Title) == "":
			return s.Errorf(p+".title", "required: a short heading for the step list")
		}
		allowed := map[string]bool{}
		for _, f := range used {
			allowed[f] = true
		}
		for _, f := range optionalFields {
			if st.setFields()[f] && !allowed[f] {
				return s.Errorf(p+"."+f, "not used by a %s step", st.Kind)
			}
		}
		refs := map[string]string{"say": st.Say, "title": st.Title, "label": st.Label, "backup": st.Backup, "certificate": st.Certificate,
			"csr": st.CSR, "revocations": st.Revocations, "previous_crl": st.PreviousCRL}
		for _, f := range []string{"say", "title", "label", "backup", "certificate", "csr", "revocations", "previous_crl"} {
			if err := s.checkRefs(p+"."+f, refs[f]); err != nil {
				return err
			}
		}
		for _, k := range sortedKeysOf(st.Subject) {
			if err := s.checkRefs(p+".subject."+k, st.Subject[k]); err != nil {
				return err
			}
		}
		needsPeople := st.Kind == KindConfirm || st.Kind == KindChoose || st.Kind == KindHSMLogin || st.NetworkOverrideBy != "" ||
			st.Quorum != nil || st.Kind == KindHandOutShares || st.ApprovedBy != ""
		if needsPeople && attendanceAt < 0 {
			return s.Errorf(p, "a %s step needs people: put the attendance step before it", st.Kind)
		}

		switch st.Kind {
		case KindAttendance:
			if attendanceAt >= 0 {
				return s.Errorf(p+".kind", "only one attendance step (steps[%d] is one)", attendanceAt)
			}
			attendanceAt = i
		case KindPreflight:
			if preflightAt >= 0 {
				return s.Errorf(p+".kind", "only one preflight step (steps[%d] is one)", preflightAt)
			}
			preflightAt = i
			if st.NetworkOverrideBy != "" {
				if err := s.checkRole(p+".network_override_by", st.NetworkOverrideBy); err != nil {
					return err
				}
			}
		case KindConfirm:
			if strings.TrimSpace(st.Say) == "" {
				return s.Errorf(p+".say", "required: the text the people confirm")
			}
			if len(st.Confirm) == 0 {
				return s.Errorf(p+".confirm", "list the roles that confirm this step")
			}
			for j, r := range st.Confirm {
				if err := s.checkRole(fmt.Sprintf("%s.confirm[%d]", p, j), r); err != nil {
					return err
				}
				if slices.Index(st.Confirm, r) != j {
					return s.Errorf(fmt.Sprintf("%s.confirm[%d]", p, j), "role %q listed twice", r)
				}
			}
		case KindChoose:
			if strings.TrimSpace(st.Say) == "" {
				return s.Errorf(p+".say", "required: the question")
			}
			if err := s.checkRole(p+".by", st.By); err != nil {
				return err
			}
			if err := s.checkOptions(p, st.Options); err != nil {
				return err
			}
		case KindHSMLogin, KindInitToken:
			if st.Token != "" {
				if err := s.checkOtherLogin(p, st, loginAt, otherLogins); err != nil {
					return err
				}
				otherLogins[st.Token] = i
				break
			}
			if loginAt >= 0 {
				return s.Errorf(p+".kind", "the HSM is opened once: steps[%d] already logs in or initialises the token", loginAt)
			}
			if preflightAt < 0 {
				return s.Errorf(p, "%s must come after the preflight step", st.Kind)
			}
			loginAt = i
			if st.Kind == KindInitToken {
				if err := s.checkQuorum(p, st.Quorum, true); err != nil {
					return err
				}
				activationAt = i
				splits[st.ID] = -1
				break
			}
			switch {
			case st.By != "" && st.Quorum != nil:
				return s.Errorf(p+".quorum", "give by (one person enters the PIN) or quorum (keyholders enter activation shares), not both")
			case st.Quorum != nil:
				if err := s.checkQuorum(p, st.Quorum, false); err != nil {
					return err
				}
				activationAt = i
			default:
				if err := s.checkRole(p+".by", st.By); err != nil {
					return err
				}
			}
		case KindHandOutShares:
			if err := s.checkEarlier(p+".split", st.Split, i, KindInitToken, KindBackupKey); err != nil {
				return err
			}
			if j := splits[st.Split]; j >= 0 {
				return s.Errorf(p+".split", "the shares of step %q are already handed out by steps[%d]", st.Split, j)
			}
			splits[st.Split] = i
		case KindBackupKey:
			if activationAt < 0 {
				return s.Errorf(p, "backup-key needs the HSM's security officer, whose PIN comes from the activation shares: put an init-token step, or an hsm-login step with a quorum, before it")
			}
			if err := s.checkEarlier(p+".key", st.Key, i, KindGenerateKey); err != nil {
				return err
			}
			if j, dup := backedUp[st.Key]; dup {
				return s.Errorf(p+".key", "key %q is already backed up by steps[%d]", st.Key, j)
			}
			backedUp[st.Key] = i
			if err := s.checkArtifactName(p, st, i, artifactFiles); err != nil {
				return err
			}
			if err := s.checkQuorum(p, st.Quorum, true); err != nil {
				return err
			}
			splits[st.ID] = -1
		case KindRebuildBackupKey:
			for _, f := range []struct{ name, v string }{{"backup", st.Backup}, {"certificate", st.Certificate}} {
				if strings.TrimSpace(f.v) == "" {
					return s.Errorf(p+"."+f.name, "required")
				}
			}
			if err := s.checkQuorum(p, st.Quorum, false); err != nil {
				return err
			}
			if loginAt >= 0 && s.Steps[loginAt].Kind == KindInitToken {
				return s.Errorf(p, "rebuild-backup-key must come before the init-token step (steps[%d]), so that a wrong backup key is refused before the token is initialised", loginAt)
			}
			rebuilt[st.ID] = -1
		case KindRestoreKey:
			if activationAt < 0 {
				return s.Errorf(p, "restore-key needs the HSM's security officer, whose PIN comes from the activation shares: put an init-token step, or an hsm-login step with a quorum, before it")
			}
			if err := s.checkEarlier(p+".source", st.Source, i, KindRebuildBackupKey); err != nil {
				return err
			}
			if j := rebuilt[st.Source]; j >= 0 {
				return s.Errorf(p+".source", "the backup key of step %q is already used by steps[%d]", st.Source, j)
			}
			rebuilt[st.Source] = i
			if strings.TrimSpace(st.Label) == "" {
				return s.Errorf(p+".label", "required: the HSM label of the restored key")
			}
		case KindGenerateKey:
			if loginAt < 0 {
				return s.Errorf(p, "generate-key needs the HSM: put an hsm-login or init-token step before it")
			}
			if err := s.checkTemplateName(p, st.Template); err != nil {
				return err
			}
			if st.Label == "" {
				return s.Errorf(p+".label", "required: the HSM label of the new key")
			}
			if _, ok := otherLogins[st.Token]; st.Token != "" && !ok {
				return s.Errorf(p+".token", "nobody logs in to token %q before this step: put an hsm-login step with token: %s before it", st.Token, st.Token)
			}
		case KindUseKey:
			if loginAt < 0 {
				return s.Errorf(p, "use-key needs the HSM: put an hsm-login step before it")
			}
			if st.Label == "" {
				return s.Errorf(p+".label", "required: the HSM label of the key to use")
			}
			if err := s.checkUseKey(p, st, i, otherLogins); err != nil {
				return err
			}
		case KindIssueCertificate:
			if err := s.checkIssueCertificate(p, st, i, loginAt); err != nil {
				return err
			}
		case KindIssueCRL:
			if loginAt < 0 {
				return s.Errorf(p, "issue-crl needs the HSM: put an hsm-login step before it")
			}
			if err := s.checkTemplateName(p, st.Template); err != nil {
				return err
			}
			if err := s.checkEarlier(p+".issuer", st.Issuer, i, KindUseKey, KindRestoreKey, KindIssueCertificate); err != nil {
				return err
			}
			if strings.TrimSpace(st.Revocations) == "" {
				return s.Errorf(p+".revocations", "required: the revocations file (what to revoke, and why)")
			}
			if strings.TrimSpace(st.PreviousCRL) == "" {
				return s.Errorf(p+".previous_crl", "required: the issuer's latest CRL (a file), or %q for its first", NoPreviousCRL)
			}
			if err := s.checkRole(p+".approved_by", st.ApprovedBy); err != nil {
				return s.Errorf(p+".approved_by", "required: the role whose every member approves the CRL before it is signed")
			}
		case KindWriteArtifact:
			if err := s.checkEarlier(p+".source", st.Source, i, KindGenerateKey, KindIssueCertificate, KindIssueCRL); err != nil {
				return err
			}
			if err := s.checkFormats(p, st); err != nil {
				return err
			}
			if err := s.checkArtifactName(p, st, i, artifactFiles); err != nil {
				return err
			}
		case KindExportQR:
			if sealAt < 0 {
				return s.Errorf(p+".kind", "%s exports the sealed transcript: put it after the seal step", KindExportQR)
			}
			if j := s.kindAt(KindExportQR); j != i {
				return s.Errorf(p+".kind", "only one %s step (steps[%d] is one)", KindExportQR, j)
			}
			if err := checkQR(st); err != nil {
				return s.Errorf(p+"."+err.field, "%v", err.err)
			}
		case KindSeal:
			if sealAt >= 0 {
				return s.Errorf(p+".kind", "only one seal step (steps[%d] is one)", sealAt)
			}
			sealAt = i
			if loginAt < 0 {
				return s.Errorf(p, "seal needs the HSM's audit key: put an hsm-login or init-token step before it")
			}
			if st.Label == "" {
				return s.Errorf(p+".label", "required: the HSM label of the transcript-signing (audit) key")
			}
		}
	}
	if attendanceAt < 0 {
		return s.Errorf("steps", "no attendance step: a ceremony records who is present")
	}
	if preflightAt < 0 {
		return s.Errorf("steps", "no preflight step: a ceremony records its environment")
	}
	for _, id := range sortedSplits(splits) {
		if splits[id] < 0 {
			return s.Errorf(fmt.Sprintf("steps[%d]", s.StepIndex(id)), "nobody receives the shares of step %q: add a %s step with split: %s", id, KindHandOutShares, id)
		}
	}
	for _, id := range sortedSplits(rebuilt) {
		if rebuilt[id] < 0 {
			return s.Errorf(fmt.Sprintf("steps[%d]", s.StepIndex(id)), "nothing restores with the backup key of step %q: add a %s step with source: %s", id, KindRestoreKey, id)
		}
	}
	if sealAt < 0 {
		return s.Errorf(fmt.Sprintf("steps[%d]", len(s.Steps)-1), "the last step must be a seal step (followed at most by %s): every transcript ends sealed by the audit key", KindExportQR)
	}
	return nil
}

// kindAt returns the index of the first step of kind, or -1.
func (s *Script) kindAt(kind string) int {
	for i := range s.Steps {
		if s.Steps[i].Kind == kind {
			return i
		}
	}
	return -1
}

type fieldError struct {
	field string
	err   error
}

// checkQR checks an export-qr step's frame size and error correction.
func checkQR(st *Step) *fieldError {
	opts := qrtransfer.Options{FrameBytes: st.FrameBytes}
	if st.ECC != "" {
		l, err := qrimage.ParseLevel(st.ECC)
		if err != nil {
			return &fieldError{"ecc", err}
		}
		opts.Level = l
	}
	if err := opts.Check(); err != nil {
		return &fieldError{"frame_bytes", err}
	}
	return nil
}

// sortedSplits returns the split step ids in alphabetical order, so that
// errors come in a stable order.
func sortedSplits(splits map[string]int) []string {
	ids := make([]string, 0, len(splits))
	for id := range splits {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// checkArtifactName checks the artifact name of a write-artifact or
// backup-key step and that no other step writes the same file.
func (s *Script) checkArtifactName(p string, st *Step, i int, files map[string]int) error {
	if !nameRE.MatchString(st.Name) {
		return s.Errorf(p+".name", "%q: use lower-case letters, digits and '-'", st.Name)
	}
	for _, file := range s.ArtifactFiles(st) {
		if j, dup := files[file]; dup {
			return s.Errorf(p+".name", "artifact %s is already written by steps[%d]", file, j)
		}
		files[file] = i
	}
	return nil
}

// checkQuorum checks a step's quorum: a declared role, and for a new split
// (full) a threshold of at least 2 and no more shares than MaxShares and
// the role admits; for a split on record only the role.
func (s *Script) checkQuorum(p string, q *Quorum, full bool) error {
	if q == nil {
		if full {
			return s.Errorf(p+".quorum", "required: {role: ROLE, threshold: M, shares: N}")
		}
		return s.Errorf(p+".quorum", "required: {role: ROLE}")
	}
	qp := p + ".quorum"
	if err := s.checkRole(qp+".role", q.Role); err != nil {
		return err
	}
	if !full {
		if q.Threshold != 0 || q.Shares != 0 {
			return s.Errorf(qp, "give only the role: the threshold is on record with the split")
		}
		return nil
	}
	r, _ := s.Role(q.Role)
	switch {
	case q.Threshold < 2:
		return s.Errorf(qp+".threshold", "must be at least 2: one keyholder alone must not suffice")
	case q.Shares < q.Threshold:
		return s.Errorf(qp+".shares", "%d is less than the threshold %d", q.Shares, q.Threshold)
	case q.Shares > MaxShares:
		return s.Errorf(qp+".shares", "at most %d", MaxShares)
	case r.Min != q.Shares || r.Max != q.Shares:
		return s.Errorf(qp+".shares", "every %s receives a share, so exactly %d must attend: set the role's min and max to %d", q.Role, q.Shares, q.Shares)
	}
	return nil
}

// ArtifactFile returns the first file name a write-artifact or backup-key
// step writes under artifacts/.
func (s *Script) ArtifactFile(st *Step) string { return s.ArtifactFiles(st)[0] }

// ArtifactFiles returns the file names a write-artifact or backup-key step
// writes under artifacts/, in the order of its formats.
func (s *Script) ArtifactFiles(st *Step) []string {
	if st.Kind == KindBackupKey {
		return []string{st.Name + ".backup"}
	}
	var out []string
	for _, f := range s.ArtifactFormats(st) {
		out = append(out, st.Name+formatSuffix[f])
	}
	return out
}

// ArtifactFormats returns the formats a write-artifact step writes: those
// it lists, or the default for its source.
func (s *Script) ArtifactFormats(st *Step) []string {
	if len(st.Formats) > 0 {
		return st.Formats
	}
	if src := s.StepIndex(st.Source); src >= 0 {
		switch s.Steps[src].Kind {
		case KindGenerateKey:
			return []string{FormatPublicKey}
		case KindIssueCRL:
			return []string{FormatCRL}
		}
	}
	return []string{FormatCertificate}
}

// checkFormats checks a write-artifact step's formats against its source.
func (s *Script) checkFormats(p string, st *Step) error {
	src := &s.Steps[s.StepIndex(st.Source)]
	var allowed []string
	switch src.Kind {
	case KindGenerateKey:
		allowed = []string{FormatPublicKey, FormatPublicKeyDER, FormatPublicKeyRaw}
	case KindIssueCertificate:
		allowed = []string{FormatCertificate, FormatChain, FormatPublicKey, FormatPublicKeyDER, FormatPublicKeyRaw}
		if src.Issuer == IssuerSelf {
			allowed = slices.DeleteFunc(allowed, func(f string) bool { return f == FormatChain })
		}
	case KindIssueCRL:
		allowed = []string{FormatCRL}
	}
	for j, f := range st.Formats {
		fp := fmt.Sprintf("%s.formats[%d]", p, j)
		if !slices.Contains(allowed, f) {
			return s.Errorf(fp, "%q: a %s source can be written as %s", f, src.Kind, strings.Join(allowed, ", "))
		}
		if slices.Index(st.Formats, f) != j {
			return s.Errorf(fp, "%q listed twice", f)
		}
	}
	return nil
}

// checkIssueCertificate checks an issue-certificate step: the key it
// certifies (a generated key, a CSR, or a throwaway key), its issuer, and
// who approves it.
func (s *Script) checkIssueCertificate(p string, st *Step, i, loginAt int) error {
	if loginAt < 0 {
		return s.Errorf(p, "issue-certificate needs the HSM: put an hsm-login or init-token step before it")
	}
	if err := s.checkTemplateName(p, st.Template); err != nil {
		return err
	}
	sources := 0
	for _, set := range []bool{st.Key != "", st.CSR != "", st.ThrowawayKey} {
		if set {
			sources++
		}
	}
	csrOrThrowaway := st.Key == "" && st.CSR != "" && st.ThrowawayKey
	if sources != 1 && !csrOrThrowaway {
		return s.Errorf(p, "give exactly one of key (a key generated in this ceremony), csr (a certificate signing request) or throwaway_key: true (or csr: ${INPUT} with throwaway_key: true, for a throwaway key unless a CSR is given)")
	}
	if st.Key != "" {
		if err := s.checkEarlier(p+".key", st.Key, i, KindGenerateKey); err != nil {
			return err
		}
	}
	if csrOrThrowaway {
		if err := s.checkCSROrThrowaway(p, st); err != nil {
			return err
		}
	} else if len(st.Subject) > 0 && st.CSR != "" {
		return s.Errorf(p+".subject", "a CSR brings its own subject: subject goes with key or throwaway_key")
	}
	if st.Issuer == "" {
		return s.Errorf(p+".issuer", "required: %q, or the id of the earlier step whose key signs", IssuerSelf)
	}
	if st.Issuer == IssuerSelf {
		if st.Key == "" {
			return s.Errorf(p+".issuer", "only a key generated in this ceremony can sign its own certificate")
		}
	} else {
		if err := s.checkEarlier(p+".issuer", st.Issuer, i, KindIssueCertificate, KindRestoreKey, KindUseKey); err != nil {
			return err
		}
		if iss := s.Steps[s.StepIndex(st.Issuer)]; iss.Kind == KindIssueCertificate && st.Key != "" && iss.Key == st.Key {
			return s.Errorf(p+".issuer", "step %q certifies the same key; use issuer: %s for a self-signed certificate", st.Issuer, IssuerSelf)
		}
	}
	if st.ApprovedBy == "" {
		return s.Errorf(p+".approved_by", "required: the role whose every member approves the certificate before it is signed")
	}
	return s.checkRole(p+".approved_by", st.ApprovedBy)
}

// CSRInput returns the name of the input an issue-certificate step with
// both csr and throwaway_key takes its CSR from (a file, or "none" for a
// throwaway key), and false for any other step.
func (st *Step) CSRInput() (string, bool) {
	if st.Kind != KindIssueCertificate || st.CSR == "" || !st.ThrowawayKey {
		return "", false
	}
	m := soleRefRE.FindStringSubmatch(st.CSR)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// soleRefRE matches a value that is one ${input} reference alone.
var soleRefRE = regexp.MustCompile(`^\$\{([a-z][a-z0-9_]{0,62})\}$`)

// checkCSROrThrowaway checks an issue-certificate step that certifies a
// CSR's key if one is given and a throwaway key if not: csr is one input
// reference alone, and that input says "none" unless given.
func (s *Script) checkCSROrThrowaway(p string, st *Step) error {
	name, ok := st.CSRInput()
	if !ok {
		return s.Errorf(p+".csr", "%q: with throwaway_key: true, csr is one input reference alone, such as ${csr}, whose default is %s: the CSR's key is certified when the input names a file, a throwaway key when it is %s",
			st.CSR, NoCSR, NoCSR)
	}
	in := s.Inputs[s.inputIndex(name)]
	if in.Default == nil || *in.Default != NoCSR {
		return s.Errorf(p+".csr", "input %s must have default: %s: with throwaway_key: true the certificate is for a throwaway key unless a CSR is given", name, NoCSR)
	}
	return nil
}

// checkUseKey checks what a use-key step says besides its label: a key
// on a second token (token) must have been opened by an earlier hsm-login
// step, comes with its certificate as a file (a token made by ceremony
// csr holds none) and names the issuer it must chain to: a use-key step
// on the ceremony's main token (the root).
func (s *Script) checkUseKey(p string, st *Step, i int, otherLogins map[string]int) error {
	if st.Token != "" {
		if _, ok := otherLogins[st.Token]; !ok {
			return s.Errorf(p+".token", "nobody logs in to token %q before this step: put an hsm-login step with token: %s before it", st.Token, st.Token)
		}
		if strings.TrimSpace(st.Certificate) == "" {
			return s.Errorf(p+".certificate", "required with token: the certificate of the key on token %q, as a file (a token made by ceremony csr holds none); the key found must match it", st.Token)
		}
		if st.Issuer == "" {
			return s.Errorf(p+".issuer", "required with token: the id of the earlier use-key step that finds the root on the ceremony's main token, to which the certificate must chain")
		}
	}
	switch {
	case st.Issuer == "":
		return nil
	case st.Token == "":
		return s.Errorf(p+".issuer", "goes with token: a key on the ceremony's main token is found with the certificate stored beside it")
	}
	if err := s.checkEarlier(p+".issuer", st.Issuer, i, KindUseKey); err != nil {
		return err
	}
	if iss := s.Steps[s.StepIndex(st.Issuer)]; iss.Token != "" {
		return s.Errorf(p+".issuer", "step %q finds a key on token %q: the issuer is found on the ceremony's main token (the root)", st.Issuer, iss.Token)
	}
	return nil
}

// checkOtherLogin checks an hsm-login step for one of the HSM config's
// other tokens: one person's PIN, after the main token is open, once.
func (s *Script) checkOtherLogin(p string, st *Step, loginAt int, logins map[string]int) error {
	switch {
	case !nameRE.MatchString(st.Token):
		return s.Errorf(p+".token", "%q: use the lower-case name of an entry in the HSM config's other_tokens", st.Token)
	case loginAt < 0:
		return s.Errorf(p, "open the ceremony's main token first: put its hsm-login or init-token step before this one")
	case st.Quorum != nil:
		return s.Errorf(p+".quorum", "a second token is opened with its owner's PIN: give by, not quorum")
	}
	if j, ok := logins[st.Token]; ok {
		return s.Errorf(p+".token", "token %q is already opened by steps[%d]", st.Token, j)
	}
	return s.checkRole(p+".by", st.By)
}

// sortedKeysOf returns the keys of m in order.
func sortedKeysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (s *Script) checkRole(path, role string) error {
	if role == "" {
		return s.Errorf(path, "required: the role that acts")
	}
	if _, ok := s.Role(role); !ok {
		var names []string
		for _, r := range s.Roles {
			names = append(names, r.Name)
		}
		return s.Errorf(path, "undeclared role %q (roles: %s)", role, strings.Join(names, ", "))
	}
	return nil
}

func (s *Script) checkOptions(p string, opts []Option) error {
	if len(opts) < 2 {
		return s.Errorf(p+".options", "give at least two options")
	}
	proceed := false
	for j, o := range opts {
		op := fmt.Sprintf("%s.options[%d]", p, j)
		switch {
		case !nameRE.MatchString(o.Value):
			return s.Errorf(op+".value", "%q: use lower-case letters, digits and '-'", o.Value)
		case strings.TrimSpace(o.Text) == "":
			return s.Errorf(op+".text", "required")
		}
		for k := range j {
			if opts[k].Value == o.Value {
				return s.Errorf(op+".value", "%q listed twice", o.Value)
			}
		}
		proceed = proceed || !o.Abort
	}
	if !proceed {
		return s.Errorf(p+".options", "every option aborts: give one that lets the ceremony go on")
	}
	return nil
}

var templateNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (s *Script) checkTemplateName(p, name string) error {
	if name == "" {
		return s.Errorf(p+".template", "required: a template name from templates/")
	}
	if !templateNameRE.MatchString(name) {
		return s.Errorf(p+".template", "%q: give the template's name (templates/NAME.yaml), not a path", name)
	}
	return nil
}

// checkEarlier checks that ref names a step before index i of one of kinds.
func (s *Script) checkEarlier(path, ref string, i int, kinds ...string) error {
	if ref == "" {
		return s.Errorf(path, "required: the id of an earlier %s step", strings.Join(kinds, " or "))
	}
	j := s.StepIndex(ref)
	switch {
	case j < 0:
		return s.Errorf(path, "no step with id %q", ref)
	case j >= i:
		return s.Errorf(path, "step %q comes later; refer to an earlier step", ref)
	case slices.Index(kinds, s.Steps[j].Kind) < 0:
		return s.Errorf(path, "step %q is %s %s step, not %s", ref, article(s.Steps[j].Kind), s.Steps[j].Kind, strings.Join(kinds, " or "))
	}
	return nil
}

// article returns "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func (s *Script) checkRefs(path, text string) error {
	for _, m := range inputRefRE.FindAllStringSubmatch(text, -1) {
		if s.inputIndex(m[1]) < 0 {
			return s.Errorf(path, "refers to undeclared input ${%s}", m[1])
		}
	}
	return nil
}
