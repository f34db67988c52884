package encode

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/cef"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/sample"
)

func TestByNameKnowsEveryFormatAndNothingElse(t *testing.T) {
	for _, name := range Names {
		t.Run(name+" is known", func(t *testing.T) {
			e, err := ByName(name)
			require.NoError(t, err)
			assert.Equal(t, name, e.Name())
			assert.NotEmpty(t, e.ContentType())
		})
	}
	t.Run("the empty name is native", func(t *testing.T) {
		e, err := ByName("")
		require.NoError(t, err)
		assert.Equal(t, "native", e.Name())
	})
	t.Run("names are case-insensitive", func(t *testing.T) {
		e, err := ByName("OCSF")
		require.NoError(t, err)
		assert.Equal(t, "ocsf", e.Name())
	})
	t.Run("an unknown name is ErrUnknownFormat", func(t *testing.T) {
		_, err := ByName("leef")
		assert.True(t, errors.Is(err, ErrUnknownFormat), "%v", err)
		assert.ErrorContains(t, err, `"leef"`)
	})
}

func TestEveryFormatEncodesEveryTypeAndAppends(t *testing.T) {
	for _, name := range Names {
		e, err := New(name, Options{ProductVersion: "9.9.9"})
		require.NoError(t, err)
		for _, ev := range append(sample.Events(), sample.Hostile()) {
			out, err := e.Append([]byte("x"), &ev)
			require.NoError(t, err, "%s %s", name, ev.Type)
			assert.Equal(t, byte('x'), out[0], "%s appends to dst", name)
			assert.Greater(t, len(out), 50, "%s %s", name, ev.Type)
		}
	}
}

// BenchmarkEncode measures the cost of encoding one event per format, over
// the whole sample set (one event of every type), into a reused buffer as
// the publisher and forwarder do.
func BenchmarkEncode(b *testing.B) {
	events := sample.Events()
	for _, name := range Names {
		e, err := ByName(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			n := 0
			for b.Loop() {
				ev := &events[n%len(events)]
				n++
				buf, err = e.Append(buf[:0], ev)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// FuzzEveryFormatStaysWellFormed puts arbitrary text in the event's
// free-text fields: JSON formats must stay valid JSON objects, CEF one
// parseable line.
func FuzzEveryFormatStaysWellFormed(f *testing.F) {
	f.Add("curl/8", "/x", "a=b", "alice", "sqli", "T1190", 1.5)
	f.Add("\x00\xff\u2028", "\"}{", "\\", "|=\n", "", "T1059.007", -1.0)
	encoders := make([]Encoder, 0, len(Names))
	for _, n := range Names {
		e, err := ByName(n)
		if err != nil {
			f.Fatal(err)
		}
		encoders = append(encoders, e)
	}
	f.Fuzz(func(t *testing.T, ua, path, query, user, class, technique string, latency float64) {
		ev := sample.ForType(5, event.AttackDetected)
		ev.Client.UserAgent, ev.Request.Path, ev.Request.Query = ua, path, query
		ev.Client.Consumer.Username = user
		ev.Detail.Findings[0].Class, ev.Detail.Findings[0].Technique = class, technique
		ev.Response.Latency.TotalMS = latency
		for _, e := range encoders {
			out, err := e.Append(nil, &ev)
			require.NoError(t, err)
			if e.Name() == cef.Name {
				_, err := cef.Parse(string(out))
				require.NoError(t, err, "%s", out)
				require.NotContains(t, string(out), "\n")
				continue
			}
			var m map[string]any
			require.NoError(t, json.Unmarshal(out, &m), "%s: %s", e.Name(), out)
		}
	})
}
