// Package textesc writes untrusted text into field-framed log formats (CEF
// headers and extension values, RFC 5424 structured-data parameters): each
// ASCII byte is replaced as the format's table says, every other valid
// UTF-8 rune is kept, and a byte that is not UTF-8 becomes U+FFFD, so that a
// value can neither break its framing nor make the line invalid UTF-8.
package textesc

import "unicode/utf8"

// Table says what each ASCII byte becomes; "" keeps the byte.
type Table [utf8.RuneSelf]string

// NewTable returns a table in which control characters (0x00–0x1f, 0x7f)
// become a space, each byte of backslashed gets a backslash in front, and
// overrides replace what is left.
func NewTable(backslashed string, overrides map[byte]string) *Table {
	var t Table
	for c := 0; c < 0x20; c++ {
		t[c] = " "
	}
	t[0x7f] = " "
	for i := 0; i < len(backslashed); i++ {
		t[backslashed[i]] = `\` + backslashed[i:i+1]
	}
	for c, r := range overrides {
		t[c] = r
	}
	return &t
}

// Append appends s to b escaped by t.
func Append(b []byte, s string, t *Table) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		if r := t[c]; r != "" {
			b = append(b, r...)
		} else {
			b = append(b, c)
		}
		i++
	}
	return b
}

// Cut returns at most the first n bytes of s, shortened to a rune boundary
// so that a multi-byte character is never split.
func Cut[S ~string | ~[]byte](s S, n int) S {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return s[:0]
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
