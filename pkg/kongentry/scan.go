package kongentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

var errSyntax = errors.New("invalid JSON")

// scanner is a small JSON reader over one document held as a string. It
// returns substrings of the input where no unescaping is needed and writes
// unescaped strings into one arena, which the Entry keeps for the next
// document, so decoding into a reused Entry does not allocate however many
// fields it has (cjson escapes every '/', so most URIs and many header
// values contain escapes).
type scanner struct {
	s     string
	i     int
	arena []byte
	err   error
}

func (sc *scanner) fail(format string, args ...any) {
	if sc.err == nil {
		sc.err = fmt.Errorf("offset %d: "+format, append([]any{sc.i}, args...)...)
	}
	sc.i = len(sc.s)
}

func (sc *scanner) ws() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) peek() byte {
	// cjson writes no whitespace: the common case is a token right here.
	if sc.i < len(sc.s) {
		if c := sc.s[sc.i]; c > ' ' {
			return c
		}
	}
	sc.ws()
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// next advances through an object. Call it with n == 0 before the first
// member; it consumes '{' or ',' and the key with its ':' and returns the
// key, or returns ok == false at '}' (or on error).
func (sc *scanner) next(n *int) (key string, ok bool) {
	c := sc.peek()
	if *n == 0 {
		if c != '{' {
			sc.fail("expected object, found %q", c)
			return "", false
		}
		sc.i++
		if sc.peek() == '}' {
			sc.i++
			return "", false
		}
	} else {
		switch c {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return "", false
		default:
			sc.fail("expected ',' or '}', found %q", c)
			return "", false
		}
	}
	*n++
	if sc.peek() != '"' {
		sc.fail("expected key")
		return "", false
	}
	key = sc.strBody()
	if sc.peek() != ':' {
		sc.fail("expected ':' after %q", key)
		return "", false
	}
	sc.i++
	return key, sc.err == nil
}

// nextElem advances through an array the same way.
func (sc *scanner) nextElem(n *int) bool {
	c := sc.peek()
	if *n == 0 {
		if c != '[' {
			sc.fail("expected array, found %q", c)
			return false
		}
		sc.i++
		if sc.peek() == ']' {
			sc.i++
			return false
		}
	} else {
		switch c {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return false
		default:
			sc.fail("expected ',' or ']', found %q", c)
			return false
		}
	}
	*n++
	return sc.err == nil
}

// plain marks the bytes a JSON string holds as they are: not the quote,
// the backslash or a control character.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special returns x's high bits set in the bytes that are a quote, a
// backslash or a control character. The lowest one set is exact (later
// ones may be false positives, from the borrow), which is all scanPlain
// needs.
func special(x uint64) uint64 {
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}

// scanPlain returns the index of the first byte at or after i that is not
// plain, or len(s). It reads eight bytes at a time while it can; the
// document goes on past the string, so most strings end inside a word.
func scanPlain(s string, i int) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	for ; i+8 <= len(b); i += 8 {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// str reads a string value.
func (sc *scanner) str() string {
	if sc.peek() != '"' {
		sc.fail("expected string")
		return ""
	}
	return sc.strBody()
}

// strBody is str once peek has seen the opening quote.
func (sc *scanner) strBody() string {
	s, start := sc.s, sc.i+1
	i := scanPlain(s, start)
	sc.i = i
	if i < len(s) {
		switch s[i] {
		case '"':
			sc.i++
			return s[start:i]
		case '\\':
			return sc.strEscaped(start)
		}
		sc.fail("control character in string")
		return ""
	}
	sc.fail("unterminated string")
	return ""
}

func (sc *scanner) strEscaped(start int) string {
	if cap(sc.arena)-len(sc.arena) < len(sc.s)-start {
		// Unescaping never lengthens text, so once the arena has room for
		// the rest of the document it never has to grow (and move what
		// earlier strings point at) within it. It is sized for the whole
		// document so that the next one of about the same size, decoded
		// into the same Entry, reuses it.
		sc.arena = make([]byte, 0, len(sc.s))
	}
	a0 := len(sc.arena)
	buf := sc.arena
	buf = append(buf, sc.s[start:sc.i]...)
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			sc.i++
			sc.arena = buf
			b := buf[a0:]
			if len(b) == 0 {
				return ""
			}
			return unsafe.String(&b[0], len(b))
		case c == '\\':
			if sc.i+1 >= len(sc.s) {
				sc.fail("unterminated escape")
				return ""
			}
			e := sc.s[sc.i+1]
			sc.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := sc.hex4()
				if !ok {
					return ""
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(utf8.RuneError)
					if sc.i+1 < len(sc.s) && sc.s[sc.i] == '\\' && sc.s[sc.i+1] == 'u' {
						sc.i += 2
						if lo, ok := sc.hex4(); ok {
							r2 = utf16.DecodeRune(r, lo)
						}
					}
					r = r2
				}
				buf = utf8.AppendRune(buf, r)
			default:
				sc.fail("invalid escape \\%c", e)
				return ""
			}
		case c < 0x20:
			sc.fail("control character in string")
			return ""
		default:
			j := scanPlain(sc.s, sc.i+1)
			buf = append(buf, sc.s[sc.i:j]...)
			sc.i = j
		}
	}
	sc.fail("unterminated string")
	return ""
}

func (sc *scanner) hex4() (rune, bool) {
	if sc.i+4 > len(sc.s) {
		sc.fail("short \\u escape")
		return 0, false
	}
	v, err := strconv.ParseUint(sc.s[sc.i:sc.i+4], 16, 16)
	if err != nil {
		sc.fail("bad \\u escape")
		return 0, false
	}
	sc.i += 4
	return rune(v), true
}

// numByte marks the bytes num collects before handing them to
// strconv.ParseFloat.
var numByte = func() (t [256]bool) {
	for _, c := range "0123456789+-.eE" {
		t[c] = true
	}
	return t
}()

// num reads a number.
func (sc *scanner) num() float64 {
	sc.ws()
	s, start := sc.s, sc.i
	// The numbers Kong writes most (timestamps, sizes, ports, statuses) are
	// an optional minus and at most 15 digits, which a float64 holds
	// exactly: read those without ParseFloat, which gives the same value.
	// "-0" is left to ParseFloat, which keeps its sign.
	i := start
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := i
	var n int64
	for i < len(s) && i-digits < 16 {
		d := s[i] - '0'
		if d > 9 {
			break
		}
		n = n*10 + int64(d)
		i++
	}
	if nd := i - digits; nd > 0 && nd <= 15 && (i == len(s) || !numByte[s[i]]) {
		if digits == start {
			sc.i = i
			return float64(n)
		}
		if n != 0 {
			sc.i = i
			return float64(-n)
		}
	}
	i = start
	for i < len(s) && numByte[s[i]] {
		i++
	}
	sc.i = i
	if start == i {
		sc.fail("expected number")
		return 0
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		sc.fail("bad number %q", s[start:i])
		return 0
	}
	return f
}

// scalar reads a string, number, boolean or null as text ("" for null).
func (sc *scanner) scalar() string {
	switch c := sc.peek(); {
	case c == '"':
		return sc.strBody()
	case c == 'n':
		sc.literal("null")
		return ""
	case c == 't':
		sc.literal("true")
		return "true"
	case c == 'f':
		sc.literal("false")
		return "false"
	default:
		start := sc.i
		sc.num()
		return sc.s[start:sc.i]
	}
}

func (sc *scanner) literal(lit string) {
	if len(sc.s)-sc.i >= len(lit) && sc.s[sc.i:sc.i+len(lit)] == lit {
		sc.i += len(lit)
		return
	}
	sc.fail("expected %s", lit)
}

// isNull consumes a null and reports whether there was one.
func (sc *scanner) isNull() bool {
	if sc.peek() == 'n' {
		sc.literal("null")
		return true
	}
	return false
}

// skip consumes any value. It counts brackets instead of recursing, so
// values the decoder does not read may nest arbitrarily deep at constant
// stack cost; their syntax is checked only as far as framing needs.
func (sc *scanner) skip() {
	switch sc.peek() {
	case '{', '[':
	case '"':
		sc.skipString()
		return
	default:
		sc.scalar()
		return
	}
	depth := 0
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '{', '[':
			depth++
			sc.i++
		case '}', ']':
			depth--
			sc.i++
			if depth == 0 {
				return
			}
		case '"':
			sc.skipString()
		default:
			sc.i++
		}
	}
	sc.fail("unterminated value")
}

// skipString passes over a string without unescaping it.
func (sc *scanner) skipString() {
	s, i := sc.s, sc.i+1
	for i < len(s) {
		i = scanPlain(s, i)
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '"':
			sc.i = i + 1
			return
		case '\\':
			i += 2
		default: // a control character: skipped text is checked only for framing
			i++
		}
	}
	sc.i = i
	sc.fail("unterminated string")
}

// raw consumes any value and returns its text.
func (sc *scanner) raw() string {
	sc.ws()
	start := sc.i
	sc.skip()
	return sc.s[start:sc.i]
}
