package qrimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// ErrNotFound is returned by [Decode] and [DecodeFile] when no QR code can
// be read in the image.
var ErrNotFound = errors.New("no QR code found")

// MaxFileSize is the largest image file [DecodeFile] reads, in bytes.
const MaxFileSize = 32 << 20

// MaxPixels is the largest number of pixels (width × height) of an image
// that [DecodeFile] decodes: a 24-megapixel photograph fits (a phone's
// default), and a frame needs far fewer. Decoding costs memory and time in
// proportion.
const MaxPixels = 24_000_000

var (
	pureHints      = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}
	tryHarderHints = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
)

// Decode reads the QR code in img and returns its text. It tries, in turn:
//
//  1. to read img as a clean render of one code, axis-aligned on a light
//     background (a PNG from this package, a screenshot of one), with
//     gozxing's PURE_BARCODE reading: at a whole number of pixels per
//     module it reads every code, where gozxing's detector misses a few
//     percent;
//  2. the same at any scale (decodePureSized), which gozxing cannot do for
//     large codes: a screenshot of a zoomed page;
//  3. to find the code anywhere in img, as in a photograph or a scan
//     (gozxing's detector, TRY_HARDER);
//  4. to find the code's finder patterns and try the code sizes near the
//     one they suggest (decodeResized): a photograph of a large code whose
//     size the detector misjudged;
//  5. to find the code with light and dark swapped, as in a photograph of
//     a code drawn for the other kind of terminal background.
//
// It returns [ErrNotFound] if none of these reads a code, and an error if
// the code holds text with a character outside [Alphanumeric]: such text
// did not come from [Encode], and decoders may have guessed its character
// set. A clean render is read by the first attempt, in about 2 ms for a
// 1200-character frame; an image without a code takes all five.
func Decode(img image.Image) (string, error) {
	if img == nil || img.Bounds().Empty() {
		return "", fmt.Errorf("empty image: %w", ErrNotFound)
	}
	src := gozxing.NewLuminanceSourceFromImage(img)
	// The bitmap keeps its black-and-white image between attempts.
	plain := bitmap(src)
	tries := []func() (string, bool){
		func() (string, bool) { return decodeWith(plain, pureHints) },
		func() (string, bool) { return decodePureSized(plain) },
		func() (string, bool) { return decodeWith(plain, tryHarderHints) },
		func() (string, bool) { return decodeResized(plain) },
		func() (string, bool) { return decodeWith(bitmap(src.Invert()), tryHarderHints) },
	}
	for _, try := range tries {
		text, ok := safely(try)
		if !ok {
			continue
		}
		if err := checkAlphanumeric(text, "the QR code's text"); err != nil {
			return "", err
		}
		if text == "" {
			return "", errors.New("the QR code is empty")
		}
		return text, nil
	}
	return "", ErrNotFound
}

func bitmap(src gozxing.LuminanceSource) *gozxing.BinaryBitmap {
	// NewBinaryBitmap fails only for a nil binarizer.
	b, _ := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	return b
}

// safely makes one attempt at reading a code. gozxing is a port of Java
// code that signals failures by exceptions; a hostile image must not crash
// the program if one of them became a panic in the port, so a panic counts
// as not finding a code.
func safely(try func() (string, bool)) (text string, ok bool) {
	defer func() {
		if recover() != nil {
			text, ok = "", false
		}
	}()
	return try()
}

// decodeWith makes one attempt at reading a code in bmp with gozxing's
// reader.
func decodeWith(bmp *gozxing.BinaryBitmap, hints map[gozxing.DecodeHintType]any) (string, bool) {
	res, err := zxqr.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", false
	}
	return res.GetText(), true
}

// DecodeFile reads the QR code in a PNG or JPEG file, told apart by their
// content whatever the file is called. It refuses anything that is not a
// regular file (a FIFO is not waited on), files larger than [MaxFileSize],
// and images wider or higher than [MaxDimension] or larger than [MaxPixels],
// which it checks before decoding the pixels. Errors name the file.
func DecodeFile(path string) (string, error) {
	data, err := durable.ReadRegularFile(path, MaxFileSize)
	if err != nil {
		if _, ok := errors.AsType[*fs.PathError](err); ok {
			return "", err // names the file already
		}
		return "", fmt.Errorf("%s: %w", path, err)
	}
	var (
		format       string
		decodeConfig func([]byte) (image.Config, error)
		decode       func([]byte) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		format = "PNG"
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		format = "JPEG"
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	default:
		return "", fmt.Errorf("%s: not a PNG or JPEG image", path)
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return "", fmt.Errorf("%s: bad %s image: %w", path, format, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxDimension || cfg.Height > MaxDimension || cfg.Width*cfg.Height > MaxPixels {
		return "", fmt.Errorf("%s: %s image of %d×%d pixels: refusing to decode more than %d×%d or %d pixels", path, format, cfg.Width, cfg.Height, MaxDimension, MaxDimension, MaxPixels)
	}
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model:
		return "", fmt.Errorf("%s: a 16-bit %s image: save it with 8 bits per channel", path, format)
	}
	img, err := decode(data)
	if err != nil {
		return "", fmt.Errorf("%s: bad %s image: %w", path, format, err)
	}
	text, err := Decode(img)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return text, nil
}

// decodePureSized reads a clean, axis-aligned render like gozxing's
// PURE_BARCODE reading, but at any scale: it finds the symbol's edges (the
// outer edges of the finder patterns), estimates the module size from the
// top-left pattern's width, tries the code sizes near the one that
// suggests, and samples each module at its centre. gozxing works out the
// size once, from its estimate of the module size, and for large codes at
// a fractional number of pixels per module that estimate is too far off:
// at 3.5 pixels per module it reads no version 23 code, and neither does
// its detector.
func decodePureSized(bmp *gozxing.BinaryBitmap) (string, bool) {
	bm, err := bmp.GetBlackMatrix()
	if err != nil {
		return "", false
	}
	tl := bm.GetTopLeftOnBit()
	if tl == nil {
		return "", false
	}
	left, top := tl[0], tl[1]
	right, bottom := left, top
	for x := left; x < bm.GetWidth(); x++ {
		if bm.Get(x, top) {
			right = x
		}
	}
	for y := top; y < bm.GetHeight(); y++ {
		if bm.Get(left, y) {
			bottom = y
		}
	}
	w, h := float64(right-left+1), float64(bottom-top+1)
	run := 0 // the top edge of the top-left finder pattern: 7 modules
	for x := left; x <= right && bm.Get(x, top); x++ {
		run++
	}
	if run < 7 || w < 21 || h < 21 || math.Abs(w-h) > w/10 {
		return "", false
	}
	v0 := int(math.Round((w*7/float64(run) - 17) / 4))
	for _, dv := range []int{0, 1, -1, 2, -2} {
		v := v0 + dv
		if v < 1 || v > MaxVersion {
			continue
		}
		d := symbolSize(v)
		bits, err := gozxing.NewBitMatrix(d, d)
		if err != nil {
			continue
		}
		for j := range d {
			y := top + int((float64(j)+0.5)*h/float64(d))
			for i := range d {
				if bm.Get(left+int((float64(i)+0.5)*w/float64(d)), y) {
					bits.Set(i, j)
				}
			}
		}
		res, err := decoder.NewDecoder().Decode(bits, nil)
		if err != nil {
			continue
		}
		return res.GetText(), true
	}
	return "", false
}

// decodeResized finds the code's three finder patterns and then tries the
// code sizes near the one they suggest, reading the modules off an affine
// grid through the patterns' centres. gozxing's detector works out the size
// once, from the distances between the patterns and one estimate of the
// module size, and gives up when that is a version or more off, as it can
// be for large codes in photographs.
func decodeResized(bmp *gozxing.BinaryBitmap) (string, bool) {
	bm, err := bmp.GetBlackMatrix()
	if err != nil {
		return "", false
	}
	info, err := detector.NewFinderPatternFinder(bm, nil).Find(tryHarderHints)
	if err != nil {
		return "", false
	}
	tl, tr, bl := info.GetTopLeft(), info.GetTopRight(), info.GetBottomLeft()
	// The patterns' module sizes are measured along the image's rows; in a
	// code turned by θ (folded into ±45°), a row through a pattern's centre
	// is 1/cos θ times as long as the pattern is wide.
	θ := math.Atan2(tr.GetY()-tl.GetY(), tr.GetX()-tl.GetX())
	θ -= math.Round(θ/(math.Pi/2)) * math.Pi / 2
	ms := (tl.GetEstimatedModuleSize() + tr.GetEstimatedModuleSize() + bl.GetEstimatedModuleSize()) / 3 * math.Cos(θ)
	if !(ms >= 1) {
		return "", false
	}
	// Distances between the centres are size − 7 modules.
	est := (gozxing.ResultPoint_Distance(tl, tr)+gozxing.ResultPoint_Distance(tl, bl))/2/ms + 7
	v0 := int(math.Round((est - 17) / 4))
	for _, dv := range []int{0, 1, -1, 2, -2, 3, -3} {
		v := v0 + dv
		if v < 1 || v > MaxVersion {
			continue
		}
		d := symbolSize(v)
		bits, err := detector.Detector_sampleGrid(bm, detector.Detector_createTransform(tl, tr, bl, nil, d), d)
		if err != nil {
			continue
		}
		res, err := decoder.NewDecoder().Decode(bits, nil)
		if err != nil {
			continue
		}
		return res.GetText(), true
	}
	return "", false
}
