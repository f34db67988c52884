package cef

import (
	"errors"
	"fmt"
	"strings"
)

// Record is one parsed CEF line: the seven header fields after "CEF:"
// (version, vendor, product, version, signature id, name, severity),
// unescaped, and the extension as key → unescaped value.
type Record struct {
	Header    [7]string
	Extension map[string]string
}

// ErrNotCEF is returned by Parse for a line that does not start with "CEF:"
// or has fewer than eight header fields.
var ErrNotCEF = errors.New("not a CEF line")

// Parse reads one CEF line as Append writes it (and as the CEF
// specification describes it). It is for tests and for tools that read
// collectors' output; it never panics on any input.
func Parse(line string) (Record, error) {
	var r Record
	rest, ok := strings.CutPrefix(line, "CEF:")
	if !ok {
		return r, fmt.Errorf("cef: %w: missing CEF: prefix", ErrNotCEF)
	}
	for i := 0; i < 7; i++ {
		end := unescapedIndex(rest, '|')
		if end < 0 {
			return r, fmt.Errorf("cef: %w: header field %d unterminated", ErrNotCEF, i+1)
		}
		r.Header[i] = unescapeHeader(rest[:end])
		rest = rest[end+1:]
	}
	ext, err := parseExtension(rest)
	if err != nil {
		return r, err
	}
	r.Extension = ext
	return r, nil
}

// unescapedIndex is the index of the first c in s not preceded by an
// escaping backslash, or -1.
func unescapedIndex(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case c:
			return i
		}
	}
	return -1
}

func unescapeHeader(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '|') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '[' || c == ']'
}

// parseExtension splits at each unescaped '=': the key is the run of key
// characters before it (preceded by a space or the start), the value runs
// up to the space before the next key.
func parseExtension(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	type eq struct{ keyStart, eq int }
	var eqs []eq
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '=':
			k := i
			for k > 0 && isKeyByte(s[k-1]) {
				k--
			}
			if k == i || (k > 0 && s[k-1] != ' ') {
				return nil, fmt.Errorf("cef: extension: unescaped '=' at byte %d without a key", i)
			}
			eqs = append(eqs, eq{k, i})
		}
	}
	if len(eqs) == 0 || strings.TrimSpace(s[:eqs[0].keyStart]) != "" {
		return nil, fmt.Errorf("cef: extension: text before the first key")
	}
	for j, e := range eqs {
		end := len(s)
		if j+1 < len(eqs) {
			end = eqs[j+1].keyStart - 1 // the separating space
		}
		if end < e.eq+1 {
			end = e.eq + 1
		}
		key := s[e.keyStart:e.eq]
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("cef: extension: duplicate key %q", key)
		}
		out[key] = unescapeValue(s[e.eq+1 : end])
	}
	return out, nil
}

func unescapeValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
