package syslog

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
)

var t0 = time.Date(2026, 11, 25, 20, 15, 30, 123456789, time.UTC)

func TestAppendFormatsRFC5424(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"a message with structured data and MSG", Message{Facility: 16, Severity: 4, Time: t0, Hostname: "fw1", AppName: "gatewatch",
			MsgID: "auth.failure", SD: []Element{{ID: "gatewatch@32473", Params: []Param{{"id", "x1"}, {"type", "auth.failure"}}}}, Msg: []byte("hello")},
			`<132>1 2026-11-25T20:15:30.123456Z fw1 gatewatch - auth.failure [gatewatch@32473 id="x1" type="auth.failure"] hello`},
		{"empty fields become the nil value", Message{Facility: 1, Severity: 6},
			`<14>1 - - - - - -`},
		{"header fields outside PRINTUSASCII are replaced", Message{Facility: 16, Severity: 6, Hostname: "a b\nc", AppName: "é", MsgID: strings.Repeat("m", 40)},
			`<134>1 - a_b_c __ - ` + strings.Repeat("m", 32) + ` -`},
		{"SD values escape quote, backslash and bracket and lose control characters", Message{Facility: 16, Severity: 6,
			SD: []Element{{ID: "x@1", Params: []Param{{"v", "a\"b\\c]d\ne\x00f\xff"}}}}},
			`<134>1 - - - - - [x@1 v="a\"b\\c\]d e f` + "\uFFFD" + `"]`},
		{"SD names lose the characters they may not hold", Message{Facility: 16, Severity: 6,
			SD: []Element{{ID: "a b=c]\"", Params: []Param{{"", "v"}}}}},
			`<134>1 - - - - - [a_b_c__ _="v"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Append(nil, &c.m, 0)
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got))
		})
	}
}

func TestAnInvalidPriorityIsRefused(t *testing.T) {
	for _, m := range []Message{{Facility: 24}, {Severity: 8}, {Facility: -1}} {
		_, err := Append(nil, &m, 0)
		assert.ErrorIs(t, err, ErrInvalidPriority)
	}
}

func TestALongMSGIsCutToMaxSizeAtACharacterBoundary(t *testing.T) {
	m := Message{Facility: 16, Severity: 6, Msg: []byte(strings.Repeat("é", 1000))}
	got, err := Append(nil, &m, 101)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(got), 101)
	assert.True(t, utf8.Valid(got))
	back, err := Parse(string(got))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(m.Msg), string(back.Msg)))
}

func TestA64KiBHostileValueIsTruncatedAndStillParses(t *testing.T) {
	v := strings.Repeat("]\"\\\n|=", 64<<10/6)
	m := Message{Facility: 16, Severity: 6, SD: []Element{{ID: "x@1", Params: []Param{{"path", v}}}}, Msg: []byte("m")}
	got, err := Append(nil, &m, 0)
	require.NoError(t, err)
	back, err := Parse(string(got))
	require.NoError(t, err)
	pv, ok := back.Param("x@1", "path")
	require.True(t, ok)
	assert.Len(t, pv, MaxParamValue)
	assert.Equal(t, strings.ReplaceAll(v[:MaxParamValue], "\n", " "), pv)
	assert.Equal(t, "m", string(back.Msg))
}

func TestFramesCarryAnyBytes(t *testing.T) {
	msgs := [][]byte{[]byte("a"), []byte("line1\nline2\n"), bytes.Repeat([]byte{0}, 70000), []byte("12 not a frame")}
	var stream []byte
	for _, m := range msgs {
		stream = AppendFrame(stream, m)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, m := range msgs {
		got, err := ReadFrame(r, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	_, err := ReadFrame(r, 1<<20)
	assert.Equal(t, "EOF", err.Error())
}

func TestReadFrameRejectsMalformedInput(t *testing.T) {
	for name, in := range map[string]string{
		"a leading zero":         "05 hello",
		"a letter in the length": "1a hello",
		"a length above the max": "999999 x",
		"a message cut short":    "10 abc",
		"a missing length":       " abc",
		"EOF inside the length":  "12",
		"a length of ten digits": "1234567890 x",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadFrame(bufio.NewReader(strings.NewReader(in)), 1000)
			assert.ErrorIs(t, err, ErrFrame)
		})
	}
}

func TestEventMessageNamesTheEventAndMapsSeverity(t *testing.T) {
	ev := event.Event{ID: "id-1", Time: t0, Type: event.AttackDetected, Severity: event.High,
		Client:   event.Client{IP: "203.0.113.9", UserAgent: "sqlmap"},
		Request:  event.Request{Method: "GET", Host: "api", Path: "/x\n"},
		Response: event.Response{Status: 403},
		Detail: event.Detail{Action: "blocked", Findings: []event.Finding{
			{RuleID: "r1", Technique: "T1190"}, {RuleID: "r2"}}}}
	t.Run("the sd format carries the fields", func(t *testing.T) {
		m := EventMessage(&ev, nil, EventOptions{Hostname: "fwd"})
		out, err := Append(nil, &m, 0)
		require.NoError(t, err)
		back, err := Parse(string(out))
		require.NoError(t, err)
		assert.Equal(t, 16, back.Facility)
		assert.Equal(t, SevError, back.Severity)
		assert.Equal(t, "attack.detected", back.MsgID)
		for name, want := range map[string]string{"id": "id-1", "type": "attack.detected", "severity": "high",
			"client_ip": "203.0.113.9", "rule_ids": "r1,r2", "techniques": "T1190", "path": "/x ", "status": "403"} {
			got, ok := back.Param(DefaultSDID, name)
			assert.True(t, ok, name)
			assert.Equal(t, want, got, name)
		}
		assert.Equal(t, "attack.detected GET api/x  -> 403 from 203.0.113.9", string(back.Msg))
		assert.True(t, back.Time.Equal(t0.Truncate(time.Microsecond)))
	})
	t.Run("a payload goes in MSG with only the naming fields", func(t *testing.T) {
		m := EventMessage(&ev, []byte("CEF:0|x"), EventOptions{Facility: 13})
		out, err := Append(nil, &m, 0)
		require.NoError(t, err)
		back, err := Parse(string(out))
		require.NoError(t, err)
		assert.Equal(t, 13, back.Facility)
		assert.Equal(t, "CEF:0|x", string(back.Msg))
		require.Len(t, back.SD, 1)
		assert.Len(t, back.SD[0].Params, 3)
	})
	t.Run("severities map onto syslog's", func(t *testing.T) {
		want := map[event.Severity]int{event.Critical: 2, event.High: 3, event.Medium: 4, event.Low: 5, event.Info: 6, "x": 6}
		for s, w := range want {
			assert.Equal(t, w, Severity(s), string(s))
		}
	})
}

// FuzzAppendParse: whatever the fields, the formatted message parses, its
// structured data round-trips (up to the documented substitutions) and its
// frame reads back whole.
func FuzzAppendParse(f *testing.F) {
	f.Add("host", "app", "id", "value", "msg")
	f.Add("a b", "\n", "x]y", "\"\\]\x00\xff", "\n[x@1 a=\"b\"]")
	f.Fuzz(func(t *testing.T, host, app, name, value, msg string) {
		m := Message{Facility: 16, Severity: 5, Time: t0, Hostname: host, AppName: app, MsgID: name,
			SD: []Element{{ID: "x@1", Params: []Param{{name, value}, {"b", value}}}}, Msg: []byte(msg)}
		out, err := Append(nil, &m, 0)
		require.NoError(t, err)
		back, err := Parse(string(out))
		require.NoError(t, err, "%q", out)
		require.Len(t, back.SD, 1)
		require.Len(t, back.SD[0].Params, 2)
		got := back.SD[0].Params[1].Value
		assert.True(t, utf8.ValidString(got))
		if utf8.ValidString(value) && len(value) <= MaxParamValue && !strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			assert.Equal(t, value, got)
		}
		assert.Equal(t, msg, string(back.Msg))
		fr, err := ReadFrame(bufio.NewReader(bytes.NewReader(AppendFrame(nil, out))), len(out))
		require.NoError(t, err)
		assert.Equal(t, out, fr)
	})
}

func FuzzParse(f *testing.F) {
	f.Add(`<134>1 2026-11-25T20:15:30.123456Z h a - m [x@1 a="b\"c"] msg`)
	f.Add(`<0>1 - - - - - -`)
	f.Fuzz(func(t *testing.T, s string) { _, _ = Parse(s) })
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("5 hello3 abc"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for {
			if _, err := ReadFrame(r, 1<<16); err != nil {
				return
			}
		}
	})
}

// BenchmarkEventMessage is the forwarder's per-event cost on top of the
// encoder: building the message, formatting it and framing it.
func BenchmarkEventMessage(b *testing.B) {
	ev := event.Event{ID: "0193a6f0-5c2e-7d4a-9b1c-000000000005", Time: t0, Type: event.AttackDetected, Severity: event.High,
		Client:   event.Client{IP: "203.0.113.9", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) curl/8.5.0"},
		Request:  event.Request{ID: "f2b9c4d1", Method: "GET", Host: "api.example.com", Path: "/v1/orders/42", Query: "id=1"},
		Response: event.Response{Status: 403},
		Kong:     event.Kong{Route: event.Ref{Name: "orders-api"}, Service: event.Ref{Name: "orders"}},
		Detail:   event.Detail{Action: "blocked", Findings: []event.Finding{{RuleID: "gw-sqli-001", Technique: "T1190"}}}}
	payload := []byte("CEF:0|gatewatch|gatewatch|1.2.3|attack.detected|Attack detected|8|rt=1795637730123 externalId=0193a6f0-5c2e-7d4a-9b1c-000000000005")
	for _, c := range []struct {
		name    string
		payload []byte
	}{{"sd", nil}, {"payload", payload}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var msg, frames []byte
			for b.Loop() {
				m := EventMessage(&ev, c.payload, EventOptions{Hostname: "fwd-1"})
				msg, _ = Append(msg[:0], &m, 0)
				frames = AppendFrame(frames[:0], msg)
			}
			b.SetBytes(int64(len(frames)))
		})
	}
}
