package normalize

import "unicode/utf8"

// namedEntities holds the character references that matter for hiding
// markup or script syntax; the full HTML table is not needed to see an attack.
var namedEntities = map[string]byte{
	"lt": '<', "gt": '>', "quot": '"', "apos": '\'', "amp": '&', "colon": ':',
	"lpar": '(', "rpar": ')', "sol": '/', "bsol": '\\', "tab": '\t', "newline": '\n',
	"period": '.', "comma": ',', "semi": ';', "excl": '!', "num": '#', "dollar": '$',
	"percnt": '%', "equals": '=', "lsqb": '[', "rsqb": ']', "lcub": '{', "rcub": '}',
	"grave": '`', "quest": '?', "hyphen": '-', "ast": '*', "plus": '+', "nbsp": ' ',
}

func appendHTMLDecoded(dst, src []byte) ([]byte, Signal) {
	var sig Signal
	for i := 0; i < len(src); i++ {
		if src[i] != '&' || i+2 >= len(src) {
			dst = append(dst, src[i])
			continue
		}
		if src[i+1] == '#' {
			j, r, ok := numericRef(src, i+2)
			if ok {
				dst = appendRune(dst, r)
				sig |= HTMLEntity
				if r == '<' {
					sig |= EncodedAngle
				}
				i = j - 1
				continue
			}
		} else {
			j := i + 1
			for j < len(src) && j-i <= 8 && (src[j]|0x20 >= 'a' && src[j]|0x20 <= 'z') {
				j++
			}
			if j < len(src) && src[j] == ';' && j > i+1 {
				var name [8]byte
				n := copy(name[:], src[i+1:j])
				for k := 0; k < n; k++ {
					name[k] |= 0x20
				}
				if c, ok := namedEntities[string(name[:n])]; ok {
					dst = append(dst, c)
					sig |= HTMLEntity
					i = j
					continue
				}
			}
		}
		dst = append(dst, src[i])
	}
	return dst, sig
}

// numericRef parses the digits of &#NN; or &#xHH; starting at i and returns
// the index after the reference. The semicolon is optional, as browsers
// accept it missing; the digit count is bounded so that leading zeros cannot
// make a reference arbitrarily long to parse.
func numericRef(src []byte, i int) (int, rune, bool) {
	hex := i < len(src) && (src[i] == 'x' || src[i] == 'X')
	if hex {
		i++
	}
	start := i
	var r rune
	for i < len(src) && i-start < 10 {
		c := src[i]
		switch {
		case c >= '0' && c <= '9':
			if hex {
				r = r<<4 | rune(c-'0')
			} else {
				r = r*10 + rune(c-'0')
			}
		case hex && isHex(c):
			r = r<<4 | unhex(c)
		default:
			goto done
		}
		i++
	}
done:
	if i == start || r > utf8.MaxRune {
		return 0, 0, false
	}
	if i < len(src) && src[i] == ';' {
		i++
	}
	return i, r, true
}

func appendEscapesDecoded(dst, src []byte) ([]byte, Signal) {
	var sig Signal
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '\\' || i+3 >= len(src) {
			dst = append(dst, c)
			continue
		}
		switch src[i+1] {
		case 'x', 'X':
			if isHex(src[i+2]) && isHex(src[i+3]) {
				b := byte(unhex(src[i+2])<<4 | unhex(src[i+3]))
				dst = append(dst, b)
				sig |= Escape
				if b == '<' {
					sig |= EncodedAngle
				}
				i += 3
				continue
			}
		case 'u', 'U':
			if i+5 < len(src) && isHex(src[i+2]) && isHex(src[i+3]) && isHex(src[i+4]) && isHex(src[i+5]) {
				r := unhex(src[i+2])<<12 | unhex(src[i+3])<<8 | unhex(src[i+4])<<4 | unhex(src[i+5])
				dst = appendRune(dst, r)
				sig |= Escape
				if r == '<' {
					sig |= EncodedAngle
				}
				i += 5
				continue
			}
			if src[i+2] == '{' {
				j := i + 3
				var r rune
				for j < len(src) && j-i < 10 && isHex(src[j]) {
					r = r<<4 | unhex(src[j])
					j++
				}
				if j < len(src) && src[j] == '}' && j > i+3 {
					dst = appendRune(dst, r)
					sig |= Escape
					i = j
					continue
				}
			}
		}
		dst = append(dst, c)
	}
	return dst, sig
}

func needsFold(b []byte) bool {
	for _, c := range b {
		if c == 0 || c >= 0xc0 {
			return true
		}
	}
	return false
}

// appendFolded removes NUL bytes, folds overlong UTF-8 encodings of ASCII
// (including the malformed forms IIS used to accept, where the continuation
// byte's top bits are wrong) and maps look-alike runes to their ASCII form.
func appendFolded(dst, src []byte) ([]byte, Signal) {
	var sig Signal
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == 0:
			sig |= NullByte
			continue
		case (c == 0xc0 || c == 0xc1) && i+1 < len(src):
			if a := rune(c&1)<<6 | rune(src[i+1]&0x3f); a >= 0x20 {
				dst = append(dst, byte(a))
				sig |= Overlong
				i++
				continue
			}
		case c == 0xe0 && i+2 < len(src) && src[i+1] < 0xa0:
			if a := rune(src[i+1]&0x3f)<<6 | rune(src[i+2]&0x3f); a >= 0x20 && a < 0x80 {
				dst = append(dst, byte(a))
				sig |= Overlong
				i += 2
				continue
			}
		case c == 0xf0 && i+3 < len(src) && src[i+1] < 0x90:
			if a := rune(src[i+2]&0x3f)<<6 | rune(src[i+3]&0x3f); a >= 0x20 && a < 0x80 && src[i+1]&0x3f == 0 {
				dst = append(dst, byte(a))
				sig |= Overlong
				i += 3
				continue
			}
		case (c == 0xf8 && i+4 < len(src)) || (c == 0xfc && i+5 < len(src)):
			// Five- and six-byte overlong forms (never valid UTF-8).
			n := 4
			if c == 0xfc {
				n = 5
			}
			if a := rune(src[i+n-1]&0x3f)<<6 | rune(src[i+n]&0x3f); a >= 0x20 && a < 0x80 {
				dst = append(dst, byte(a))
				sig |= Overlong
				i += n
				continue
			}
		case c >= 0xc2:
			r, n := utf8.DecodeRune(src[i:])
			if a, ok := lookAlike(r); ok {
				dst = append(dst, a)
				sig |= LookAlike
				i += n - 1
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst, sig
}

// lookAlike maps runes that applications or libraries fold to ASCII (full-width
// forms, enclosed alphanumerics, division slash, ideographic full stop) back to
// the ASCII character they stand for.
func lookAlike(r rune) (byte, bool) {
	switch {
	case r >= 0xff01 && r <= 0xff5e:
		return byte(r - 0xfee0), true
	case r >= 0x2460 && r <= 0x2468:
		return byte('1' + r - 0x2460), true
	case r == 0x24ea || r == 0x24ff:
		return '0', true
	case r >= 0x24b6 && r <= 0x24cf:
		return byte('a' + r - 0x24b6), true
	case r >= 0x24d0 && r <= 0x24e9:
		return byte('a' + r - 0x24d0), true
	}
	switch r {
	case 0x2215, 0x2044:
		return '/', true
	case 0x2216, 0xfe68:
		return '\\', true
	case 0x2024, 0x3002, 0xfe52, 0xff61:
		return '.', true
	case 0x2039, 0x3008, 0xfe64:
		return '<', true
	case 0x203a, 0x3009, 0xfe65:
		return '>', true
	case 0x02bc:
		return '\'', true
	}
	return 0, false
}
