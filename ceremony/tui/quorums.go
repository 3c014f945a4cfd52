package tui

import (
	"fmt"

	"github.com/devicepki/ceremony/ceremony/script"
)

// scriptQuorums describes the quorums the steps of sc need, for the start
// screen: "officer 3 of 5 (activate-hsm)". It is the only code of the TUI
// that reads a step's quorum.
func scriptQuorums(sc *script.Script) []string {
	var quorums []string
	for _, st := range sc.Steps {
		if st.Quorum != nil {
			q := fmt.Sprintf("%s %d of %d (%s)", st.Quorum.Role, st.Quorum.Threshold, st.Quorum.Shares, st.ID)
			if st.Quorum.Threshold == 0 {
				q = fmt.Sprintf("%s quorum of the split on record (%s)", st.Quorum.Role, st.ID)
			}
			quorums = append(quorums, q)
		}
	}
	return quorums
}
