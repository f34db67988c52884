package normalize

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestDecodeUndoesEachEncoding(t *testing.T) {
	q := Options{Percent: true, PlusIsSpace: true}
	tests := []struct {
		name string
		in   string
		o    Options
		want string
		sig  Signal
	}{
		{"percent-encoding is decoded", "a%27b%3Cc", q, "a'b<c", Percent},
		{"plus is a space in a query", "a+b", q, "a b", 0},
		{"plus stays a plus outside queries", "a+b", Options{Percent: true}, "a+b", 0},
		{"double encoding is decoded and flagged", "%252e%252e%252f", q, "../", Percent | DoubleEncoded},
		{"triple encoding is decoded", "%25252f", q, "/", Percent | DoubleEncoded},
		{"decode rounds are bounded", "%2525252f", q, "%2f", Percent | DoubleEncoded},
		{"IIS %u sequences are decoded", "%u003cscript%u003e", q, "<script>", UnicodePercent},
		{"a lone percent sign is kept", "50% off", q, "50% off", 0},
		{"overlong UTF-8 is folded", "%c0%ae%c0%ae%c0%af", q, "../", Percent | Overlong},
		{"malformed overlong forms are folded", "%c0%2e%e0%40%ae", q, "..", Percent | Overlong},
		{"NUL bytes are removed", "a%00b", q, "ab", Percent | NullByte},
		{"named HTML entities are decoded", "&lt;b&gt;&quot;&colon;", Options{}, "<b>\":", HTMLEntity},
		{"numeric entities without semicolons are decoded and flagged", "&#60&#x3C;&#0000060;", Options{}, "<<<", HTMLEntity | EncodedAngle},
		{"unknown entities are kept", "&copy; &foo;", Options{}, "&copy; &foo;", 0},
		{"JavaScript escapes are decoded and flagged", `\x3c\u0073\u{63}`, Options{}, "<sc", Escape | EncodedAngle},
		{"Windows backslashes are kept", `..\..\windows`, Options{}, `..\..\windows`, 0},
		{"full-width forms are folded", "\uff1cscript\uff1e", Options{}, "<script>", LookAlike},
		{"enclosed digits are folded", "\u2460\u2461\u2466.\u24ea", Options{}, "127.0", LookAlike},
		{"division slash is folded", "..\u2215..", Options{}, "../..", LookAlike},
		{"plain text is unchanged", "hello world", q, "hello world", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, sig := Decode(nil, nil, tt.in, tt.o)
			assert.Equal(t, tt.want, string(out))
			assert.Equal(t, tt.sig, sig)
		})
	}
}

func TestViews(t *testing.T) {
	tests := []struct {
		name string
		view func(dst, src []byte) []byte
		in   string
		want string
	}{
		{"lower folds ASCII only", AppendLower, "SeLeCT Ä", "select Ä"},
		{"sql turns comments into spaces", AppendSQL, "un/**/ion/*x*/select", "un ion select"},
		{"sql keeps versioned comment bodies", AppendSQL, "/*!50000union*/ select", " union select"},
		{"sql collapses whitespace", AppendSQL, "a \t\n\vb", "a b"},
		{"sql survives an unterminated comment", AppendSQL, "1 /* or", "1 "},
		{"shell drops quotes and backslashes", AppendShell, `w'h'o"am"i wh\oami`, "whoami whoami"},
		{"shell turns IFS into spaces", AppendShell, "cat${ifs}/etc$ifs$9x", "cat /etc x"},
		{"shell reads a literal backslash-n as a newline", AppendShell, `a\nid`, "a\nid"},
		{"path turns backslashes into slashes and collapses runs", AppendPath, `..\\..//./etc`, "../../etc"},
		{"path decodes textual hex separators", AppendPath, "..0x2f..0x5cetc", "../../etc"},
		{"path treats dot-question-mark as a parent step", AppendPath, ".?/.?/", "../../"},
		{"path ignores control bytes", AppendPath, "..\x01/..\x01/", "../../"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(tt.view(nil, []byte(tt.in))))
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"%252e%u002e%c0%ae", "&#x3c;&lt", `\u{41}\x4`, "\uff0e\u2460", "%", "&#99999999999;", "\xc0"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, plus bool) {
		start := time.Now()
		defer func() {
			// Every step is linear: a second on a fuzz input is a bug.
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("decoding and the views took %s on %d bytes", d, len(s))
			}
		}()
		out, _, _ := Decode(nil, nil, s, Options{Percent: true, PlusIsSpace: plus})
		// Decoding never grows a value by more than the UTF-8 expansion of
		// one escape per input byte, and the views keep their contracts.
		if len(out) > 4*len(s)+4 {
			t.Fatalf("decoded %d bytes into %d", len(s), len(out))
		}
		if l := AppendLower(nil, out); len(l) != len(out) {
			t.Fatalf("lower changed the length")
		}
		AppendSQL(nil, out)
		AppendShell(nil, out)
		p := AppendPath(nil, out)
		if len(p) > len(out) {
			t.Fatalf("path view grew")
		}
		_ = utf8.Valid(out)
	})
}

func BenchmarkDecodePlain(b *testing.B) {
	b.ReportAllocs()
	var dst, scratch []byte
	for i := 0; i < b.N; i++ {
		dst, scratch, _ = Decode(dst[:0], scratch, "page=16&per_page=20&fields=id", Options{Percent: true, PlusIsSpace: true})
	}
}

func BenchmarkDecodeEncoded(b *testing.B) {
	b.ReportAllocs()
	var dst, scratch []byte
	for i := 0; i < b.N; i++ {
		dst, scratch, _ = Decode(dst[:0], scratch, "%252e%252e%252f%u002e&lt;script&gt;\\x3c", Options{Percent: true, PlusIsSpace: true})
	}
}
