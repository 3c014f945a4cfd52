package words_test

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/words"
)

func ExampleEncode() {
	fmt.Println(strings.Join(words.Encode([]byte{0x00, 0xff, 0x10}), " "))
	// Output: acorn zipper bench
}

func ExampleLines() {
	sum := sha256.Sum256([]byte("abc"))
	fmt.Printf("SHA-256 %x:\n", sum)
	for _, l := range words.Lines(words.Encode(sum[:]), 8) {
		fmt.Println(l)
	}
	// Output:
	// SHA-256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad:
	//  1  rooster koala   brush   shadow  museum  album   stamp   vanilla
	//  9  emerald emerald ember   tiger   hand    pumpkin cherry  chicken
	// 17  queen   anchor  hippo   pebble  oatmeal bucket  lake    orbit
	// 25  rainbow bench   zipper  hippo   wagon   acorn   bridge  potato
}
