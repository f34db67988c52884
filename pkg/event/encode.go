package event

import (
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the native JSON encoding of e (docs/events.md) to b.
// It produces the same document as encoding/json would from the struct tags,
// without reflection and without allocating beyond b's growth; invalid UTF-8
// in any string is replaced by U+FFFD so the output is always valid JSON.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = append(b, `,"id":`...)
	b = AppendString(b, e.ID)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":`...)
	b = AppendString(b, string(e.Type))
	b = append(b, `,"severity":`...)
	b = AppendString(b, string(e.Severity))

	b = append(b, `,"kong":{`...)
	w := objWriter{b: b}
	w.str("node_id", e.Kong.NodeID)
	w.ref("route", e.Kong.Route)
	w.ref("service", e.Kong.Service)
	w.str("workspace", e.Kong.Workspace)
	b = append(w.b, '}')

	b = append(b, `,"client":{`...)
	w = objWriter{b: b}
	w.str("ip", e.Client.IP)
	w.str("user_agent", e.Client.UserAgent)
	w.key("consumer")
	w.b = append(w.b, '{')
	c := objWriter{b: w.b}
	c.str("id", e.Client.Consumer.ID)
	c.str("username", e.Client.Consumer.Username)
	w.b = append(c.b, '}')
	if g := e.Client.Geo; g != nil {
		w.key("geo")
		w.b = append(w.b, '{')
		gw := objWriter{b: w.b}
		gw.str("country", g.Country)
		gw.str("region", g.Region)
		gw.str("city", g.City)
		w.b = append(gw.b, '}')
	}
	if as := e.Client.AS; as != nil {
		w.key("as")
		w.b = append(w.b, `{"number":`...)
		w.b = strconv.AppendUint(w.b, uint64(as.Number), 10)
		if as.Organization != "" {
			w.b = append(w.b, `,"organization":`...)
			w.b = AppendString(w.b, as.Organization)
		}
		w.b = append(w.b, '}')
	}
	b = append(w.b, '}')

	b = append(b, `,"request":{`...)
	w = objWriter{b: b}
	w.str("id", e.Request.ID)
	w.str("method", e.Request.Method)
	w.str("host", e.Request.Host)
	w.str("path", e.Request.Path)
	w.str("query", e.Request.Query)
	if len(e.Request.Headers) > 0 {
		w.key("headers")
		w.b = appendStringMap(w.b, e.Request.Headers)
	}
	b = append(w.b, '}')

	b = append(b, `,"response":{"status":`...)
	b = strconv.AppendInt(b, int64(e.Response.Status), 10)
	if e.Response.Source != "" {
		b = append(b, `,"source":`...)
		b = AppendString(b, e.Response.Source)
	}
	b = append(b, `,"latency":{"kong_ms":`...)
	b = appendFloat(b, e.Response.Latency.KongMS)
	b = append(b, `,"upstream_ms":`...)
	b = appendFloat(b, e.Response.Latency.UpstreamMS)
	b = append(b, `,"total_ms":`...)
	b = appendFloat(b, e.Response.Latency.TotalMS)
	b = append(b, `}}`...)

	b = append(b, `,"detail":`...)
	b = e.Detail.appendJSON(b)
	return append(b, '}')
}

func (d *Detail) appendJSON(b []byte) []byte {
	b = append(b, '{')
	w := objWriter{b: b}
	w.str("mechanism", d.Mechanism)
	w.str("reason", d.Reason)
	w.str("credential", d.Credential)
	if d.Identity != nil {
		w.key("identity")
		w.b = append(w.b, `{"kind":`...)
		w.b = AppendString(w.b, d.Identity.Kind)
		if d.Identity.Name != "" {
			w.b = append(w.b, `,"name":`...)
			w.b = AppendString(w.b, d.Identity.Name)
		}
		w.b = append(w.b, `,"value":`...)
		w.b = AppendString(w.b, d.Identity.Value)
		w.b = append(w.b, '}')
	}
	w.str("control", d.Control)
	w.str("consumer_groups", d.ConsumerGroups)
	if rl := d.RateLimit; rl != nil {
		w.key("rate_limit")
		w.b = append(w.b, '{')
		r := objWriter{b: w.b}
		r.int("limit", rl.Limit)
		r.key("remaining")
		r.b = strconv.AppendInt(r.b, int64(rl.Remaining), 10)
		r.int("reset", rl.Reset)
		r.int("retry_after", rl.RetryAfter)
		r.str("period", rl.Period)
		w.b = append(r.b, '}')
	}
	w.str("action", d.Action)
	w.str("engine", d.Engine)
	if len(d.Findings) > 0 {
		w.key("findings")
		w.b = append(w.b, '[')
		for i := range d.Findings {
			f := &d.Findings[i]
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, `{"rule_id":`...)
			w.b = AppendString(w.b, f.RuleID)
			w.b = append(w.b, `,"class":`...)
			w.b = AppendString(w.b, f.Class)
			w.b = append(w.b, `,"severity":`...)
			w.b = AppendString(w.b, string(f.Severity))
			w.b = append(w.b, `,"location":`...)
			w.b = AppendString(w.b, f.Location)
			fw := objWriter{b: w.b, n: 1}
			fw.str("fragment", f.Fragment)
			fw.str("cwe", f.CWE)
			fw.str("technique", f.Technique)
			w.b = append(fw.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.str("upstream_status", d.UpstreamStatus)
	w.int("tries", d.Tries)
	if d.ThresholdMS != 0 {
		w.key("threshold_ms")
		w.b = appendFloat(w.b, d.ThresholdMS)
	}
	w.str("actor", d.Actor)
	w.str("entity_path", d.EntityPath)
	w.int("dropped", d.Dropped)
	if d.DroppedTotal != 0 {
		w.key("dropped_total")
		w.b = strconv.AppendInt(w.b, d.DroppedTotal, 10)
	}
	w.str("level", d.Level)
	w.str("category", d.Category)
	w.str("component", d.Component)
	w.str("message", d.Message)
	w.int("count", d.Count)
	return append(w.b, '}')
}

// objWriter appends the members of one JSON object, writing the separating
// commas and leaving out empty optional members.
type objWriter struct {
	b []byte
	n int // members written so far
}

func (w *objWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, `":`...)
}

func (w *objWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = AppendString(w.b, v)
}

func (w *objWriter) int(k string, v int) {
	if v == 0 {
		return
	}
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *objWriter) ref(k string, r Ref) {
	w.key(k)
	w.b = append(w.b, '{')
	inner := objWriter{b: w.b}
	inner.str("id", r.ID)
	inner.str("name", r.Name)
	w.b = append(inner.b, '}')
}

// appendStringMap writes m as a JSON object with sorted keys, as
// encoding/json does.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = AppendString(b, m[k])
	}
	return append(b, '}')
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// JSON has no NaN or infinity; Kong never serializes them, so a
		// latency that is one is unknown.
		return append(b, '0')
	}
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal. Control characters are
// escaped, invalid UTF-8 becomes U+FFFD, and U+2028/U+2029 are escaped so the
// output is also safe to embed in JavaScript.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
