package event

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleEvent() Event {
	return Event{
		SchemaVersion: SchemaVersion,
		ID:            "0190f3c2-7b1a-7cde-8f00-0123456789ab",
		Time:          time.Date(2026, 11, 25, 20, 0, 0, 123456789, time.UTC),
		Type:          AuthFailure,
		Severity:      Low,
		Kong: Kong{
			NodeID:    "node-1",
			Route:     Ref{ID: "r1", Name: "orders"},
			Service:   Ref{ID: "s1", Name: "shop"},
			Workspace: "default",
		},
		Client: Client{IP: "203.0.113.7", UserAgent: "curl/8.5.0", Consumer: Consumer{ID: "c1", Username: "alice"},
			Geo: &Geo{Country: "GB", Region: "ENG", City: "London"}, AS: &AS{Number: 20712, Organization: "Andrews & Arnold"}},
		Request: Request{ID: "abc", Method: "GET", Host: "api.example.com", Path: "/orders",
			Query: "apikey=REDACTED&x=1", Headers: map[string]string{"x-tenant": "acme", "accept": "*/*"}},
		Response: Response{Status: 401, Source: "kong", Latency: Latency{KongMS: 1, UpstreamMS: -1, TotalMS: 1.5}},
		Detail: Detail{
			Mechanism: "key-auth", Reason: "invalid_credentials", Credential: "header:apikey",
			Identity:  &Identity{Kind: "apikey_fingerprint", Value: "0011223344556677"},
			RateLimit: &RateLimit{Limit: 5, Remaining: 0, RetryAfter: 30, Period: "minute"},
			Findings: []Finding{{RuleID: "942100", Class: "sqli", Severity: High, Location: "query:id",
				Fragment: `1' OR "1"="1`, CWE: "CWE-89", Technique: "T1190"}},
			UpstreamStatus: "502", Tries: 2, ThresholdMS: 2.5, Dropped: 3, DroppedTotal: 42,
			Level: "error", Category: "plugin_error", Component: "gatewatch", Message: "boom", Count: 4,
		},
	}
}

// The hand-written encoder must say exactly what encoding/json says from the
// struct tags, so that consumers can decode with either.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]Event{
		"a full event":                           sampleEvent(),
		"an event with only the required fields": {SchemaVersion: 1, ID: "x", Time: time.Unix(0, 0), Type: RouteNotFound, Severity: Info},
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			got := ev.AppendJSON(nil)
			require.True(t, json.Valid(got), "invalid JSON: %s", got)
			want, err := json.Marshal(&ev)
			require.NoError(t, err)
			var g, w any
			require.NoError(t, json.Unmarshal(got, &g))
			require.NoError(t, json.Unmarshal(want, &w))
			assert.Equal(t, w, g)

			var back Event
			require.NoError(t, json.Unmarshal(got, &back))
			assert.Equal(t, ev.ID, back.ID)
			assert.True(t, ev.Time.Equal(back.Time))
			assert.Equal(t, ev.Detail, back.Detail)
		})
	}
}

func TestNonFiniteLatenciesStillEncodeAsJSON(t *testing.T) {
	ev := sampleEvent()
	ev.Response.Latency = Latency{KongMS: math.NaN(), UpstreamMS: math.Inf(1), TotalMS: math.Inf(-1)}
	assert.True(t, json.Valid(ev.AppendJSON(nil)))
}

func TestAppendStringEscapesEverythingJSONNeeds(t *testing.T) {
	cases := []struct{ name, in string }{
		{"quotes and backslashes", `a"b\c`},
		{"control characters", "a\x00b\x1fc\n\r\t"},
		{"invalid UTF-8", "a\xffb\xc3"},
		{"line separators", "a\u2028b\u2029"},
		{"plain unicode", "héllo, 世界"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := AppendString(nil, c.in)
			require.True(t, json.Valid(out), "%q", out)
			var back string
			require.NoError(t, json.Unmarshal(out, &back))
			if utf8.ValidString(c.in) {
				assert.Equal(t, c.in, back)
			} else {
				assert.True(t, utf8.ValidString(back))
				assert.Contains(t, back, "\ufffd")
			}
			assert.NotContains(t, string(out), "\n")
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "\xff", `"\`, "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %q", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip: %q != %q", back, s)
		}
	})
}

func TestIDsAreUniqueVersion7UUIDs(t *testing.T) {
	g := NewIDGen()
	now := time.Now()
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := g.New(now)
		require.Len(t, id, 36)
		require.Equal(t, byte('7'), id[14], "version nibble of %s", id)
		require.Contains(t, "89ab", string(id[19]), "variant of %s", id)
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
	}
	early, late := g.New(now), g.New(now.Add(time.Second))
	assert.Less(t, strings.Compare(early[:13], late[:13]), 0, "ids sort by time")
}

func TestCEHeadersFollowTheKafkaBinding(t *testing.T) {
	ev := sampleEvent()
	h := map[string]string{}
	for _, x := range ev.CEHeaders() {
		h[x.Key] = string(x.Value)
	}
	assert.Equal(t, map[string]string{
		"ce_specversion": "1.0",
		"ce_id":          ev.ID,
		"ce_type":        "auth.failure",
		"ce_source":      "/gatewatch/kong/node-1",
		"ce_time":        "2026-11-25T20:00:00.123456789Z",
		"content-type":   "application/json",
	}, h)
}

func TestSeverityRankOrdersSeverities(t *testing.T) {
	for i, s := range Severities {
		assert.Equal(t, i, s.Rank())
	}
	_, ok := ParseSeverity("urgent")
	assert.False(t, ok)
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := sampleEvent()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
}

func BenchmarkEncodingJSONMarshal(b *testing.B) {
	ev := sampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(&ev)
	}
}
