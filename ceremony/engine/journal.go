package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/devicepki/ceremony/hsm"
)

// journalLabel is the token's private data object naming the unfinished
// ceremony that is making keys on it, and the CKA_IDs it made. A ceremony
// adds each id before the key exists and clears the journal once it is
// sealed or rolled back; close destroys only objects whose ids the token
// lists for the ceremony it closes, whatever its transcript says.
const journalLabel = "ceremony-journal"

// journal is the token's record of an unfinished ceremony's keys.
type journal struct {
	Version  int      `json:"version"`
	Ceremony string   `json:"ceremony"`
	IDs      []string `json:"ids"`
}

// readJournal reads the token's journal; nil if it has none.
func readJournal(tok *hsm.Token) (*journal, error) {
	data, err := tok.ReadPrivateData(journalLabel)
	if errors.Is(err, hsm.ErrDataNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil || j.Version != 1 || j.Ceremony == "" {
		return nil, fmt.Errorf("token %q: the ceremony journal (%s) cannot be read", tok.Info().Label, journalLabel)
	}
	return &j, nil
}

// ceremonyID names this run as the token's register and journal do.
func (r *run) ceremonyID() string {
	return r.script.Name + " " + r.start.Format("2006-01-02T15:04:05Z")
}

// journalAdd records on tok, before a key is made there, that this
// ceremony is making a key with CKA_ID id. A journal of another ceremony
// stops it: that ceremony did not finish on record.
func (r *run) journalAdd(tok *hsm.Token, id string) error {
	j, err := readJournal(tok)
	if err != nil {
		return err
	}
	switch {
	case j == nil:
		j = &journal{Version: 1, Ceremony: r.ceremonyID()}
	case j.Ceremony != r.ceremonyID():
		return fmt.Errorf("token %q holds the journal of ceremony %q, which did not finish on record: end it with 'ceremony close' on its directory (it clears the journal of a sealed ceremony too); nothing was made", tok.Info().Label, j.Ceremony)
	}
	if slices.Contains(j.IDs, id) {
		return nil
	}
	j.IDs = append(j.IDs, id)
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	// Added, not replaced: no object is destroyed between two key
	// generations (see hsm.AddPrivateData).
	if err := tok.AddPrivateData(journalLabel, data); err != nil {
		return err
	}
	if !slices.Contains(r.journaled, tok) {
		r.journaled = append(r.journaled, tok)
	}
	return nil
}

// clearJournals removes the journal from every token this run wrote one
// to: the ceremony is sealed, or rolled back.
func (r *run) clearJournals() error {
	var errs []error
	for _, tok := range r.journaled {
		if err := tok.DestroyPrivateData(journalLabel); err != nil && !errors.Is(err, hsm.ErrDataNotFound) {
			errs = append(errs, err)
		}
	}
	r.journaled = nil
	return errors.Join(errs...)
}

// sealingLabel is the token's private data object that binds a seal
// begun and not finished to the transcript as it stood: 'ceremony seal'
// signs an interrupted seal only for the ceremony, and the chain head,
// it names. Without it anyone who can rewrite an unsealed transcript
// could have the audit key sign whatever they wrote.
const sealingLabel = "ceremony-sealing"

// sealingRecord is what sealingLabel holds.
type sealingRecord struct {
	Version  int    `json:"version"`
	Ceremony string `json:"ceremony"`
	// Head and Events are the chain head and event count just before the
	// transcript-sealing event.
	Head   string `json:"head"`
	Events int    `json:"events"`
}

// writeSealing records on tok that ceremony is about to seal its
// transcript, whose head is head after events events.
func writeSealing(tok *hsm.Token, ceremony, head string, events int) error {
	data, err := json.Marshal(sealingRecord{Version: 1, Ceremony: ceremony, Head: head, Events: events})
	if err != nil {
		return err
	}
	return tok.ReplacePrivateData(sealingLabel, data)
}

// readSealing reads tok's sealing record; nil if it has none.
func readSealing(tok *hsm.Token) (*sealingRecord, error) {
	data, err := tok.ReadPrivateData(sealingLabel)
	if errors.Is(err, hsm.ErrDataNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s sealingRecord
	if err := json.Unmarshal(data, &s); err != nil || s.Version != 1 || s.Ceremony == "" || s.Head == "" {
		return nil, fmt.Errorf("token %q: the sealing record (%s) cannot be read", tok.Info().Label, sealingLabel)
	}
	return &s, nil
}

// clearSealing removes tok's sealing record once the seal is finished.
func clearSealing(tok *hsm.Token) error {
	if err := tok.DestroyPrivateData(sealingLabel); err != nil && !errors.Is(err, hsm.ErrDataNotFound) {
		return err
	}
	return nil
}

// clearSealingOf removes tok's sealing record if it names ceremony, and
// reports whether there was one.
func clearSealingOf(tok *hsm.Token, ceremony string) (bool, error) {
	sr, err := readSealing(tok)
	if err != nil || sr == nil || sr.Ceremony != ceremony {
		return false, err
	}
	return true, clearSealing(tok)
}
