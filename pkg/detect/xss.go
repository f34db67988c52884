package detect

import "bytes"

// Checks for cross-site scripting that a pattern cannot express cheaply.

// checkSplitScriptURI finds a javascript:, vbscript: or livescript: scheme
// split by the tabs and line breaks that browsers drop from URLs
// ("ja&Tab;vascript:", "java\nscript:"); the entities are already decoded.
func checkSplitScriptURI(s *state, f field, v []byte) (int, int, bool) {
	colon := bytes.IndexByte(v, ':')
	if colon < 0 {
		return 0, 0, false
	}
	var buf [64]byte
	for c := colon; c >= 0; {
		// Collect the letters before this colon, skipping tabs and line breaks.
		n, i := 0, c-1
		for ; i >= 0 && n < len(buf); i-- {
			ch := v[i]
			if ch == '\t' || ch == '\n' || ch == '\r' {
				continue
			}
			if ch < 'a' || ch > 'z' {
				break
			}
			n++
			buf[len(buf)-n] = ch
		}
		word := buf[len(buf)-n:]
		if bytes.HasSuffix(word, []byte("javascript")) || bytes.HasSuffix(word, []byte("vbscript")) || bytes.HasSuffix(word, []byte("livescript")) {
			if bytes.IndexAny(v[i+1:c], "\t\n\r") >= 0 {
				return i + 1, c + 1, true
			}
		}
		next := bytes.IndexByte(v[c+1:], ':')
		if next < 0 {
			break
		}
		c += next + 1
	}
	return 0, 0, false
}

// checkASCII7Tag finds markup written with the high bit set on '<' and '>'
// (0xBC "script" 0xBE), which 7-bit US-ASCII decoders read as a tag.
func checkASCII7Tag(s *state, f field, v []byte) (int, int, bool) {
	for off := 0; off < len(v); {
		i := bytes.IndexByte(v[off:], 0xbc)
		if i < 0 {
			return 0, 0, false
		}
		i += off
		if i > 0 && v[i-1] >= 0x80 && v[i-1] != 0xc2 {
			off = i + 1 // a continuation byte ("ü" is C3 BC), not a bracket
			continue
		}
		j := i + 1
		if j < len(v) && v[j] == '/' {
			j++
		}
		k := j
		for k < len(v) && v[k] >= 'a' && v[k] <= 'z' {
			k++
		}
		if k-j >= 2 && k-j <= 12 && (k < len(v) && (v[k] == 0xbe || v[k] == 0xc2 && k+1 < len(v) && v[k+1] == 0xbe)) {
			return i, min(len(v), k+1), true
		}
		off = i + 1
	}
	return 0, 0, false
}
