package pki

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// CeremonyStart is the not_before value that means "when the ceremony starts".
const CeremonyStart = "ceremony-start"

// Limits on how far a stated start may be from the ceremony.
const (
	maxBackdate = 48 * time.Hour
	maxPostdate = 366 * 24 * time.Hour
)

// ValidityRule is a profile's validity: a start (fixed, or the ceremony's
// start) and an end (fixed, or a duration from the start).
type ValidityRule struct {
	fixedStart time.Time // zero: the ceremony start
	fixedEnd   time.Time // zero: start + duration
	years      int
	days       int
	hours      int
	maxYears   int
	// UntilIssuer: the validity ends at the issuer's not-after if that
	// comes first (ClampToIssuer).
	UntilIssuer bool
}

// ClampToIssuer ends v at the issuer's not-after if the rule says so and
// the issuer's ends first.
func (r ValidityRule) ClampToIssuer(v Validity, issuerNotAfter time.Time) Validity {
	if r.UntilIssuer && issuerNotAfter.Before(v.NotAfter) && issuerNotAfter.After(v.NotBefore) {
		v.NotAfter = issuerNotAfter.UTC()
	}
	return v
}

// Validity is a resolved validity period.
type Validity struct {
	NotBefore time.Time
	NotAfter  time.Time
}

var durationRE = regexp.MustCompile(`^([1-9][0-9]*)(y|d|h)$`)

func parseValidity(v validitySpec, maxYears int, errorf func(string, string, ...any) error) (ValidityRule, error) {
	r := ValidityRule{maxYears: maxYears, UntilIssuer: v.UntilIssuer}
	switch v.NotBefore {
	case "":
		return r, errorf("validity.not_before", "required (%s, or a UTC time such as 2027-01-01T00:00:00Z)", CeremonyStart)
	case CeremonyStart:
	default:
		t, err := parseTime(v.NotBefore)
		if err != nil {
			return r, errorf("validity.not_before", "%v", err)
		}
		r.fixedStart = t
	}
	switch {
	case v.NotAfter == "" && v.Duration == "":
		return r, errorf("validity", "give not_after or duration")
	case v.NotAfter != "" && v.Duration != "":
		return r, errorf("validity", "give not_after or duration, not both")
	case v.NotAfter != "":
		t, err := parseTime(v.NotAfter)
		if err != nil {
			return r, errorf("validity.not_after", "%v", err)
		}
		r.fixedEnd = t
		if !r.fixedStart.IsZero() {
			if _, err := r.Resolve(r.fixedStart); err != nil {
				return r, errorf("validity", "%v", err)
			}
		}
	default:
		m := durationRE.FindStringSubmatch(v.Duration)
		if m == nil {
			return r, errorf("validity.duration", "%q is not a duration such as 20y, 365d or 48h", v.Duration)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100*366*24 {
			return r, errorf("validity.duration", "%q is too long", v.Duration)
		}
		switch m[2] {
		case "y":
			r.years = n
		case "d":
			r.days = n
		case "h":
			r.hours = n
		}
		// The length of a duration barely depends on the start (leap days):
		// check it against the stated start, or against a leap-year start.
		from := r.fixedStart
		if from.IsZero() {
			from = time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)
		}
		if r.end(from).After(from.AddDate(r.maxYears, 0, 0)) {
			return r, errorf("validity.duration", "%s is longer than the %d-year limit for this profile", v.Duration, r.maxYears)
		}
	}
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time such as 2027-01-01T00:00:00Z", s)
	}
	if t.Nanosecond() != 0 {
		return time.Time{}, fmt.Errorf("%q has fractions of a second; certificates hold whole seconds", s)
	}
	return t.UTC(), nil
}

// Resolve returns the validity period of a certificate issued by a ceremony
// that started at start, and checks it against the profile's limits.
func (r ValidityRule) Resolve(start time.Time) (Validity, error) {
	start = start.UTC().Truncate(time.Second)
	nb := start
	if !r.fixedStart.IsZero() {
		nb = r.fixedStart
		if d := start.Sub(nb); d > maxBackdate {
			return Validity{}, fmt.Errorf("not_before %s is %s before the ceremony starts (at most %s of backdating)", nb.Format(time.RFC3339), human(d), human(maxBackdate))
		}
		if d := nb.Sub(start); d > maxPostdate {
			return Validity{}, fmt.Errorf("not_before %s is more than a year after the ceremony starts", nb.Format(time.RFC3339))
		}
	}
	na := r.end(nb)
	if !na.After(nb) {
		return Validity{}, fmt.Errorf("not_after %s is not after not_before %s", na.Format(time.RFC3339), nb.Format(time.RFC3339))
	}
	if limit := nb.AddDate(r.maxYears, 0, 0); na.After(limit) {
		return Validity{}, fmt.Errorf("validity from %s to %s is longer than the %d-year limit for this profile", nb.Format("2006-01-02"), na.Format("2006-01-02"), r.maxYears)
	}
	return Validity{NotBefore: nb, NotAfter: na}, nil
}

// end returns the end of the validity that starts at nb.
func (r ValidityRule) end(nb time.Time) time.Time {
	if !r.fixedEnd.IsZero() {
		return r.fixedEnd
	}
	return nb.AddDate(r.years, 0, r.days).Add(time.Duration(r.hours) * time.Hour)
}

// human formats a duration in days or hours.
func human(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d.Round(time.Hour)/time.Hour))
}
