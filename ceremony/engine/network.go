package engine

import (
	"context"
	"fmt"
	"net"
	"strings"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/transcript"
)

// NetInterface is a network interface that is up, as the preflight step
// records it.
type NetInterface struct {
	Name      string   `json:"name"`
	Flags     string   `json:"flags"`
	MAC       string   `json:"mac,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

func (n NetInterface) String() string {
	if len(n.Addresses) == 0 {
		return n.Name
	}
	return n.Name + " (" + strings.Join(n.Addresses, ", ") + ")"
}

// LiveInterfaces returns the network interfaces that are up, other than
// loopback. An air-gapped ceremony machine has none.
func LiveInterfaces() ([]NetInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []NetInterface
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		n := NetInterface{Name: i.Name, Flags: i.Flags.String(), MAC: i.HardwareAddr.String()}
		if addrs, err := i.Addrs(); err == nil {
			for _, a := range addrs {
				n.Addresses = append(n.Addresses, a.String())
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// checkNetwork stops the ceremony if a network interface is up, unless the
// script lets a role override it and one of its people does, with a reason.
// It returns the live interfaces for the preflight record.
func (r *run) checkNetwork(ctx context.Context, info StepInfo, overrideBy string) ([]NetInterface, error) {
	live, err := r.opts.Interfaces()
	if err != nil {
		return nil, err
	}
	if len(live) == 0 {
		return nil, nil
	}
	names := make([]string, len(live))
	for i, n := range live {
		names[i] = n.String()
	}
	problem := fmt.Sprintf("network interface(s) up: %s", strings.Join(names, "; "))
	if overrideBy == "" {
		return nil, fmt.Errorf("%s; the ceremony machine must be offline: disconnect it (the script allows no override)", problem)
	}
	candidates := r.inRole(overrideBy)
	r.face.Report(Report{Kind: Notice, Step: info, Text: "WARNING: " + problem})
	ans, err := r.face.Override(ctx, OverrideRequest{Step: info, Check: "network", Problem: problem, Candidates: candidates})
	if err != nil {
		return nil, err
	}
	by, err := pick(ans.By, candidates)
	if err != nil {
		return nil, err
	}
	if err := checkNote("override reason", ans.Reason); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s overrode the offline check: %s. Reason: %s", by.Name, problem, ans.Reason)
	return live, r.record(transcript.Entry{Step: info.ID, Actors: actors(by), Text: text,
		Data: transcript.Override{Check: "network", Interfaces: transcript.V(live), Reason: ans.Reason}})
}

// CheckNote checks free text a participant types into the record (an
// override reason, an exception): not empty, at most MaxNoteLen bytes,
// printable characters and line breaks only (no terminal escapes, no
// invisible or direction-changing characters).
func CheckNote(what, s string) error { return checkNote(what, s) }

// MaxNoteLen bounds free text people type into the record (override
// reasons, exceptions).
const MaxNoteLen = 2000

// checkNote checks free text typed by a participant.
func checkNote(what, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > MaxNoteLen:
		return fmt.Errorf("%s is longer than %d bytes", what, MaxNoteLen)
	}
	for _, c := range s {
		if c != '\n' && !unicode.IsPrint(c) {
			return fmt.Errorf("%s contains a control or invisible character (%U)", what, c)
		}
	}
	return nil
}
