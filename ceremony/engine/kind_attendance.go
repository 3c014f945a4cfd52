package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/script"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

var attendanceKind = script.Kind{
	Name:    script.KindAttendance,
	Summary: "records who is present, by role; every script has exactly one, before any step that asks people",
	New:     func() script.Spec { return &attendanceStep{} },
}

// attendanceStep records who is present. It has no fields of its own.
type attendanceStep struct {
	asksNothing
	noPrepare
}

func (k *attendanceStep) Validate(c *script.Check) error {
	return c.Once(script.FactAttendance)
}

func (k *attendanceStep) run(ctx context.Context, r *run, info StepInfo) (string, error) {
	return r.attendance(ctx, info)
}

func (r *run) attendance(ctx context.Context, info StepInfo) (string, error) {
	got, err := r.face.Attendance(ctx, AttendanceRequest{Step: info, Roles: r.script.Roles})
	if err != nil {
		return "", err
	}
	for role := range got {
		if _, ok := r.script.Role(role); !ok {
			return "", fmt.Errorf("attendance names role %q, which the script does not declare", role)
		}
	}
	if err := CheckAttendance(r.script.Roles, got); err != nil {
		return "", err
	}
	var present []Participant
	var parts []string
	for _, role := range r.script.Roles {
		for _, n := range got[role.Name] {
			present = append(present, Participant{Role: role.Name, Name: n})
			parts = append(parts, fmt.Sprintf("%s (%s)", n, role.Name))
		}
	}
	r.present = present
	text := "Present: " + strings.Join(parts, ", ")
	return text, r.record(transcript.Entry{Type: transcript.TypeAttendance, Step: info.ID, Actors: actors(present...), Text: text})
}
