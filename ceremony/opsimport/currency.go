package opsimport

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/devicepki/ceremony/ceremony/record"
	"github.com/devicepki/ceremony/ceremony/verify"
)

// Options tune a check.
type Options struct {
	// Now is the time certificates' and CRLs' validity is judged at
	// (time.Now() if zero).
	Now time.Time
	// AllowStaleCRL, if not empty, is why a CRL that is not current
	// (past its next update, not yet valid, or without a next update) is
	// imported anyway: the report records it beside the CRL's dates. It
	// must be one line of printable text (CheckStaleReason).
	AllowStaleCRL string
}

// MaxStaleReason bounds the length of an --allow-stale-crl reason.
const MaxStaleReason = 200

// CheckStaleReason checks a reason given to import a CRL that is not
// current: not empty, printable, one line, at most MaxStaleReason bytes.
func CheckStaleReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return errors.New("give the reason a CRL that is not current is imported anyway (it goes into the report)")
	case len(reason) > MaxStaleReason:
		return fmt.Errorf("the reason is %d bytes: at most %d", len(reason), MaxStaleReason)
	}
	for _, r := range reason {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("the reason holds a control or invisible character (%U): give one line of printable text", r)
		}
	}
	return nil
}

// CheckWith is Check with options: see Options.
func CheckWith(inputs []Input, pin verify.Pin, opts Options) (*Report, error) {
	if opts.AllowStaleCRL != "" {
		if err := CheckStaleReason(opts.AllowStaleCRL); err != nil {
			return nil, &Refusal{Reason: "--allow-stale-crl: " + err.Error()}
		}
	}
	return check(inputs, pin, opts)
}

// The currency rule. A CRL is current at now if its thisUpdate is not
// after now and its nextUpdate is not before it. Every CRL among the
// inputs must be current, whether it is imported or only checked against
// (--crl): a stale CRL reaching online systems tells relying parties that
// nothing more was revoked when that may no longer be true, and one not
// yet valid says this machine's clock, or the issuer's, is wrong. A CRL
// without a nextUpdate (RFC 5280 requires conforming issuers to give one)
// cannot be judged current, and is refused as a stale one is.
//
// With a reason (--allow-stale-crl), such a CRL is imported and the report
// records the reason and the dates. Revocations do not depend on currency:
// a certificate that a CRL among the inputs revokes is refused whether the
// CRL is current or not, with or without a reason (revoked stays revoked),
// and that refusal comes first.
func (c *checker) checkCurrency() error {
	now := c.now.UTC().Format(time.RFC3339)
	for _, it := range c.crls {
		crl := it.CRL
		this := crl.ThisUpdate.UTC().Format(time.RFC3339)
		next := "none"
		if !crl.NextUpdate.IsZero() {
			next = crl.NextUpdate.UTC().Format(time.RFC3339)
		}
		var what, label string
		switch {
		case c.now.Before(crl.ThisUpdate):
			what, label = "is not yet valid", "NOT YET VALID"
		case crl.NextUpdate.IsZero():
			what, label = "gives no next update, so its currency is unknown", "WITHOUT A NEXT UPDATE"
		case c.now.After(crl.NextUpdate):
			what, label = "is stale", "STALE"
		default:
			continue
		}
		dates := fmt.Sprintf("this update %s, next update %s, now %s", this, next, now)
		if c.allowStale == "" {
			return refuse(it, "CRL %s %s (%s): import a current CRL, or give --allow-stale-crl REASON to import this one anyway", crl.Number, what, dates)
		}
		it.StaleReason = c.allowStale
		it.Notes = append(it.Notes, record.Printable(fmt.Sprintf("IMPORTED ALTHOUGH %s (%s) by --allow-stale-crl, reason: %s", label, dates, c.allowStale)))
	}
	return nil
}
