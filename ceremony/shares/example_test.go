package shares_test

import (
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
)

// exampleShare is a share with made-up contents (a real one comes from
// shares.Split).
func exampleShare() *shares.Share {
	v := make([]byte, 33)
	for i := range 32 {
		v[i] = byte(7 * i)
	}
	v[32] = 0x2a // vault's x coordinate
	return &shares.Share{
		Split:     shares.SplitID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab},
		Purpose:   shares.Backup,
		Threshold: 3,
		Count:     5,
		Index:     2,
		Value:     secret.New(v),
	}
}

func ExampleShare_Text() {
	s := exampleShare()
	text := s.Text()
	defer text.Wipe()
	fmt.Print(string(text.Bytes()))
	// Output:
	// # Ceremony share: backup share 2 of 5 (3 needed), split 04HM-ASW9-NC
	// CS1B
	// 0510C 28T58 CY4TV P0R5K
	// 0800V E3GNR 3GHJN MC9RH
	// 7X340 TN2VS C9MQF 0XVYG
	// GP69T 76N15 N2QVM DFE4P
	// SF9DT JAMAC ZX5V7 G0003
}

func ExampleParse() {
	text := string(exampleShare().Text().Bytes())
	// The keyholder swaps two characters in group 7 and types O for 0.
	typed := strings.Replace(text, "3GHJN", "3GJHN", 1)
	typed = strings.ReplaceAll(typed, "0", "O")
	_, err := shares.Parse([]byte(typed))
	fmt.Println(err)
	// Output:
	// group 7 (line 4): check character does not match: a character in this group is wrong, or two are swapped
}
