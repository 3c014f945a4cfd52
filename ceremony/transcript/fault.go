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
// event N's line. N may also be TYPE@K, the K-th event of that type this
// process writes (key-generated@2). Unset (always, outside those tests)
// it does nothing.
const FaultEnv = "CEREMONY_TEST_KILL"

// fault is the kill point this process was given, read once.
var fault = parseFault(os.Getenv(FaultEnv))

type faultPoint struct {
	when  string // "before", "after" or "torn"
	event int    // a sequence number, or 0
	typ   string // an event type, with nth
	nth   int
}

// written counts the events of each type this process wrote, for TYPE@K.
var written = map[string]int{}

func parseFault(v string) faultPoint {
	when, at, ok := strings.Cut(v, ":")
	if !ok || (when != "before" && when != "after" && when != "torn") {
		return faultPoint{}
	}
	if typ, k, ok := strings.Cut(at, "@"); ok {
		nth, err := strconv.Atoi(k)
		if err != nil || nth < 1 || typ == "" {
			return faultPoint{}
		}
		return faultPoint{when: when, typ: typ, nth: nth}
	}
	seq, err := strconv.Atoi(at)
	if err != nil || seq < 1 {
		return faultPoint{}
	}
	return faultPoint{when: when, event: seq}
}

// matches reports whether ev, the nth event of its type this process
// writes, is the fault's.
func (f faultPoint) matches(when string, ev Event, nth int) bool {
	if f.when != when {
		return false
	}
	if f.typ != "" {
		return f.typ == ev.Type && f.nth == nth
	}
	return f.event == ev.Seq
}

// killAt kills the process if the test asked for a kill at this point.
func killAt(when string, ev Event, nth int) {
	if fault.when != "" && fault.matches(when, ev, nth) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
