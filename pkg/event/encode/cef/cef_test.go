package cef

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/sample"
)

var enc = Encoder{ProductVersion: "1.2.3"}

func TestEveryTypeMatchesItsGoldenFile(t *testing.T) {
	for _, ev := range sample.Events() {
		t.Run(string(ev.Type), func(t *testing.T) {
			out, err := enc.Append(nil, &ev)
			require.NoError(t, err)
			sample.Golden(t, string(ev.Type)+".cef", out)
		})
	}
}

// checkFraming is the property no input may break: one line, eight header
// fields, an extension that parses, and a bounded length.
func checkFraming(t *testing.T, line []byte) Record {
	t.Helper()
	require.True(t, utf8.Valid(line), "output is not UTF-8")
	require.NotContains(t, string(line), "\n")
	require.NotContains(t, string(line), "\r")
	for _, c := range line {
		require.False(t, c < 0x20 || c == 0x7f, "control character %#x in output", c)
	}
	rec, err := Parse(string(line))
	require.NoError(t, err, "%s", line)
	require.Equal(t, "0", rec.Header[0])
	require.Equal(t, "gatewatch", rec.Header[1])
	// Every value is cut at MaxValue bytes and escaping at most doubles
	// it, for at most ~30 keys.
	require.Less(t, len(line), 30*2*(MaxValue+32)+7*2*MaxHeaderField)
	return rec
}

func TestEveryTypeParsesBackWithTheStandardKeys(t *testing.T) {
	for _, ev := range sample.Events() {
		t.Run(string(ev.Type), func(t *testing.T) {
			out, err := enc.Append(nil, &ev)
			require.NoError(t, err)
			rec := checkFraming(t, out)
			assert.Equal(t, string(ev.Type), rec.Header[4])
			assert.Equal(t, ev.ID, rec.Extension["externalId"])
			assert.Equal(t, string(ev.Type), rec.Extension["cat"])
			assert.Contains(t, []string{"success", "failure"}, rec.Extension["outcome"])
			if ev.Client.IP != "" {
				assert.Equal(t, ev.Client.IP, rec.Extension["src"])
				assert.Equal(t, ev.Request.Method, rec.Extension["requestMethod"])
				assert.Equal(t, ev.Client.UserAgent, rec.Extension["requestClientApplication"])
			}
			for _, k := range []string{"cs1", "cs2", "cs3", "cs4", "cs5", "cs6", "cn1", "cn2", "cn3"} {
				_, v := rec.Extension[k]
				_, l := rec.Extension[k+"Label"]
				assert.Equal(t, v, l, "%s and its label come together", k)
			}
		})
	}
}

func TestSeverityIsOnCEFsScale(t *testing.T) {
	cases := []struct {
		sev  event.Severity
		want int
	}{{event.Info, 1}, {event.Low, 3}, {event.Medium, 5}, {event.High, 8}, {event.Critical, 10}, {"bogus", 0}}
	for _, c := range cases {
		assert.Equal(t, c.want, Severity(c.sev), string(c.sev))
	}
}

func TestABlockedAttackCarriesItsRulesAndTechniques(t *testing.T) {
	ev := sample.ForType(5, event.AttackDetected)
	out, err := enc.Append(nil, &ev)
	require.NoError(t, err)
	rec := checkFraming(t, out)
	assert.Equal(t, "8", rec.Header[6])
	assert.Equal(t, "blocked", rec.Extension["act"])
	assert.Equal(t, "gw-sqli-001,gw-scan-004", rec.Extension["cs4"])
	assert.Equal(t, LabelRuleIDs, rec.Extension["cs4Label"])
	assert.Equal(t, "T1190,T1595.002", rec.Extension["cs5"])
	assert.Equal(t, "/v1/orders/42?id=1%27%20OR%20%271%27%3D%271", rec.Extension["request"])
}

func TestAHostileEventIsEscapedAndTruncatedAsDocumented(t *testing.T) {
	ev := sample.Hostile()
	out, err := enc.Append(nil, &ev)
	require.NoError(t, err)
	rec := checkFraming(t, out)
	// Newlines survive as escapes, '|' and '=' as themselves once parsed;
	// other control characters become spaces and invalid UTF-8 U+FFFD.
	want := "a|b\\c=d\ne\rf]g\"h i j k\uFFFDl\u2028m CEF:0|x|y|z"
	assert.Equal(t, want, rec.Extension["requestClientApplication"])
	assert.Equal(t, want, rec.Extension["suser"])
	assert.Equal(t, want, rec.Extension["cs1"])
	// The 64 KiB path is cut to MaxValue bytes, and the query is dropped
	// because the path used the whole budget.
	assert.Len(t, rec.Extension["request"], MaxValue)
	assert.True(t, strings.HasPrefix(rec.Extension["request"], "/A|=\\\n"))
	assert.Equal(t, "Attack detected", rec.Header[5])
}

func TestHeaderFieldsEscapePipesAndBackslashes(t *testing.T) {
	e := Encoder{ProductVersion: "1|2\\3\n4"}
	ev := sample.ForType(1, event.AuthFailure)
	out, err := e.Append(nil, &ev)
	require.NoError(t, err)
	assert.Contains(t, string(out), `|1\|2\\3 4|`)
	rec := checkFraming(t, out)
	assert.Equal(t, "1|2\\3 4", rec.Header[3])
}

func TestParseRejectsWhatIsNotCEF(t *testing.T) {
	cases := map[string]string{
		"a line without the prefix":          "LEEF:1|a|b|c|d|",
		"a header with too few fields":       "CEF:0|a|b|c",
		"an extension with a keyless equals": "CEF:0|a|b|c|d|e|1|=x",
		"a duplicated key":                   "CEF:0|a|b|c|d|e|1|a=1 a=2",
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(line)
			assert.Error(t, err)
		})
	}
}

func TestANilEventIsAnError(t *testing.T) {
	_, err := enc.Append(nil, nil)
	assert.Error(t, err)
}

// FuzzEncodeKeepsFraming puts arbitrary bytes in every free-text field and
// checks that the line still frames and that values survive the round trip
// (up to the documented substitutions).
func FuzzEncodeKeepsFraming(f *testing.F) {
	f.Add("curl/8", "/x", "a=b", "alice", "route", "rule", "1.2.3")
	f.Add("a|b\\c=d\ne", "/\r\n|", "\x00\x01", "\xff\xfe", "=", "\\", "|")
	h := sample.Hostile()
	f.Add(h.Client.UserAgent, h.Request.Path[:300], h.Request.Query, h.Client.Consumer.Username, h.Kong.Route.Name, "x", "v")
	f.Fuzz(func(t *testing.T, ua, path, query, user, route, rule, version string) {
		ev := sample.ForType(5, event.AttackDetected)
		ev.Client.UserAgent = ua
		ev.Request.Path = path
		ev.Request.Query = query
		ev.Client.Consumer.Username = user
		ev.Kong.Route.Name = route
		ev.Detail.Findings[0].RuleID = rule
		out, err := Encoder{ProductVersion: version}.Append(nil, &ev)
		require.NoError(t, err)
		rec := checkFraming(t, out)
		if ua != "" && utf8.ValidString(ua) && !hasControl(ua) && len(ua) <= MaxValue {
			assert.Equal(t, ua, rec.Extension["requestClientApplication"])
		}
		assert.Equal(t, ev.ID, rec.Extension["externalId"])
	})
}

// hasControl reports control characters other than CR and LF, which are
// the only ones CEF can carry.
func hasControl(s string) bool {
	for _, c := range []byte(s) {
		if (c < 0x20 && c != '\n' && c != '\r') || c == 0x7f {
			return true
		}
	}
	return false
}

// FuzzParse: the parser reads collectors' output and must never panic.
func FuzzParse(f *testing.F) {
	f.Add("CEF:0|a|b|c|d|e|1|k=v x=y\\=z")
	f.Add("CEF:0|a\\|b|c|d|e|f|1|")
	f.Fuzz(func(t *testing.T, line string) {
		_, _ = Parse(line)
	})
}
