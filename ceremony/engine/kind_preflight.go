package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

// ToolInfo describes this program for transcripts.
type ToolInfo = transcript.Tool

// CurrentTool returns the ToolInfo of the running binary; version is the
// version stamped at build time ("dev" when none was).
func CurrentTool(version string) ToolInfo {
	t := ToolInfo{Version: version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				t.Revision = s.Value
			case "vcs.modified":
				t.Modified = s.Value == "true"
			}
		}
		for _, m := range bi.Deps {
			v := m.Version
			if m.Replace != nil {
				v += " => " + m.Replace.Path + " " + m.Replace.Version
			}
			t.Modules = append(t.Modules, m.Path+" "+v)
		}
	}
	exe, err := os.Executable()
	if err == nil {
		t.Executable = exe
		t.ExecSHA256, err = fileSHA256(exe)
	}
	if err != nil {
		t.ExecFailure = err.Error()
	}
	return t
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var preflightKind = script.Kind{
	Name:    script.KindPreflight,
	Summary: "records the environment (tool, PKCS#11 module, token, host, clock) and stops if a network interface is up, unless a role may override it",
	New:     func() script.Spec { return &preflightStep{} },
}

type preflightStep struct {
	noPrepare
	// NetworkOverrideBy is the role that may let the ceremony go on while
	// a network interface other than loopback is up. Empty means a live
	// interface stops the ceremony.
	NetworkOverrideBy string `yaml:"network_override_by"`
}

func (k *preflightStep) Validate(c *script.Check) error {
	if err := c.Once(script.FactPreflight); err != nil {
		return err
	}
	if k.NetworkOverrideBy == "" {
		return nil
	}
	if err := c.NeedsPeople(); err != nil {
		return err
	}
	return c.Role("network_override_by", k.NetworkOverrideBy)
}

func (k *preflightStep) asks() []Ask {
	if k.NetworkOverrideBy == "" {
		return nil
	}
	return []Ask{{Kind: AskNetworkOverride, Role: k.NetworkOverrideBy}}
}

func (k *preflightStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	modSHA, err := fileSHA256(r.opts.HSM.Module)
	if err != nil {
		return "", fmt.Errorf("hash the PKCS#11 module: %w", err)
	}
	live, err := r.checkNetwork(ctx, info, k.NetworkOverrideBy)
	if err != nil {
		return "", err
	}
	host, _ := os.Hostname()
	kernel := runtime.GOOS
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel += " " + strings.TrimSpace(string(b))
	}
	now := r.opts.Now()
	tok := r.tokenInfo()
	r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("Machine clock: %s (local %s)",
		now.UTC().Format("2006-01-02 15:04:05 MST"), now.Local().Format("15:04:05 MST"))})
	serial := "serial " + tok.Serial
	if r.tok == nil {
		serial = "a blank token, to be initialised with this label"
		if r.blank != nil && r.blank.WasInitialised() {
			serial = "initialised already (with its vendor's tools), to be taken over and given this label"
		}
	}
	r.face.Report(Report{Kind: Notice, Step: info, Text: fmt.Sprintf("HSM token %q, %s, %s %s, firmware %s",
		tok.Label, serial, tok.Manufacturer, tok.Model, tok.FirmwareVersion)})
	network := "no network interface up"
	if len(live) > 0 {
		network = fmt.Sprintf("%d network interface(s) up, overridden", len(live))
	}
	text := fmt.Sprintf("Environment recorded: %s on %s (%s); HSM token %q %s (%s %s); %s",
		r.opts.Tool.Version, host, kernel, tok.Label, serial, tok.Manufacturer, tok.Model, network)
	return text, r.record(transcript.Entry{Step: info.ID, Text: text, Data: transcript.Preflight{
		Capabilities: transcript.V(r.caps),
		Tool:         r.opts.Tool,
		PKCS11Module: transcript.File{Path: r.opts.HSM.Module, SHA256: modSHA},
		Token:        transcript.V(tok),
		TokenBlank:   r.tok == nil,
		Host:         map[string]string{"hostname": host, "kernel": kernel, "arch": runtime.GOARCH},
		Clock:        map[string]string{"utc": now.UTC().Format(time.RFC3339), "local": now.Format(time.RFC3339)},
		Network:      transcript.V(map[string]any{"interfaces_up": nonNil(live), "loopback_ignored": true}),
	}})
}

// nonNil makes an empty list marshal as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
