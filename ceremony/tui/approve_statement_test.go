package tui

import (
	"strings"
	"testing"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// An approval of a statement (nothing signed: a key without backup) says
// so: no "to be signed", no TBS.
func TestApprovalOfAStatement(t *testing.T) {
	req := approvalReq(t, engine.StepInfo{ID: "back-up-root-key", Title: "Back up the root key"})
	req.What, req.NotSigned = "exception: no backup", true
	p := &approvePrompt{req: req}
	p.build(100)
	text := p.title() + "\n" + strings.Join(p.lines, "\n")
	if !strings.Contains(p.title(), "APPROVE the exception: no backup: ") || strings.Contains(text, "signed") || strings.Contains(text, "(the TBS)") ||
		!strings.Contains(text, "SHA-256 of exactly what is approved, to read aloud:") {
		t.Errorf("prompt:\n%s", text)
	}
	req.NotSigned = false
	p = &approvePrompt{req: req}
	p.build(100)
	if !strings.Contains(p.title(), "to be signed") {
		t.Errorf("a signature's title: %s", p.title())
	}
}
