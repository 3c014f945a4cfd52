package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/answers"
	"github.com/devicepki/ceremony/ceremony/engine"
	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/record/pdf"
	"github.com/devicepki/ceremony/ceremony/register"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/transcript"
	"github.com/devicepki/ceremony/hsm"
	"github.com/devicepki/ceremony/internal/pdfcheck"
	"github.com/devicepki/ceremony/internal/softhsmtest"
)

// rig is a ceremony workspace: copies of the shipped script and template, a
// fresh SoftHSM2 token, a PIN file and an answers file.
type rig struct {
	dir     string
	script  string
	tok     *softhsmtest.Token
	cfg     hsm.Config
	answers string
	out     string
	live    []engine.NetInterface // the network interfaces the run sees up
}

const answersYAML = `version: 1
script: root-key-generation
attendance:
  administrator: [Ada Admin]
  witness: [Wanda Witness]
steps:
  welcome: {confirmed_by: [Ada Admin, Wanda Witness]}
  check-clock: {choice: matches}
  inspect-hsm: {confirmed_by: [Ada Admin, Wanda Witness]}
  activate-hsm: {pin: {file: user.pin}}
  read-fingerprint: {confirmed_by: [Ada Admin, Wanda Witness]}
  issue-root-certificate: {approved_by: [Wanda Witness]}
  issue-audit-certificate: {approved_by: [Wanda Witness]}
  closing: {confirmed_by: [Ada Admin, Wanda Witness]}
`

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	// The root key generation script as it was before quorums: one PIN
	// logs in to a token initialised by the test (quorum_test.go runs
	// the shipped script on a blank token).
	for f, src := range map[string]string{
		"scripts/root-key-generation.yaml":  "ceremony/answers/testdata/pin-login.yaml",
		"templates/root-ca.yaml":            "templates/root-ca.yaml",
		"templates/transcript-signing.yaml": "templates/transcript-signing.yaml",
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", src))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	h := softhsmtest.New(t)
	tok := h.InitToken(t, "ceremony-test")
	writeFile(t, filepath.Join(dir, "user.pin"), tok.PIN+"\n")
	writeFile(t, filepath.Join(dir, "answers.yaml"), answersYAML)
	return &rig{
		dir: dir, script: filepath.Join(dir, "scripts", "root-key-generation.yaml"),
		tok: tok, cfg: h.Config("ceremony-test"),
		answers: filepath.Join(dir, "answers.yaml"), out: filepath.Join(dir, "out"),
	}
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// edit replaces old with new in a file of the rig.
func (r *rig) edit(t *testing.T, rel, old, new string) {
	t.Helper()
	path := filepath.Join(r.dir, rel)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", rel, old)
	}
	writeFile(t, path, strings.Replace(string(data), old, new, 1))
}

func (r *rig) options(t testing.TB) engine.Options {
	t.Helper()
	return engine.Options{
		ScriptPath: r.script, Inputs: map[string]string{"place": "Test lab"}, HSM: r.cfg,
		OutDir: r.out, Tool: engine.CurrentTool("test"),
		Interfaces: func() ([]engine.NetInterface, error) { return r.live, nil },
	}
}

func (r *rig) answersFace(t *testing.T) engine.Face {
	t.Helper()
	s, err := engine.LoadScript(r.script)
	if err != nil {
		t.Fatal(err)
	}
	f, err := answers.Load(r.answers, s, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (r *rig) run(t *testing.T, face engine.Face) (*engine.Result, error) {
	t.Helper()
	plan, err := engine.Prepare(r.options(t))
	if err != nil {
		return nil, err
	}
	return plan.Run(context.Background(), face)
}

// assertNoSecret fails if the PIN appears in any file under dir.
func (r *rig) assertNoSecret(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range []string{r.tok.PIN, r.tok.SOPIN} {
			if strings.Contains(string(data), s) {
				t.Errorf("%s contains a PIN", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func eventTypes(c *transcript.Chain) []string {
	var out []string
	for _, e := range c.Events {
		out = append(out, e.Type)
	}
	return out
}

func TestRootKeyGenerationCeremony(t *testing.T) {
	r := newRig(t)
	res, err := r.run(t, r.answersFace(t))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if chain.Head != res.Head || len(chain.Events) != res.Events {
		t.Fatalf("result %+v does not describe the transcript", res)
	}
	want := []string{"ceremony-started", "attendance", "confirmed", "preflight", "choice", "confirmed", "hsm-login",
		"key-generating", "key-generated", "lint-passed", "signing-approved", "certificate-issued",
		"artifact-writing", "artifact-written", "artifact-writing", "artifact-written", "confirmed",
		"key-generating", "key-generated", "lint-passed", "signing-approved", "certificate-issued",
		"artifact-writing", "artifact-written", "confirmed", "transcript-sealing", "transcript-sealed"}
	if got := eventTypes(chain); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v\nwant %v", got, want)
	}
	// The result names each certificate artifact's fingerprint, as its
	// artifact-written event does.
	for _, a := range record.Artifacts(chain) {
		if res.Fingerprints[a.Path] != a.CertificateSHA256 {
			t.Errorf("%s: result fingerprint %q, transcript %q", a.Path, res.Fingerprints[a.Path], a.CertificateSHA256)
		}
	}
	if len(res.Fingerprints) != 2 {
		t.Errorf("fingerprints of %d certificates, want the root's and the audit key's: %v", len(res.Fingerprints), res.Fingerprints)
	}

	// The seal writes both printable records, each what the transcript
	// renders to; the PDF, read back with pdftotext, shows the
	// transcript page by page.
	md, err := os.ReadFile(filepath.Join(r.out, "transcript.md"))
	if err != nil || string(md) != record.Render(chain) {
		t.Fatalf("transcript.md is not the record of the transcript (%v)", err)
	}
	pdfFile := filepath.Join(r.out, "transcript.pdf")
	if data, err := os.ReadFile(pdfFile); err != nil {
		t.Fatal(err)
	} else if want, _ := pdf.Render(chain); !bytes.Equal(data, want) {
		t.Fatal("transcript.pdf is not the PDF record of the transcript")
	}
	if err := pdfcheck.Check(pdfFile, chain); err != nil {
		t.Fatal(err)
	}

	// The first event commits to the script and template bytes.
	var start struct {
		Script    struct{ SHA256 string }
		Templates []struct{ Name, SHA256 string }
	}
	if err := json.Unmarshal(chain.Events[0].Data, &start); err != nil {
		t.Fatal(err)
	}
	scriptBytes, _ := os.ReadFile(r.script)
	tmplBytes, _ := os.ReadFile(filepath.Join(r.dir, "templates", "root-ca.yaml"))
	if start.Script.SHA256 != sha(scriptBytes) || len(start.Templates) != 2 || start.Templates[0].SHA256 != sha(tmplBytes) {
		t.Fatalf("first event does not commit to the script and template: %s", chain.Events[0].Data)
	}

	// Every artifact's SHA-256 is in the transcript and matches the file.
	certPEM, err := os.ReadFile(filepath.Join(r.out, "artifacts", "root-ca.crt.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(filepath.Join(r.out, "artifacts", "root-ca.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	for _, data := range [][]byte{certPEM, pubPEM} {
		if !strings.Contains(string(raw), `"sha256":"`+sha(data)+`"`) {
			t.Fatalf("artifact SHA-256 %s not in the transcript", sha(data))
		}
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"sha256":"`+sha(block.Bytes)+`"`) {
		t.Fatal("certificate fingerprint not in the transcript")
	}

	// The token, read by pkcs11-tool, holds exactly the root key pair and
	// the audit key pair, each with its certificate, the issuance register
	// (a private data object, invisible without login), and the root's
	// public key is the certificate's.
	objs := r.tok.Objects(t)
	if len(objs) != 7 {
		t.Fatalf("token objects: %+v", objs)
	}
	for _, o := range objs {
		if o.Label == register.Label {
			if o.Class != "Data" || o.Flags != "private" {
				t.Fatalf("register object %+v", o)
			}
			continue
		}
		if o.Label != "root-ca" {
			if o.Label != "ceremony-audit" {
				t.Fatalf("unexpected object %+v", o)
			}
			continue
		}
		switch o.Class {
		case "Public Key":
			if o.ECPoint != softhsmtest.ECPointHex(t, cert.PublicKey) {
				t.Fatal("token public key differs from the certificate's")
			}
		case "Private Key":
			for _, a := range []string{"sensitive", "always sensitive", "never extractable", "local"} {
				if !strings.Contains(o.Attrs, a) {
					t.Fatalf("private key access %q lacks %q", o.Attrs, a)
				}
			}
			if o.Usage != "sign" {
				t.Fatalf("private key usage %q, want sign only", o.Usage)
			}
		}
	}
	r.assertNoSecret(t, r.out)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Every bad input is refused with a clear error, and leaves no key on the
// token and no file behind.
func TestBadInputsChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, r *rig)
		want    string
		keep    int // objects on the token before (and after) the run
	}{
		{"unknown template field", func(t *testing.T, r *rig) {
			r.edit(t, "templates/root-ca.yaml", "key_usage:", "colour: blue\nkey_usage:")
		}, `root-ca.yaml:29:1: unknown field "colour"`, 0},
		{"unknown script field", func(t *testing.T, r *rig) {
			r.edit(t, "scripts/root-key-generation.yaml", "    template: root-ca\n    label:", "    template: root-ca\n    size: big\n    label:")
		}, `unknown field "size"`, 0},
		{"30-year root", func(t *testing.T, r *rig) {
			r.edit(t, "templates/root-ca.yaml", "duration: 20y", "duration: 30y")
		}, "validity.duration: 30y is longer than the 25-year limit", 0},
		{"RSA 2048 root", func(t *testing.T, r *rig) {
			r.edit(t, "templates/root-ca.yaml", "algorithm: ecdsa-p384", "algorithm: rsa-2048")
		}, `key.algorithm: unsupported key algorithm "rsa-2048"`, 0},
		{"P-224 root", func(t *testing.T, r *rig) {
			r.edit(t, "templates/root-ca.yaml", "algorithm: ecdsa-p384", "algorithm: ecdsa-p224")
		}, `unsupported key algorithm "ecdsa-p224"`, 0},
		{"label already on the token", func(t *testing.T, r *rig) {
			if _, err := r.tok.HSM.Run("pkcs11-tool", "--module", r.tok.HSM.Module, "--token-label", r.tok.Label,
				"--login", "--pin", r.tok.PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "root-ca", "--id", "01"); err != nil {
				t.Fatal(err)
			}
		}, `token "ceremony-test" already holds an object labelled "root-ca"`, 2},
		{"wrong PIN", func(t *testing.T, r *rig) {
			writeFile(t, filepath.Join(r.dir, "user.pin"), softhsmtest.RandomPIN(t))
		}, "PIN incorrect", 0},
		{"missing module", func(t *testing.T, r *rig) {
			r.cfg.Module = "/nonexistent/libsofthsm2.so"
		}, "pkcs11 module /nonexistent/libsofthsm2.so: no such file", 0},
		{"missing token", func(t *testing.T, r *rig) {
			r.cfg.Token.Label = "no-such-token"
		}, `token "no-such-token" not found`, 0},
		{"missing template", func(t *testing.T, r *rig) {
			os.Remove(filepath.Join(r.dir, "templates", "root-ca.yaml"))
		}, `steps[6].template: no template "root-ca"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			tc.prepare(t, r)
			var err error
			s, lerr := engine.LoadScript(r.script)
			if lerr != nil {
				err = lerr
			} else {
				face, ferr := answers.Load(r.answers, s, nil, false)
				if ferr != nil {
					t.Fatal(ferr)
				}
				_, err = r.run(t, face)
			}
			if err == nil {
				t.Fatal("ceremony succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %q\nwant one line containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), r.tok.PIN) {
				t.Fatal("error contains the PIN")
			}
			if n := len(r.tok.Objects(t)); n != tc.keep {
				t.Fatalf("%d objects on the token, want %d", n, tc.keep)
			}
			if _, err := os.Stat(r.out); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("output directory exists after a failed run (%v)", err)
			}
		})
	}
}

func TestOutputDirectoryWithTranscriptIsLeftAlone(t *testing.T) {
	r := newRig(t)
	writeFile(t, filepath.Join(r.out, "transcript.jsonl"), "earlier ceremony\n")
	_, err := r.run(t, r.answersFace(t))
	if err == nil || !strings.Contains(err.Error(), "already holds a ceremony transcript") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(r.out, "transcript.jsonl")); string(data) != "earlier ceremony\n" {
		t.Fatal("earlier transcript changed")
	}
	if entries, _ := os.ReadDir(r.out); len(entries) != 1 {
		t.Fatalf("output directory holds %d entries", len(entries))
	}
	if n := len(r.tok.Objects(t)); n != 0 {
		t.Fatalf("%d objects on the token", n)
	}
}

// scriptedFace answers everything positively, except as its hooks say.
type scriptedFace struct {
	pins      []string // PINs to offer, in order
	abortAt   string   // step id at which a confirmation aborts
	onConfirm func(engine.ConfirmRequest) error
	override  string // reason to override a failed network check ("": abort)
	// exceptions to report, by step id
	exceptions map[string][]engine.Exception
	reports    []engine.Report
	// announced lists the steps announced before the machine acted.
	announced []string
	// shares to enter, in order; handedOut collects the shares shown,
	// typeBack (if set) says what the keyholder types back.
	shares    []string
	handedOut []string
	typeBack  func(engine.HandOutRequest) string
	// people, if set, replaces the attendance.
	people engine.Attendance
	// approvals collects what was shown for approval; refuseAt is a step
	// id whose signature is refused.
	approvals []engine.ApprovalRequest
	refuseAt  string
}

func (f *scriptedFace) Name() string { return "test" }
func (f *scriptedFace) Attendance(context.Context, engine.AttendanceRequest) (engine.Attendance, error) {
	if f.people != nil {
		return f.people, nil
	}
	return engine.Attendance{"administrator": {"Ada"}, "witness": {"Wanda"}}, nil
}
func (f *scriptedFace) Confirm(ctx context.Context, req engine.ConfirmRequest) error {
	if f.onConfirm != nil {
		if err := f.onConfirm(req); err != nil {
			return err
		}
	}
	if req.Step.ID == f.abortAt {
		return engine.ErrAborted
	}
	return ctx.Err()
}
func (f *scriptedFace) Approve(ctx context.Context, req engine.ApprovalRequest) error {
	f.approvals = append(f.approvals, req)
	if req.Step.ID == f.refuseAt {
		return engine.ErrAborted
	}
	return ctx.Err()
}
func (f *scriptedFace) Choose(_ context.Context, req engine.ChoiceRequest) (engine.Choice, error) {
	return engine.Choice{Value: req.Options[0].Value}, nil
}
func (f *scriptedFace) Secret(_ context.Context, req engine.SecretRequest) (engine.SecretAnswer, error) {
	if req.Attempt > len(f.pins) {
		return engine.SecretAnswer{}, engine.ErrNoRetry
	}
	return engine.SecretAnswer{Secret: secret.FromString(f.pins[req.Attempt-1])}, nil
}
func (f *scriptedFace) Override(_ context.Context, req engine.OverrideRequest) (engine.OverrideAnswer, error) {
	if f.override == "" {
		return engine.OverrideAnswer{}, engine.ErrAborted
	}
	return engine.OverrideAnswer{Reason: f.override}, nil
}
func (f *scriptedFace) Inventory(_ context.Context, req engine.InventoryRequest) (map[string]string, error) {
	if req.Problem != "" {
		return nil, errors.New(req.Problem)
	}
	out := map[string]string{}
	for _, it := range req.Items {
		out[it.Name] = "TEB-" + strings.ToUpper(strings.Fields(it.Name)[0])
		if it.Expect != "" {
			out[it.Name] = it.Expect
		}
	}
	return out, nil
}

func (f *scriptedFace) Announce(_ context.Context, req engine.AnnounceRequest) error {
	f.announced = append(f.announced, req.Step.ID)
	return nil
}

func (f *scriptedFace) Exceptions(_ context.Context, step engine.StepInfo) ([]engine.Exception, error) {
	return f.exceptions[step.ID], nil
}
func (f *scriptedFace) Report(r engine.Report) { f.reports = append(f.reports, r) }
func (f *scriptedFace) Share(_ context.Context, req engine.ShareRequest) (engine.ShareAnswer, error) {
	if req.Attempt > 1 || req.Number > len(f.shares) {
		return engine.ShareAnswer{}, engine.ErrNoRetry
	}
	return engine.ShareAnswer{Text: secret.FromString(f.shares[req.Number-1]), By: req.Candidates[0]}, nil
}
func (f *scriptedFace) HandOut(_ context.Context, req engine.HandOutRequest) (engine.HandOutAnswer, error) {
	f.handedOut = append(f.handedOut, string(req.Text.Bytes()))
	typed := string(req.Text.Bytes())
	if f.typeBack != nil {
		typed = f.typeBack(req)
	}
	return engine.HandOutAnswer{TypedBack: secret.FromString(typed)}, nil
}

func TestAbortAfterKeyGenerationDestroysTheKey(t *testing.T) {
	r := newRig(t)
	face := &scriptedFace{pins: []string{r.tok.PIN}, abortAt: "read-fingerprint"}
	_, err := r.run(t, face)
	var se *engine.StepError
	if !errors.As(err, &se) || !se.Aborted || se.ID != "read-fingerprint" || se.Discarded {
		t.Fatalf("err = %#v", err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatalf("transcript after abort: %v", err)
	}
	types := eventTypes(chain)
	if got := strings.Join(types[len(types)-4:], " "); got != "key-destroyed artifact-withdrawn artifact-withdrawn ceremony-aborted" {
		t.Fatalf("last events %v", types)
	}
	if n := len(r.tok.Objects(t)); n != 0 {
		t.Fatalf("%d objects left on the token after the abort", n)
	}
	// The certificate of the destroyed key is not left to be carried out.
	if entries, err := os.ReadDir(filepath.Join(r.out, "artifacts")); err != nil || len(entries) != 0 {
		t.Fatalf("artifacts after the abort: %v %v", entries, err)
	}
	r.assertNoSecret(t, r.out)
}

func TestAbortBeforeAnyChangeIsRecorded(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	face := &scriptedFace{pins: []string{r.tok.PIN}, onConfirm: func(req engine.ConfirmRequest) error {
		if req.Step.ID == "welcome" {
			cancel() // Ctrl+C while the first confirmation is asked
		}
		return nil
	}}
	plan, err := engine.Prepare(r.options(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = plan.Run(ctx, face)
	var se *engine.StepError
	if !errors.As(err, &se) || !se.Aborted || se.Discarded {
		t.Fatalf("err = %#v", err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if last := chain.Events[len(chain.Events)-1]; last.Type != "ceremony-aborted" {
		t.Fatalf("last event %s", last.Type)
	}
}

func TestWrongPINThenRightPIN(t *testing.T) {
	r := newRig(t)
	wrong := softhsmtest.RandomPIN(t)
	face := &scriptedFace{pins: []string{wrong, r.tok.PIN}}
	if _, err := r.run(t, face); err != nil {
		t.Fatal(err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Join(eventTypes(chain), " ")
	if !strings.Contains(types, "hsm-login-failed hsm-login key-generating key-generated") {
		t.Fatalf("events %s", types)
	}
	raw, _ := os.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if strings.Contains(string(raw), wrong) {
		t.Fatal("the wrong PIN is in the transcript")
	}
	r.assertNoSecret(t, r.out)
}

// Repeated wrong PINs count against the HSM's retry limit, so they stay on
// record even though nothing else changed.
func TestRepeatedWrongPINsAreKeptOnRecord(t *testing.T) {
	r := newRig(t)
	face := &scriptedFace{pins: []string{"11111111", "22222222", "33333333"}}
	_, err := r.run(t, face)
	if !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("err = %v", err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Join(eventTypes(chain), " ")
	if !strings.HasSuffix(types, "hsm-login-failed hsm-login-failed hsm-login-failed ceremony-failed") {
		t.Fatalf("events %s", types)
	}
	r.assertNoSecret(t, r.out)
	if raw, _ := os.ReadFile(filepath.Join(r.out, "transcript.jsonl")); strings.Contains(string(raw), "22222222") {
		t.Fatal("a wrong PIN is in the transcript")
	}
}

func TestProgressIsReported(t *testing.T) {
	r := newRig(t)
	face := &scriptedFace{pins: []string{r.tok.PIN}}
	if _, err := r.run(t, face); err != nil {
		t.Fatal(err)
	}
	var started, ops, notices int
	for _, rep := range face.reports {
		switch rep.Kind {
		case engine.StepStarted:
			started++
			if rep.Step.Total != 17 {
				t.Fatalf("step total %d", rep.Step.Total)
			}
		case engine.OperationDone:
			ops++
			if rep.Elapsed <= 0 {
				t.Fatal("operation without elapsed time")
			}
		case engine.Notice:
			notices++
		}
	}
	// Operations: two key generations, two lints, two signatures, the
	// seal, the QR export.
	if started != 17 || ops != 8 || notices < 8 {
		t.Fatalf("reports: %d steps, %d operations, %d notices", started, ops, notices)
	}
}

var eth0 = []engine.NetInterface{{Name: "eth0", Flags: "up|broadcast", Addresses: []string{"192.0.2.7/24"}}}

// A live network interface stops the ceremony before anything changes,
// unless the script allows an override and someone gives one, with a reason
// that goes on record.
func TestNetworkInterfaceUp(t *testing.T) {
	t.Run("no override allowed", func(t *testing.T) {
		r := newRig(t)
		r.live = eth0
		r.edit(t, "scripts/root-key-generation.yaml", "    network_override_by: administrator\n", "")
		_, err := r.run(t, &scriptedFace{pins: []string{r.tok.PIN}, override: "should not be asked"})
		var se *engine.StepError
		if !errors.As(err, &se) || se.ID != "preflight" || !se.Discarded ||
			!strings.Contains(err.Error(), "network interface(s) up: eth0 (192.0.2.7/24); the ceremony machine must be offline") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(r.out); !errors.Is(err, fs.ErrNotExist) {
			t.Fatal("output left behind")
		}
	})
	t.Run("nobody overrides", func(t *testing.T) {
		r := newRig(t)
		r.live = eth0
		_, err := r.run(t, &scriptedFace{pins: []string{r.tok.PIN}})
		var se *engine.StepError
		if !errors.As(err, &se) || se.ID != "preflight" || !se.Aborted {
			t.Fatalf("err = %v", err)
		}
		if n := len(r.tok.Objects(t)); n != 0 {
			t.Fatalf("%d objects on the token", n)
		}
	})
	t.Run("override on record", func(t *testing.T) {
		r := newRig(t)
		r.live = eth0
		if _, err := r.run(t, &scriptedFace{pins: []string{r.tok.PIN}, override: "Rehearsal in the lab"}); err != nil {
			t.Fatal(err)
		}
		chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, ev := range chain.Events {
			if ev.Type == "override" {
				found = true
				if len(ev.Actors) != 1 || ev.Actors[0].Name != "Ada" || ev.Actors[0].Role != "administrator" ||
					!strings.Contains(ev.Text, "Reason: Rehearsal in the lab") || !strings.Contains(string(ev.Data), `"name":"eth0"`) {
					t.Fatalf("override event %+v %s", ev, ev.Data)
				}
			}
			if ev.Type == "preflight" && !strings.Contains(string(ev.Data), `"interfaces_up":[{"name":"eth0"`) {
				t.Fatalf("preflight does not record the interface: %s", ev.Data)
			}
		}
		if !found {
			t.Fatal("no override event")
		}
		md, _ := os.ReadFile(filepath.Join(r.out, "transcript.md"))
		if !strings.Contains(string(md), "Ada overrode the network check. Reason: Rehearsal in the lab") {
			t.Fatalf("the printable record lacks the override:\n%s", md)
		}
	})
	t.Run("offline", func(t *testing.T) {
		r := newRig(t)
		if _, err := r.run(t, &scriptedFace{pins: []string{r.tok.PIN}}); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
		if !strings.Contains(string(raw), `"interfaces_up":[]`) || strings.Contains(string(raw), `"type":"override"`) {
			t.Fatal("an offline machine's preflight is not recorded as such")
		}
	})
}

func TestExceptionsGoOnRecord(t *testing.T) {
	r := newRig(t)
	ex := engine.Exception{By: engine.Participant{Name: "Wanda"}, Expected: "Key generation takes seconds",
		Happened: "It took two minutes", Action: "Waited; no error shown"}
	face := &scriptedFace{pins: []string{r.tok.PIN}, exceptions: map[string][]engine.Exception{
		"generate-root-key": {ex},
		"seal":              {{By: engine.Participant{Name: "Ada"}, Expected: "a", Happened: "Printer jammed", Action: "c"}},
	}}
	if _, err := r.run(t, face); err != nil {
		t.Fatal(err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Join(eventTypes(chain), " ")
	if !strings.Contains(types, "key-generated exception lint-passed signing-approved certificate-issued") || !strings.HasSuffix(types, "exception transcript-sealing transcript-sealed") {
		t.Fatalf("events %s", types)
	}
	md, _ := os.ReadFile(filepath.Join(r.out, "transcript.md"))
	for _, want := range []string{"recorded by Wanda. Expected: Key generation takes seconds. Happened: It took two minutes. Done: Waited; no error shown.", "Printer jammed"} {
		if !strings.Contains(string(md), want) {
			t.Fatalf("record lacks %q", want)
		}
	}

	// An exception by someone not present, or without its texts, stops
	// the ceremony.
	for _, bad := range []engine.Exception{
		{By: engine.Participant{Name: "Mallory"}, Expected: "a", Happened: "b", Action: "c"},
		{By: engine.Participant{Name: "Wanda"}, Expected: "a", Happened: " ", Action: "c"},
		{By: engine.Participant{Name: "Wanda"}, Expected: "a", Happened: "b\x1b[2J", Action: "c"},
	} {
		r := newRig(t)
		_, err := r.run(t, &scriptedFace{pins: []string{r.tok.PIN}, exceptions: map[string][]engine.Exception{"welcome": {bad}}})
		if err == nil || !strings.Contains(err.Error(), "exception") {
			t.Fatalf("bad exception %+v: %v", bad, err)
		}
	}
}

// The seal needs a transcript-signing key: the root key never seals.
func TestSealRefusesTheRootKey(t *testing.T) {
	r := newRig(t)
	data, _ := os.ReadFile(r.script)
	s := string(data)
	i := strings.LastIndex(s, "label: ${audit_key_label}")
	writeFile(t, r.script, s[:i]+"label: ${key_label}"+s[i+len("label: ${audit_key_label}"):])
	_, err := engine.Prepare(r.options(t))
	if err == nil || !strings.Contains(err.Error(), `.label: key "root-ca" is generated by steps[6] from template root-ca, a root-ca profile: only a transcript-signing key seals transcripts`) {
		t.Fatalf("err = %v", err)
	}
}

// The root ceremony seals with the audit key it certifies, no other.
func TestSealMustUseTheAuditKeyCertifiedHere(t *testing.T) {
	r := newRig(t)
	data, _ := os.ReadFile(r.script)
	s := string(data)
	i := strings.LastIndex(s, "label: ${audit_key_label}")
	writeFile(t, r.script, s[:i]+"label: older-audit-key"+s[i+len("label: ${audit_key_label}"):])
	_, err := engine.Prepare(r.options(t))
	if err == nil || !strings.Contains(err.Error(), `the seal must use the audit key this ceremony certifies ("ceremony-audit", steps[12]), not "older-audit-key"`) {
		t.Fatalf("err = %v", err)
	}
}

// A seal step that fails fails the ceremony like any other step: the keys
// it generated are destroyed, the artifacts withdrawn, nothing sealed, and
// the exceptions noted at it are recorded once.
func TestSealStepFailureRollsBack(t *testing.T) {
	r := newRig(t)
	face := &scriptedFace{pins: []string{r.tok.PIN}, exceptions: map[string][]engine.Exception{
		"seal": {{By: engine.Participant{Name: "Ada"}, Expected: "a", Happened: "b", Action: "c"},
			{By: engine.Participant{Name: "Mallory"}, Expected: "a", Happened: "b", Action: "c"}},
	}}
	_, err := r.run(t, face)
	var se *engine.StepError
	if !errors.As(err, &se) || se.ID != "seal" || !strings.Contains(err.Error(), `"Mallory" may not act here`) {
		t.Fatalf("err = %v", err)
	}
	if n := len(r.tok.Objects(t)); n != 0 {
		t.Fatalf("%d objects left on the token", n)
	}
	if _, err := os.Stat(filepath.Join(r.out, "transcript.sig")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a seal was written")
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(eventTypes(chain), " "), "exception"); n != 1 {
		t.Fatalf("%d exception events, want 1: %v", n, eventTypes(chain))
	}
}

func TestRefusedApprovalSignsNothing(t *testing.T) {
	r := newRig(t)
	face := &scriptedFace{pins: []string{r.tok.PIN}, refuseAt: "issue-root-certificate"}
	_, err := r.run(t, face)
	var se *engine.StepError
	if !errors.As(err, &se) || !se.Aborted || se.ID != "issue-root-certificate" {
		t.Fatalf("err = %#v", err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Join(eventTypes(chain), " ")
	if !strings.Contains(types, "key-generated lint-passed signing-refused key-destroyed") || strings.Contains(types, "certificate-issued") {
		t.Fatalf("events %s", types)
	}
	// What the approver saw: the decoded certificate, with its TBS digest.
	if len(face.approvals) != 1 {
		t.Fatalf("%d approvals asked", len(face.approvals))
	}
	req := face.approvals[0]
	shown := map[string]string{}
	for _, f := range req.Fields {
		shown[f.Label] = f.Value
	}
	if shown["TBS SHA-256"] != req.TBSSHA256 || !strings.Contains(shown["Subject"], "Example Devices Root CA R1") ||
		shown["Basic constraints"] != "CA:TRUE, no path length limit" || len(strings.Fields(req.Words)) != 32 {
		t.Fatalf("approval request %+v", req)
	}
	if n := len(r.tok.Objects(t)); n != 0 {
		t.Fatalf("%d objects left on the token", n)
	}
}

// One ceremony per token: while another process (here, this test) holds
// the token's lock, a run is refused before it opens the token, with
// nothing created; once it is released the run goes ahead.
func TestTokenInUseByAnotherCeremony(t *testing.T) {
	r := newRig(t)
	unlock, err := hsm.LockToken(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.run(t, r.answersFace(t))
	if !errors.Is(err, hsm.ErrTokenBusy) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("run on a locked token: %v", err)
	}
	if _, serr := os.Lstat(r.out); !os.IsNotExist(serr) {
		t.Fatalf("the output directory was created (%v)", serr)
	}
	if objs := r.tok.Objects(t); len(objs) != 0 {
		t.Fatalf("the token gained %d objects", len(objs))
	}
	unlock()
	if _, err := r.run(t, r.answersFace(t)); err != nil {
		t.Fatalf("run after the lock was released: %v", err)
	}
}

// Every step whose machine acts at once is announced before it runs: its
// text is read aloud and the room says to go on. Confirmations and choices
// put their text to the people themselves and are not announced; steps
// before attendance have nobody to announce them, and a step without text
// has nothing to read. The text of every step is in ceremony-started, for
// the printed record.
func TestMachineStepsWaitForTheRoom(t *testing.T) {
	r := newRig(t)
	face := &scriptedFace{pins: []string{r.tok.PIN}}
	if _, err := r.run(t, face); err != nil {
		t.Fatal(err)
	}
	chain, err := transcript.ReadFile(filepath.Join(r.out, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	start, err := transcript.DataAs[transcript.CeremonyStarted](chain.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	attended := false
	for _, st := range start.Steps {
		switch st.Kind {
		case "attendance":
			attended = true
		case "confirm", "choose":
		default:
			if attended && st.Say != "" {
				want = append(want, st.ID)
			}
		}
	}
	if strings.Join(face.announced, " ") != strings.Join(want, " ") || len(want) < 5 {
		t.Fatalf("announced %v\nwant %v", face.announced, want)
	}
}
