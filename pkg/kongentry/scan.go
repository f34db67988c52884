package kongentry

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

var errSyntax = errors.New("invalid JSON")

// scanner is a small JSON reader over one document held as a string. It
// returns substrings of the input where no unescaping is needed and writes
// unescaped strings into one arena per document, so decoding an entry costs
// a handful of allocations however many fields it has (cjson escapes every
// '/', so most URIs and many header values contain escapes).
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
	key = sc.str()
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

// str reads a string value.
func (sc *scanner) str() string {
	if sc.peek() != '"' {
		sc.fail("expected string")
		return ""
	}
	sc.i++
	start := sc.i
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		if c == '"' {
			v := sc.s[start:sc.i]
			sc.i++
			return v
		}
		if c == '\\' {
			return sc.strEscaped(start)
		}
		if c < 0x20 {
			sc.fail("control character in string")
			return ""
		}
		sc.i++
	}
	sc.fail("unterminated string")
	return ""
}

func (sc *scanner) strEscaped(start int) string {
	if sc.arena == nil {
		sc.arena = make([]byte, 0, len(sc.s)-start)
	}
	if cap(sc.arena)-len(sc.arena) < len(sc.s)-start {
		// The arena is sized for the rest of the document, so this only
		// happens after many escaped strings; grow without moving what
		// earlier strings point at.
		sc.arena = make([]byte, 0, len(sc.s)-start)
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
			buf = append(buf, c)
			sc.i++
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

// num reads a number.
func (sc *scanner) num() float64 {
	sc.ws()
	start := sc.i
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			sc.i++
			continue
		}
		break
	}
	if start == sc.i {
		sc.fail("expected number")
		return 0
	}
	f, err := strconv.ParseFloat(sc.s[start:sc.i], 64)
	if err != nil {
		sc.fail("bad number %q", sc.s[start:sc.i])
		return 0
	}
	return f
}

// scalar reads a string, number, boolean or null as text ("" for null).
func (sc *scanner) scalar() string {
	switch c := sc.peek(); {
	case c == '"':
		return sc.str()
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
	sc.i++
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '"':
			sc.i++
			return
		case '\\':
			sc.i += 2
		default:
			sc.i++
		}
	}
	sc.fail("unterminated string")
}

// raw consumes any value and returns its text.
func (sc *scanner) raw() string {
	sc.ws()
	start := sc.i
	sc.skip()
	return sc.s[start:sc.i]
}
