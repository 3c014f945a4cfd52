package qrimage

// dataCodewords[v-1][l-1] is the number of data codewords (bytes) of a
// version v symbol at level l (L, M, Q, H), from ISO/IEC 18004 table 7. The
// tests check every entry against what go-qrcode accepts.
var dataCodewords = [MaxVersion][4]int{
	{19, 16, 13, 9},
	{34, 28, 22, 16},
	{55, 44, 34, 26},
	{80, 64, 48, 36},
	{108, 86, 62, 46},
	{136, 108, 76, 60},
	{156, 124, 88, 66},
	{194, 154, 110, 86},
	{232, 182, 132, 100},
	{274, 216, 154, 122}, // 10
	{324, 254, 180, 140},
	{370, 290, 206, 158},
	{428, 334, 244, 180},
	{461, 365, 261, 197},
	{523, 415, 295, 223},
	{589, 453, 325, 253},
	{647, 507, 367, 283},
	{721, 563, 397, 313},
	{795, 627, 445, 341},
	{861, 669, 485, 385}, // 20
	{932, 714, 512, 406},
	{1006, 782, 568, 442},
	{1094, 860, 614, 464},
	{1174, 914, 664, 514},
	{1276, 1000, 718, 538},
	{1370, 1062, 754, 596},
	{1468, 1128, 808, 628},
	{1531, 1193, 871, 661},
	{1631, 1267, 911, 701},
	{1735, 1373, 985, 745}, // 30
	{1843, 1455, 1033, 793},
	{1955, 1541, 1115, 845},
	{2071, 1631, 1171, 901},
	{2191, 1725, 1231, 961},
	{2306, 1812, 1286, 986},
	{2434, 1914, 1354, 1054},
	{2566, 1992, 1426, 1096},
	{2702, 2102, 1502, 1142},
	{2812, 2216, 1582, 1222},
	{2956, 2334, 1666, 1276}, // 40
}

// alphanumericCountBits is the width of the character count of an
// alphanumeric segment in a version v symbol.
func alphanumericCountBits(v int) int {
	switch {
	case v <= 9:
		return 9
	case v <= 26:
		return 11
	}
	return 13
}

// Capacity returns the number of characters of [Alphanumeric] text that a
// QR code of the given version (1 to [MaxVersion]) holds at the given
// level, encoded as one alphanumeric segment: 4 bits of mode, the character
// count, then 11 bits per pair of characters and 6 for an odd last one. It
// returns 0 for an invalid level or version.
//
// Any text of at most Capacity(level, v) characters fits in version v or
// smaller; [Encode] picks the smallest version that fits.
func Capacity(level Level, version int) int {
	if !level.valid() || version < 1 || version > MaxVersion {
		return 0
	}
	bits := 8*dataCodewords[version-1][level-1] - 4 - alphanumericCountBits(version)
	n := bits / 11 * 2
	if bits%11 >= 6 {
		n++
	}
	return n
}
