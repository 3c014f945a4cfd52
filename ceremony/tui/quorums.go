package tui

import (
	"fmt"

	"github.com/devicepki/ceremony/ceremony/script"
)

// scriptQuorums describes the quorums the steps of sc need, for the start
// screen: "officer 3 of 5 (activate-hsm)".
func scriptQuorums(sc *script.Script) []string {
	var quorums []string
	for _, st := range sc.Steps {
		qs, ok := st.Spec.(script.QuorumStep)
		if !ok || qs.StepQuorum() == nil {
			continue
		}
		sq := qs.StepQuorum()
		q := fmt.Sprintf("%s %d of %d (%s)", sq.Role, sq.Threshold, sq.Shares, st.ID)
		if sq.Threshold == 0 {
			q = fmt.Sprintf("%s quorum of the split on record (%s)", sq.Role, st.ID)
		}
		quorums = append(quorums, q)
	}
	return quorums
}
