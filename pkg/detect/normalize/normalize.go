// Package normalize undoes the encodings attackers use to hide a payload from
// signature matching: percent-encoding (repeated, %uXXXX, overlong UTF-8),
// HTML entities, JavaScript-style escapes, null bytes and look-alike Unicode
// forms. It works on byte slices supplied by the caller so that the common
// case allocates nothing, and every function does work linear in its input
// with a fixed number of decode rounds, so a hostile value costs bounded time.
package normalize

// Signal records which evasion techniques a decode step had to undo. Some of
// them (double encoding, overlong UTF-8, null bytes) are rarely seen in honest
// traffic and are themselves worth reporting.
type Signal uint16

const (
	// Percent means at least one %XX sequence was decoded.
	Percent Signal = 1 << iota
	// DoubleEncoded means a second round of percent-decoding changed the value.
	DoubleEncoded
	// UnicodePercent means a %uXXXX sequence was decoded.
	UnicodePercent
	// Overlong means an overlong UTF-8 sequence was folded to ASCII.
	Overlong
	// NullByte means a NUL byte was removed.
	NullByte
	// HTMLEntity means an HTML character reference was decoded.
	HTMLEntity
	// Escape means a backslash escape (\xHH, \uHHHH) was decoded.
	Escape
	// LookAlike means a full-width or other look-alike rune was folded.
	LookAlike
	// EncodedAngle means a numeric character reference or an escape
	// (&#x3c;, &#60, \x3c, \u003c) produced '<': honest clients write a
	// plain '<' or the named &lt;, so this is an evasion marker.
	EncodedAngle
)

// MaxRounds bounds repeated percent-decoding. Three rounds cover double and
// triple encoding; beyond that the value is left as is (and already flagged).
const MaxRounds = 3

// Options selects what Decode undoes.
type Options struct {
	// PlusIsSpace decodes '+' as a space, as in query strings and forms.
	PlusIsSpace bool
	// Percent enables percent-decoding (rounds up to MaxRounds).
	Percent bool
}

// Decode appends to dst the fully decoded form of src: percent-decoding in up
// to MaxRounds rounds, then HTML entities, backslash escapes, overlong UTF-8
// and look-alike folding, NUL removal. scratch is reused between rounds; both
// slices may be nil. It returns the decoded bytes, the grown scratch and the
// signals seen.
func Decode[S ~string | ~[]byte](dst, scratch []byte, src S, o Options) (out, scratchOut []byte, sig Signal) {
	cur := append(scratch[:0], src...)
	// One pass says which steps can change anything; most values need none.
	has := scanBytes(cur)
	if o.Percent && has&(hasPercent|hasPlus) != 0 {
		for round := 0; round < MaxRounds; round++ {
			if !hasPercentEscape(cur) && !(round == 0 && o.PlusIsSpace && hasByte(cur, '+')) {
				break
			}
			var s Signal
			dst, s = appendPercentDecoded(dst[:0], cur, o.PlusIsSpace && round == 0)
			if round > 0 && s&(Percent|UnicodePercent) != 0 {
				s |= DoubleEncoded
			}
			sig |= s
			cur, dst = dst, cur
		}
		if sig != 0 {
			has = scanBytes(cur)
		}
	}
	for _, st := range unescapeSteps {
		if has&st.needs == 0 {
			continue
		}
		var s Signal
		dst, s = st.decode(dst[:0], cur)
		if s != 0 {
			sig |= s
			cur, dst = dst, cur
			has = scanBytes(cur)
		}
	}
	if has&hasFold != 0 {
		var s Signal
		dst, s = appendFolded(dst[:0], cur)
		sig |= s
		cur, dst = dst, cur
	}
	return cur, dst, sig
}

// unescapeSteps run after percent-decoding, in order, each only when the
// value holds the byte it starts from: HTML entities ('&'), then backslash
// escapes.
var unescapeSteps = [...]struct {
	needs  uint8
	decode func(dst, src []byte) ([]byte, Signal)
}{{hasAmp, appendHTMLDecoded}, {hasBackslash, appendEscapesDecoded}}

// Bytes that make a decoding step necessary, as found by scanBytes.
const (
	hasPercent uint8 = 1 << iota
	hasPlus
	hasAmp
	hasBackslash
	hasFold // NUL or the lead byte of a multi-byte sequence (see needsFold)
)

var byteFlags = func() (t [256]uint8) {
	t['%'], t['+'], t['&'], t['\\'], t[0] = hasPercent, hasPlus, hasAmp, hasBackslash, hasFold
	for c := 0xc0; c < 0x100; c++ {
		t[c] = hasFold
	}
	return t
}()

// scanBytes ORs the flags of every byte of b: one table lookup per byte
// instead of one pass per decoding step.
func scanBytes(b []byte) uint8 {
	var f uint8
	for _, c := range b {
		f |= byteFlags[c]
	}
	return f
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

func hasPercentEscape(b []byte) bool {
	for i := 0; i+2 < len(b); i++ {
		if b[i] != '%' {
			continue
		}
		if isHex(b[i+1]) && (isHex(b[i+2]) || i+3 < len(b) && b[i+2] == '%' && isHex(b[i+3])) {
			return true
		}
		if (b[i+1] == 'u' || b[i+1] == 'U') && i+5 < len(b) && isHex(b[i+2]) && isHex(b[i+3]) && isHex(b[i+4]) && isHex(b[i+5]) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return 0
}

func appendPercentDecoded(dst, src []byte, plus bool) ([]byte, Signal) {
	var sig Signal
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '%' && i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]):
			dst = append(dst, byte(unhex(src[i+1])<<4|unhex(src[i+2])))
			sig |= Percent
			i += 2
		case c == '%' && i+5 < len(src) && (src[i+1] == 'u' || src[i+1] == 'U') &&
			isHex(src[i+2]) && isHex(src[i+3]) && isHex(src[i+4]) && isHex(src[i+5]):
			r := unhex(src[i+2])<<12 | unhex(src[i+3])<<8 | unhex(src[i+4])<<4 | unhex(src[i+5])
			dst = appendRune(dst, r)
			sig |= UnicodePercent
			i += 5
		case c == '%' && i+3 < len(src) && isHex(src[i+1]) && src[i+2] == '%' && isHex(src[i+3]):
			// Nibble-split encoding ("%2%f" for "/"), which lenient decoders
			// accept once an outer layer ("%25%32%25%66") is removed.
			dst = append(dst, byte(unhex(src[i+1])<<4|unhex(src[i+3])))
			sig |= Percent
			i += 3
		case c == '+' && plus:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, sig
}

// appendRune appends r as UTF-8, folding surrogates and invalid runes to '?'.
func appendRune(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, byte(0xc0|r>>6), byte(0x80|r&0x3f))
	case r >= 0xd800 && r < 0xe000, r > 0x10ffff:
		return append(dst, '?')
	case r < 0x10000:
		return append(dst, byte(0xe0|r>>12), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
	}
	return append(dst, byte(0xf0|r>>18), byte(0x80|(r>>12)&0x3f), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
}

// Lower appends the ASCII lower-case form of src to dst; multi-byte runes are
// copied unchanged, so byte offsets line up with src.
func Lower(dst, src []byte) []byte {
	for _, c := range src {
		if c >= 'A' && c <= 'Z' {
			c |= 0x20
		}
		dst = append(dst, c)
	}
	return dst
}
