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
