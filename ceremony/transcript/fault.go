package transcript

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// FaultEnv names the environment variable with which the crash-safety
// tests kill a ceremony at a chosen point: "before:N" kills the process
// (SIGKILL, as a power cut would stop it) just before event N is
// written, after whatever the event records was done; "after:N" just
// after event N is written and synced; "torn:N" after writing half of
// event N's line. Unset (always, outside those tests) it does nothing.
const FaultEnv = "CEREMONY_TEST_KILL"

// fault is the kill point this process was given, read once.
var fault = parseFault(os.Getenv(FaultEnv))

type faultPoint struct {
	when  string // "before", "after" or "torn"
	event int
}

func parseFault(v string) faultPoint {
	when, n, ok := strings.Cut(v, ":")
	seq, err := strconv.Atoi(n)
	if !ok || err != nil || seq < 1 || (when != "before" && when != "after" && when != "torn") {
		return faultPoint{}
	}
	return faultPoint{when: when, event: seq}
}

// killAt kills the process if the test asked for a kill at this point.
func killAt(when string, seq int) {
	if fault.event == seq && fault.when == when {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
