package detect

import "unicode/utf8"

// inspectJSON walks a JSON document and inspects every string leaf under its
// path ($.a.b[0]) and every key as a name. It reports false when the body is
// not valid JSON (up to the point where the bounds stop the walk), so that the
// caller inspects it whole instead. Nesting deeper than MaxDepth stops the walk.
func (s *state) inspectJSON(b []byte) bool {
	s.path = append(s.path[:0], '$')
	i, ok := s.jsonValue(b, skipSpace(b, 0), 0)
	if !ok {
		return false
	}
	return skipSpace(b, i) == len(b) || s.fields <= 0 || s.budget <= 0
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func (s *state) jsonValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > MaxDepth || s.fields <= 0 {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		return s.jsonObject(b, i+1, depth+1)
	case c == '[':
		return s.jsonArray(b, i+1, depth+1)
	case c == '"':
		str, j, ok := s.jsonString(b, i)
		if !ok {
			return j, false
		}
		inspectValue(s, field{kind: locBody, nameb: s.path}, str, optsPlain)
		return j, true
	default:
		// Numbers, true, false, null: nothing to inspect.
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		return j, j > i
	}
}

func (s *state) jsonObject(b []byte, i, depth int) (int, bool) {
	base := len(s.path)
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return i, false
		}
		key, j, ok := s.jsonString(b, i)
		if !ok {
			return j, false
		}
		s.path = append(append(s.path[:base], '.'), key...)
		inspectValue(s, field{kind: locName, parent: locBody, nameb: s.path}, key, optsPlain)
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		i, ok = s.jsonValue(b, skipSpace(b, i+1), depth)
		s.path = s.path[:base]
		if !ok {
			return i, false
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		if i >= len(b) || b[i] != ',' {
			return i, false
		}
		i = skipSpace(b, i+1)
	}
	return i, false
}

func (s *state) jsonArray(b []byte, i, depth int) (int, bool) {
	base := len(s.path)
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for n := 0; i < len(b); n++ {
		s.path = appendIndex(append(s.path[:base], '['), n)
		s.path = append(s.path, ']')
		var ok bool
		i, ok = s.jsonValue(b, i, depth)
		s.path = s.path[:base]
		if !ok {
			return i, false
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		if i >= len(b) || b[i] != ',' {
			return i, false
		}
		i = skipSpace(b, i+1)
	}
	return i, false
}

// jsonString decodes the string starting at b[i] (a quote). It returns the
// decoded bytes (a sub-slice of b when there are no escapes, else the
// state's scratch buffer, valid until the next call) and the index after the
// closing quote.
func (s *state) jsonString(b []byte, i int) (str []byte, next int, ok bool) {
	j := i + 1
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		j++
	}
	if j < len(b) && b[j] == '"' {
		return b[i+1 : j], j + 1, true
	}
	out := append(s.jstr[:0], b[i+1:j]...)
	defer func() { s.jstr = out[:0] }()
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return out, j + 1, true
		case c == '\\' && j+1 < len(b):
			j++
			switch e := b[j]; e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'u':
				if j+4 < len(b) {
					var r rune
					valid := true
					for k := 1; k <= 4; k++ {
						h := b[j+k]
						switch {
						case h >= '0' && h <= '9':
							r = r<<4 | rune(h-'0')
						case h|0x20 >= 'a' && h|0x20 <= 'f':
							r = r<<4 | rune(h|0x20-'a'+10)
						default:
							valid = false
						}
					}
					if valid {
						out = utf8.AppendRune(out, r)
						j += 4
						break
					}
				}
				out = append(out, 'u')
			default:
				out = append(out, e)
			}
			j++
		default:
			out = append(out, c)
			j++
		}
	}
	return out, j, false
}

func lastKey(path []byte) []byte {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return nil
}

func appendIndex(b []byte, n int) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}
