package normalize

// AppendLower appends src with ASCII letters folded to lower case. Offsets in
// the result match offsets in src, so a match found in the lowered view can be
// cut from the original.
func AppendLower(dst, src []byte) []byte {
	for _, c := range src {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendSQL appends a view of src (already lower-cased) in which SQL comments
// become single spaces, MySQL versioned comments (/*!50000select*/) keep their
// content, and runs of whitespace (including the control characters databases
// accept as whitespace) collapse to one space. Attackers use these to split
// keywords ("un/**/ion sel/**/ect") past naive matching.
func AppendSQL(dst, src []byte) []byte {
	space := false
	put := func(c byte) {
		if isSQLSpace(c) {
			if !space {
				dst = append(dst, ' ')
			}
			space = true
			return
		}
		space = false
		dst = append(dst, c)
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '/' && i+1 < len(src) && src[i+1] == '*' {
			j := i + 2
			if j < len(src) && src[j] == '!' {
				// Versioned comment: drop the marker and version digits, keep the body.
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
				put(' ')
				i = j - 1
				continue
			}
			end := indexFrom(src, j, '*', '/')
			put(' ')
			if end < 0 {
				break
			}
			i = end + 1
			continue
		}
		if c == '*' && i+1 < len(src) && src[i+1] == '/' {
			put(' ')
			i++
			continue
		}
		put(c)
	}
	return dst
}

func indexFrom(b []byte, from int, c1, c2 byte) int {
	for i := from; i+1 < len(b); i++ {
		if b[i] == c1 && b[i+1] == c2 {
			return i
		}
	}
	return -1
}

func isSQLSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0xa0, '+':
		return true
	}
	return false
}

// AppendShell appends a view of src (already lower-cased) with the quoting and
// escaping tricks shells ignore removed: quotes and backslashes inside words
// (w'h'o"am"i, wh\oami), the cmd.exe caret, empty expansions ($@, $9) and
// ${IFS}/$IFS used as whitespace.
func AppendShell(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\\':
			// A literal "\n" in a value ends a command for tools that unescape it.
			if i+1 < len(src) && (src[i+1] == 'n' || src[i+1] == 'r') {
				dst = append(dst, '\n')
				i++
			}
			continue
		case '\'', '"', '^':
			continue
		case '$':
			if hasPrefixAt(src, i, "${ifs}") {
				dst = append(dst, ' ')
				i += 5
				continue
			}
			if hasPrefixAt(src, i, "$ifs") {
				dst = append(dst, ' ')
				i += 3
				if i+2 < len(src) && src[i+1] == '$' && src[i+2] >= '0' && src[i+2] <= '9' {
					i += 2
				}
				continue
			}
			if i+1 < len(src) && (src[i+1] == '@' || src[i+1] >= '0' && src[i+1] <= '9') {
				i++
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendPath appends a view of src for file-path matching: backslashes become
// slashes, runs of slashes collapse, "/./" segments disappear. It does not
// resolve "..": the number of parent steps is what traversal rules look at.
func AppendPath(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c < 0x20:
			continue // control bytes between dots and slashes are ignored by some servers
		case c == '\\':
			c = '/'
		case c == '0' && i+3 < len(src) && src[i+1] == 'x' && (src[i+2] == '2' && (src[i+3] == 'f' || src[i+3] == 'e') || src[i+2] == '5' && src[i+3] == 'c'):
			// Textual hex ("0x2f") some decoders accept as a character.
			c = map[byte]byte{'f': '/', 'e': '.', 'c': '/'}[src[i+3]]
			i += 3
		case (c == '2' && i+1 < len(src) && src[i+1] == 'f' || c == '5' && i+1 < len(src) && src[i+1] == 'c') && i >= 2 && src[i-1] == '.' && src[i-2] == '.':
			// "..2f" and "..5c": an encoding with its percent sign lost.
			c = '/'
			i++
		case c == '?' && len(dst) > 0 && dst[len(dst)-1] == '.':
			c = '.' // ".?" is "..": the wildcard matches one character on Windows
		}
		if c == '/' {
			n := len(dst)
			if n > 0 && dst[n-1] == '/' {
				continue
			}
			if n > 1 && dst[n-1] == '.' && dst[n-2] == '/' {
				dst = dst[:n-1]
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

func hasPrefixAt(b []byte, i int, p string) bool {
	if len(b)-i < len(p) {
		return false
	}
	return string(b[i:i+len(p)]) == p
}
