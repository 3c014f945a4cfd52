package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strings"

	"github.com/devicepki/ceremony/ceremony/keys"
)

const (
	// rsaExponent is the only RSA public exponent accepted.
	rsaExponent = 65537

	// trialDivisionBound: an RSA modulus must have no prime factor below
	// it.
	trialDivisionBound = 10000

	// fermatRounds is how many steps of Fermat's factorisation are tried
	// from ceil(sqrt(N)). Step i finds primes whose difference is about
	// sqrt(8·(i+1)·sqrt(N)), so 100 steps find primes closer than about
	// 2^(bits/4 + 5): a sign of a broken prime generator.
	fermatRounds = 100
)

// CheckKey holds a public key to the ceremony's key policy and returns its
// algorithm. allowed lists the algorithms the certificate template permits.
//
// The key's type and size (or curve) must be one of allowed. An ECDSA key's
// point must be a valid point of its curve. An RSA key must have public
// exponent 65537, an odd modulus of exactly an allowed size with no prime
// factor below 10000, not carry the ROCA fingerprint (CVE-2017-15361: keys
// made by Infineon's RSALib, which can be factored), and not have primes so
// close together that Fermat's method factors the modulus in 100 steps.
//
// Errors are one line naming the key and what is wrong, for example
// "RSA 2048-bit key: too small; the template allows ECDSA P-384, RSA
// 3072-bit".
func CheckKey(pub crypto.PublicKey, allowed []keys.Algorithm) (keys.Algorithm, error) {
	if len(allowed) == 0 {
		return "", errors.New("no key algorithm is allowed: the template lists none")
	}
	for _, a := range allowed {
		if a.Curve() == nil && a.RSABits() == 0 {
			return "", fmt.Errorf("the template allows %q, which is not a supported key algorithm", a)
		}
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return checkRSA(k, allowed)
	case *ecdsa.PublicKey:
		return checkECDSA(k, allowed)
	case ed25519.PublicKey:
		return "", fmt.Errorf("Ed25519 key: key type not allowed; the template allows %s", describeAll(allowed))
	case nil:
		return "", errors.New("no public key")
	default:
		return "", fmt.Errorf("unsupported key (%T): key type not allowed; the template allows %s", pub, describeAll(allowed))
	}
}

func checkECDSA(k *ecdsa.PublicKey, allowed []keys.Algorithm) (keys.Algorithm, error) {
	if k == nil || k.Curve == nil {
		return "", errors.New("ECDSA key without a curve")
	}
	what := "ECDSA " + k.Curve.Params().Name + " key"
	var alg keys.Algorithm
	anyECDSA := false
	for _, a := range allowed {
		if c := a.Curve(); c != nil {
			anyECDSA = true
			if c == k.Curve {
				alg = a
			}
		}
	}
	switch {
	case alg == "" && !anyECDSA:
		return "", fmt.Errorf("%s: ECDSA keys not allowed; the template allows %s", what, describeAll(allowed))
	case alg == "":
		return "", fmt.Errorf("%s: curve not allowed; the template allows %s", what, describeAll(allowed))
	}
	// ECDH checks, as crypto/ecdh.Curve.NewPublicKey does, that the point
	// is on the curve, reduced, and not the point at infinity.
	if _, err := k.ECDH(); err != nil {
		return "", fmt.Errorf("%s: the public point is not valid (not on the curve, or the point at infinity); generate a new key", what)
	}
	return alg, nil
}

func checkRSA(k *rsa.PublicKey, allowed []keys.Algorithm) (keys.Algorithm, error) {
	if k == nil || k.N == nil || k.N.Sign() <= 0 {
		return "", errors.New("RSA key without a modulus")
	}
	size := k.N.BitLen()
	what := fmt.Sprintf("RSA %d-bit key", size)
	var alg keys.Algorithm
	minBits, maxBits := 0, 0
	for _, a := range allowed {
		if b := a.RSABits(); b != 0 {
			if b == size {
				alg = a
			}
			if minBits == 0 || b < minBits {
				minBits = b
			}
			maxBits = max(maxBits, b)
		}
	}
	if alg == "" {
		problem := "size not allowed"
		switch {
		case minBits == 0:
			problem = "RSA keys not allowed"
		case size < minBits:
			problem = "too small"
		case size > maxBits:
			problem = "too large"
		}
		return "", fmt.Errorf("%s: %s; the template allows %s", what, problem, describeAll(allowed))
	}
	if k.E != rsaExponent {
		return "", fmt.Errorf("%s: public exponent is %d, not 65537; generate a new key with exponent 65537", what, k.E)
	}
	if k.N.Bit(0) == 0 {
		return "", fmt.Errorf("%s: the modulus is even, so it is not an RSA modulus; generate a new key", what)
	}
	res := smallPrimeResidues(k.N)
	for i, r := range res {
		if r == 0 {
			return "", fmt.Errorf("%s: the modulus has the small prime factor %d, so anyone can factor it; generate a new key, and find out what made this one", what, smallPrimes[i])
		}
	}
	if hasROCAFingerprint(res) {
		return "", fmt.Errorf("%s: it has the ROCA fingerprint (CVE-2017-15361, Infineon RSALib), so it can be factored; generate a new key on a device without that flaw", what)
	}
	if fermatFactors(k.N, fermatRounds) {
		return "", fmt.Errorf("%s: its two primes are so close together that Fermat's method factors it; generate a new key, and find out what made this one", what)
	}
	return alg, nil
}

// describe names an algorithm as errors do: "ECDSA P-384", "RSA 3072-bit".
func describe(a keys.Algorithm) string {
	if b := a.RSABits(); b != 0 {
		return fmt.Sprintf("RSA %d-bit", b)
	}
	return a.Describe()
}

func describeAll(allowed []keys.Algorithm) string {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = describe(a)
	}
	return strings.Join(names, ", ")
}

// smallPrimes are the primes below trialDivisionBound, in order.
var smallPrimes = primesBelow(trialDivisionBound)

// primeGroup is a run of consecutive smallPrimes and their product, which
// fits a uint64: one pass over a modulus reduces it by several primes.
type primeGroup struct {
	product uint64
	first   int // index in smallPrimes
	count   int
}

var primeGroups = groupPrimes(smallPrimes)

func primesBelow(n int) []uint64 {
	composite := make([]bool, n)
	var primes []uint64
	for i := 2; i < n; i++ {
		if composite[i] {
			continue
		}
		primes = append(primes, uint64(i))
		for j := i * i; j < n; j += i {
			composite[j] = true
		}
	}
	return primes
}

func groupPrimes(primes []uint64) []primeGroup {
	var groups []primeGroup
	for i, p := range primes {
		if n := len(groups); n > 0 {
			g := &groups[n-1]
			if hi, _ := bits.Mul64(g.product, p); hi == 0 {
				g.product *= p
				g.count++
				continue
			}
		}
		groups = append(groups, primeGroup{product: p, first: i, count: 1})
	}
	return groups
}

// smallPrimeResidues returns n mod p for each p in smallPrimes.
func smallPrimeResidues(n *big.Int) []uint64 {
	// n as big-endian 64-bit words, the first padded with leading zeros.
	b := n.Bytes()
	words := make([]uint64, (len(b)+7)/8)
	pad := make([]byte, len(words)*8)
	copy(pad[len(pad)-len(b):], b)
	for i := range words {
		words[i] = binary.BigEndian.Uint64(pad[i*8:])
	}
	res := make([]uint64, len(smallPrimes))
	for _, g := range primeGroups {
		var r uint64
		for _, w := range words {
			r = bits.Rem64(r, w, g.product)
		}
		for i := g.first; i < g.first+g.count; i++ {
			res[i] = r % smallPrimes[i]
		}
	}
	return res
}

// The ROCA fingerprint (Nemec et al., "The Return of Coppersmith's Attack",
// CCS 2017). Infineon's RSALib makes each prime as k·M + (65537^a mod M),
// where M is the product of the first n primes (n = 39 for the smallest
// keys, more for larger ones). So for every prime p dividing M,
//
//	N = P·Q ≡ 65537^(a+b) (mod p),
//
// that is, N mod p lies in the subgroup of (Z/pZ)* generated by 65537. Like
// the published detector, we test the odd primes 3 to 167 (those among the
// first 39 primes, which divide M for every key size). A random modulus
// passes the test for p with probability ord_p(65537)/(p−1); over these
// primes that multiplies to about 2^-27.8, one key in 240 million, for
// which the advice to generate a new key is harmless.
const rocaGenerator = rsaExponent

// rocaPrimeCount is how many of smallPrimes, after 2, the test uses: the
// primes 3 to 167.
const rocaPrimeCount = 38

// rocaSubgroups[i][r] reports whether r lies in the subgroup generated by
// 65537 modulo smallPrimes[1+i].
var rocaSubgroups = func() [][]bool {
	tables := make([][]bool, rocaPrimeCount)
	for i := range tables {
		p := smallPrimes[1+i]
		in := make([]bool, p)
		g := rocaGenerator % p
		for x := uint64(1); !in[x]; x = x * g % p {
			in[x] = true
		}
		tables[i] = in
	}
	return tables
}()

// hasROCAFingerprint reports whether a modulus with the given residues
// (from smallPrimeResidues) carries the ROCA fingerprint.
func hasROCAFingerprint(residues []uint64) bool {
	for i, in := range rocaSubgroups {
		if !in[residues[1+i]] {
			return false
		}
	}
	return true
}

// fermatFactors reports whether Fermat's method finds n = a² − b² =
// (a−b)(a+b), with a−b > 1, for one of the first rounds values of a from
// ceil(sqrt(n)).
func fermatFactors(n *big.Int, rounds int) bool {
	a := new(big.Int).Sqrt(n)
	b2 := new(big.Int).Mul(a, a)
	if b2.Cmp(n) < 0 {
		a.Add(a, big.NewInt(1))
		b2.Mul(a, a)
	}
	b2.Sub(b2, n) // a² − n
	step := new(big.Int)
	b := new(big.Int)
	one := big.NewInt(1)
	for range rounds {
		if isSquare(b2, b) {
			// a − b is a factor; it is 1 only when n is prime.
			return new(big.Int).Sub(a, b).Cmp(one) > 0
		}
		// (a+1)² − n = (a² − n) + 2a + 1
		step.Lsh(a, 1)
		step.Add(step, one)
		b2.Add(b2, step)
		a.Add(a, one)
	}
	return false
}

// squaresMod64[r] reports whether r is a square modulo 64; likewise for 63,
// 65 and 11 in squaresModOther, indexed by x mod 45045 = 63·65·11.
var squaresMod64, squaresModOther = func() ([64]bool, []bool) {
	var m64 [64]bool
	for i := range 64 {
		m64[i*i%64] = true
	}
	mods := []int{63, 65, 11}
	sq := make([][]bool, len(mods))
	for j, m := range mods {
		sq[j] = make([]bool, m)
		for i := range m {
			sq[j][i*i%m] = true
		}
	}
	other := make([]bool, 63*65*11)
	for r := range other {
		other[r] = sq[0][r%63] && sq[1][r%65] && sq[2][r%11]
	}
	return m64, other
}()

var bigOther = big.NewInt(63 * 65 * 11)

// isSquare reports whether x is a perfect square; if so, root is set to
// its square root. Cheap residue tests reject all but about 1% of
// non-squares before the square root is taken.
func isSquare(x, root *big.Int) bool {
	if x.Sign() == 0 {
		root.SetInt64(0)
		return true
	}
	if !squaresMod64[x.Bits()[0]&63] {
		return false
	}
	if !squaresModOther[new(big.Int).Mod(x, bigOther).Int64()] {
		return false
	}
	root.Sqrt(x)
	return new(big.Int).Mul(root, root).Cmp(x) == 0
}
