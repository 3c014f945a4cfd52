package tui

import (
	"context"
	"sync"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/devicepki/ceremony/ceremony/engine"
)

// face is the engine's Face for the TUI. The engine runs in its own
// goroutine; each prompt is sent to the bubbletea event loop as an askMsg
// and the engine waits for the reply (or for its context to end). Reports
// are sent as reportMsgs. The model never blocks on the engine.
type face struct {
	mu     sync.Mutex
	send   func(tea.Msg)
	next   int
	closed bool // the program has ended: nobody can answer
}

// close marks the program as ended: from now on every question is answered
// at once — no exceptions, anything else aborted — so that an engine still
// running records its abort and rolls back instead of waiting forever.
func (f *face) close() {
	f.mu.Lock()
	f.closed, f.send = true, nil
	f.mu.Unlock()
}

// askMsg carries a prompt from the engine to the model.
type askMsg struct {
	id    int
	req   any // one of the engine's *Request types, or exceptionsReq
	reply chan reply
}

// reply is the model's answer to an askMsg.
type reply struct {
	val any
	err error
}

// dropAskMsg tells the model that the engine stopped waiting for prompt id
// (its context ended): the prompt is taken off the screen.
type dropAskMsg struct{ id int }

// reportMsg is a report from the engine.
type reportMsg engine.Report

// exceptionsReq asks for the exceptions recorded at a step.
type exceptionsReq struct{ step engine.StepInfo }

func (f *face) setSender(send func(tea.Msg)) {
	f.mu.Lock()
	f.send = send
	f.mu.Unlock()
}

func (f *face) post(msg tea.Msg) {
	f.mu.Lock()
	send := f.send
	f.mu.Unlock()
	if send != nil {
		send(msg)
	}
}

func (f *face) ask(ctx context.Context, req any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.next++
	id, closed := f.next, f.closed
	f.mu.Unlock()
	if closed {
		if _, ok := req.(exceptionsReq); ok {
			return nil, nil
		}
		return nil, engine.ErrAborted
	}
	ch := make(chan reply, 1)
	f.post(askMsg{id: id, req: req, reply: ch})
	select {
	case r := <-ch:
		return r.val, r.err
	case <-ctx.Done():
		select {
		case r := <-ch: // answered as the context ended (an abort)
			return r.val, r.err
		default:
		}
		f.post(dropAskMsg{id: id})
		return nil, ctx.Err()
	}
}

// Name implements engine.Face.
func (f *face) Name() string { return "tui" }

// Attendance implements engine.Face.
func (f *face) Attendance(ctx context.Context, req engine.AttendanceRequest) (engine.Attendance, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return nil, err
	}
	return v.(engine.Attendance), nil
}

// Confirm implements engine.Face.
func (f *face) Confirm(ctx context.Context, req engine.ConfirmRequest) error {
	_, err := f.ask(ctx, req)
	return err
}

// Inventory implements engine.Face.
func (f *face) Inventory(ctx context.Context, req engine.InventoryRequest) (map[string]string, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return nil, err
	}
	return v.(map[string]string), nil
}

// Announce implements engine.Face.
func (f *face) Announce(ctx context.Context, req engine.AnnounceRequest) error {
	_, err := f.ask(ctx, req)
	return err
}

// Approve implements engine.Face.
func (f *face) Approve(ctx context.Context, req engine.ApprovalRequest) error {
	_, err := f.ask(ctx, req)
	return err
}

// Choose implements engine.Face.
func (f *face) Choose(ctx context.Context, req engine.ChoiceRequest) (engine.Choice, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return engine.Choice{}, err
	}
	return v.(engine.Choice), nil
}

// Secret implements engine.Face.
func (f *face) Secret(ctx context.Context, req engine.SecretRequest) (engine.SecretAnswer, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return engine.SecretAnswer{}, err
	}
	return v.(engine.SecretAnswer), nil
}

// Override implements engine.Face.
func (f *face) Override(ctx context.Context, req engine.OverrideRequest) (engine.OverrideAnswer, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return engine.OverrideAnswer{}, err
	}
	return v.(engine.OverrideAnswer), nil
}

// Share implements engine.Face.
func (f *face) Share(ctx context.Context, req engine.ShareRequest) (engine.ShareAnswer, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return engine.ShareAnswer{}, err
	}
	return v.(engine.ShareAnswer), nil
}

// HandOut implements engine.Face.
func (f *face) HandOut(ctx context.Context, req engine.HandOutRequest) (engine.HandOutAnswer, error) {
	v, err := f.ask(ctx, req)
	if err != nil {
		return engine.HandOutAnswer{}, err
	}
	return v.(engine.HandOutAnswer), nil
}

// Exceptions implements engine.Face: it returns the exceptions recorded
// during the step (the model answers at once unless an exception is being
// written down, then when it is saved or dropped).
func (f *face) Exceptions(ctx context.Context, step engine.StepInfo) ([]engine.Exception, error) {
	v, err := f.ask(ctx, exceptionsReq{step})
	if err != nil {
		return nil, err
	}
	ex, _ := v.([]engine.Exception)
	return ex, nil
}

// Report implements engine.Face.
func (f *face) Report(r engine.Report) { f.post(reportMsg(r)) }
