package errlog

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// parsed is what the golden files record for one line.
type parsed struct {
	Raw      string `json:"raw"`
	Entry    bool   `json:"entry"`
	Line     *Line  `json:"line,omitempty"`
	Category string `json:"category,omitempty"`
	Severity string `json:"severity,omitempty"`
	Wanted   bool   `json:"wanted"`
}

func TestParseMatchesGoldenFiles(t *testing.T) {
	for _, name := range []string{"nginx", "kong"} {
		t.Run(name+" lines parse and classify as recorded", func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name+".log"))
			require.NoError(t, err)
			defer f.Close()
			var got []parsed
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				p := parsed{Raw: sc.Text()}
				l, err := Parse(sc.Text(), time.UTC)
				if err == nil {
					cat := Classify(&l)
					p.Entry, p.Line, p.Category = true, &l, cat
					p.Severity = string(Severity(l.Level, cat))
					p.Wanted = Wanted(&l, cat, "warn")
				} else {
					require.ErrorIs(t, err, ErrNotEntry)
				}
				got = append(got, p)
			}
			require.NoError(t, sc.Err())
			b, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				require.NoError(t, os.WriteFile(golden, append(b, '\n'), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./pkg/errlog -update once")
			assert.JSONEq(t, string(want), string(b))
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Line
		err  bool
	}{
		{
			name: "an nginx upstream refusal yields every trailer field",
			in:   `2026/11/25 21:47:41 [error] 6089#6089: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: gw.test, request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "127.0.0.1:18080"`,
			want: Line{Time: time.Date(2026, 11, 25, 21, 47, 41, 0, time.UTC), Level: "error", PID: 6089, TID: 6089, Conn: 1,
				Message: "connect() failed (111: Connection refused) while connecting to upstream", Client: "127.0.0.1", Server: "gw.test",
				Request: "GET /refused HTTP/1.1", Upstream: "http://127.0.0.1:9/", Host: "127.0.0.1:18080"},
		},
		{
			name: "a plugin server's output names the server and its pid",
			in:   `2026/11/25 21:51:09 [info] 1201#0: *2 [gatewatch:1310] panic: boom, context: ngx.timer`,
			want: Line{Time: time.Date(2026, 11, 25, 21, 51, 9, 0, time.UTC), Level: "info", PID: 1201, Conn: 2, Component: "gatewatch",
				ServerPID: 1310, Message: "panic: boom", LuaContext: "ngx.timer"},
		},
		{
			name: "a Kong plugin's log line names the plugin",
			in:   `2026/11/25 21:51:12 [error] 1#0: [kong] handler.lua:98 [rate-limiting] failed to get usage: timeout`,
			want: Line{Time: time.Date(2026, 11, 25, 21, 51, 12, 0, time.UTC), Level: "error", PID: 1, Component: "rate-limiting",
				Message: "failed to get usage: timeout"},
		},
		{
			name: "a Kong core line without a plugin is kong's",
			in:   `2026/11/25 21:51:12 [warn] 1#0: [kong] init.lua:5 something odd`,
			want: Line{Time: time.Date(2026, 11, 25, 21, 51, 12, 0, time.UTC), Level: "warn", PID: 1, Component: "kong", Message: "something odd"},
		},
		{
			name: "a message with a bracket that is no name keeps it",
			in:   `2026/11/25 21:51:12 [warn] 1#0: [a b] text`,
			want: Line{Time: time.Date(2026, 11, 25, 21, 51, 12, 0, time.UTC), Level: "warn", PID: 1, Message: "[a b] text"},
		},
		{name: "a traceback line is not an entry", in: "\t[C]: in function 'error'", err: true},
		{name: "an unknown level is not an entry", in: "2026/11/25 21:51:12 [loud] 1#0: x", err: true},
		{name: "a line without pid is not an entry", in: "2026/11/25 21:51:12 [warn] text", err: true},
		{name: "an empty line is not an entry", in: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, nil)
			if tt.err {
				require.ErrorIs(t, err, ErrNotEntry)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"nginx.log", "kong.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		sc := bufio.NewScanner(bytesReader(b))
		for sc.Scan() {
			f.Add(sc.Text())
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s, time.UTC)
		if err != nil {
			return
		}
		cat := Classify(&l)
		g := Group{First: l, Category: cat, Count: 1}
		e := g.Event("id", "node")
		if len(e.Detail.Message) > MaxMessage {
			t.Fatalf("message of %d bytes", len(e.Detail.Message))
		}
		if LevelRank(l.Level) < 0 {
			t.Fatalf("level %q accepted", l.Level)
		}
	})
}

func BenchmarkParseClassify(b *testing.B) {
	line := `2026/11/25 21:47:41 [error] 6089#6089: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: gw.test, request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "127.0.0.1:18080"`
	b.ReportAllocs()
	for b.Loop() {
		l, err := Parse(line, time.UTC)
		if err != nil {
			b.Fatal(err)
		}
		_ = Classify(&l)
	}
}
