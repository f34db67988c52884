package guard

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRequestLine(t *testing.T) {
	cases := []struct {
		name string
		line string
		want RequestLine
	}{
		{"an origin-form HTTP/1.1 line splits into its parts", "GET /api/v1/users?id=1%27%20OR%201=1 HTTP/1.1",
			RequestLine{Method: "GET", Target: "/api/v1/users?id=1%27%20OR%201=1", Path: "/api/v1/users", RawQuery: "id=1%27%20OR%201=1", Proto: "HTTP/1.1"}},
		{"an HTTP/2 line keeps its protocol", "POST /login HTTP/2.0",
			RequestLine{Method: "POST", Target: "/login", Path: "/login", Proto: "HTTP/2.0"}},
		{"an HTTP/0.9 line has no protocol", "GET /old",
			RequestLine{Method: "GET", Target: "/old", Path: "/old"}},
		{"an absolute-form target yields its path and query", "GET http://example.test/a/b?x=1 HTTP/1.1",
			RequestLine{Method: "GET", Target: "http://example.test/a/b?x=1", Path: "/a/b", RawQuery: "x=1", Proto: "HTTP/1.1"}},
		{"an absolute-form target without a path has path /", "GET http://example.test?x=1 HTTP/1.1",
			RequestLine{Method: "GET", Target: "http://example.test?x=1", Path: "/", RawQuery: "x=1", Proto: "HTTP/1.1"}},
		{"a target with a raw space is kept whole for inspection", "GET /a b?q=<script> HTTP/1.1",
			RequestLine{Method: "GET", Target: "/a b?q=<script>", Path: "/a b", RawQuery: "q=<script>", Proto: "HTTP/1.1"}},
		{"an empty query stays empty", "GET /p? HTTP/1.1",
			RequestLine{Method: "GET", Target: "/p?", Path: "/p", Proto: "HTTP/1.1"}},
		{"a query-looking scheme inside the path is not absolute form", "GET /redirect?to=http://evil.test/ HTTP/1.1",
			RequestLine{Method: "GET", Target: "/redirect?to=http://evil.test/", Path: "/redirect", RawQuery: "to=http://evil.test/", Proto: "HTTP/1.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequestLine(tc.line)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	for _, bad := range []string{"", "GET", "GET ", " /x HTTP/1.1", "GET  HTTP/1.1"} {
		t.Run("it refuses "+strings.TrimSpace(bad+" (malformed)"), func(t *testing.T) {
			_, err := ParseRequestLine(bad)
			require.ErrorIs(t, err, ErrRequestLine)
		})
	}
}

func FuzzParseRequestLine(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1", "GET http://h?x HTTP/1.1", "GET /a?b=c", "x y z", "GET ://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		rl, err := ParseRequestLine(line)
		if err != nil {
			return
		}
		// The parts come from the line: nothing is invented or lost.
		if !strings.HasPrefix(line, rl.Method+" ") {
			t.Fatalf("method %q not at the start of %q", rl.Method, line)
		}
		if !strings.Contains(line, rl.Target) || rl.Target == "" {
			t.Fatalf("target %q not in %q", rl.Target, line)
		}
		if rl.RawQuery != "" && !strings.Contains(rl.Target, "?"+rl.RawQuery) {
			t.Fatalf("query %q not in target %q", rl.RawQuery, rl.Target)
		}
		if strings.Contains(rl.Path, "?") {
			t.Fatalf("path %q holds a '?'", rl.Path)
		}
	})
}

func BenchmarkParseRequestLine(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseRequestLine("GET /api/v1/users/42/orders?limit=10&offset=20 HTTP/1.1"); err != nil {
			b.Fatal(err)
		}
	}
}
