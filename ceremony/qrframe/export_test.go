package qrframe

import (
	"fmt"
	"hash/crc32"
)

// WithCheck appends the frame check to body (which ends with '.'), as a
// forger who knows the format would: for tests of what the check does
// not cover.
func WithCheck(body string) string {
	return body + fmt.Sprintf("%08X", crc32.Checksum([]byte(body), castagnoli))
}
