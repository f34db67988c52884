// Package cef encodes gatewatch events as ArcSight Common Event Format
// (CEF:0) lines, the format syslog-only SIEM collectors (QRadar, ArcSight,
// Sentinel's CEF connector) parse natively.
//
// Guarantees, whatever the event holds: the output is one line (no CR or
// LF), the header has exactly eight '|'-separated fields with every '|'
// and '\' inside a field escaped, every extension value escapes '\', '='
// and newlines, other control characters become a space, invalid UTF-8
// becomes U+FFFD, and each header field and extension value is cut to a
// documented byte limit at a character boundary, so a line is bounded in
// length. Parse reads the format back; a fuzz test holds the two together.
package cef

import (
	"errors"
	"strconv"

	"github.com/gatewatch/gatewatch/internal/textesc"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/describe"
)

// Name is the format's configuration name.
const Name = "cef"

// Limits on what one field may add to a line, in bytes before escaping.
// ArcSight's own limits are 1023 for most string keys and 4000 for cs1–cs6;
// one limit for all keeps lines bounded and predictable.
const (
	MaxHeaderField = 255
	MaxValue       = 1023
)

// Custom-key labels, written beside every cs/cn key that has a value so that
// a SIEM maps them without a per-vendor parser.
const (
	LabelRoute      = "kongRoute"        // cs1
	LabelService    = "kongService"      // cs2
	LabelRequestID  = "kongRequestId"    // cs3
	LabelRuleIDs    = "ruleIds"          // cs4
	LabelTechniques = "attackTechniques" // cs5
	LabelPlugin     = "kongPlugin"       // cs6: the Kong plugin that decided (acl, key-auth, …)
	LabelStatus     = "httpStatus"       // cn1
	LabelLatency    = "latencyMs"        // cn2
	LabelTries      = "upstreamTries"    // cn3
)

// Encoder writes CEF lines.
type Encoder struct {
	// ProductVersion is the header's Device Version.
	ProductVersion string
}

// Name returns "cef".
func (Encoder) Name() string { return Name }

// ContentType is CEF's informal MIME type.
func (Encoder) ContentType() string { return "text/x-cef" }

// Severity maps gatewatch's severity onto CEF's 0–10 scale, in the middle
// of CEF's bands (0–3 low, 4–6 medium, 7–8 high, 9–10 very high): info 1,
// low 3, medium 5, high 8, critical 10, unknown 0.
func Severity(s event.Severity) int {
	switch s {
	case event.Info:
		return 1
	case event.Low:
		return 3
	case event.Medium:
		return 5
	case event.High:
		return 8
	case event.Critical:
		return 10
	}
	return 0
}

var errNilEvent = errors.New("cef: nil event")

// Append appends ev as one CEF line, without a line terminator.
func (e Encoder) Append(dst []byte, ev *event.Event) ([]byte, error) {
	if ev == nil {
		return dst, errNilEvent
	}
	b := append(dst, "CEF:0|gatewatch|gatewatch|"...)
	b = appendHeader(b, e.ProductVersion)
	b = append(b, '|')
	b = appendHeader(b, string(ev.Type))
	b = append(b, '|')
	title := describe.Title(ev.Type)
	reason := describe.Reason(ev)
	b = appendHeader(b, title)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(Severity(ev.Severity)), 10)
	b = append(b, '|')

	x := ext{b: b}
	x.int("rt", ev.Time.UnixMilli())
	x.str("externalId", ev.ID)
	x.str("cat", string(ev.Type))
	x.str("act", action(ev))
	if describe.Failed(ev) {
		x.str("outcome", "failure")
	} else {
		x.str("outcome", "success")
	}
	x.str("src", ev.Client.IP)
	x.str("suser", user(ev))
	x.str("suid", ev.Client.Consumer.ID)
	x.str("requestMethod", ev.Request.Method)
	x.request(ev.Request.Path, ev.Request.Query)
	x.str("requestClientApplication", ev.Client.UserAgent)
	x.str("dhost", ev.Request.Host)
	x.str("deviceExternalId", ev.Kong.NodeID)
	x.str("reason", reason)
	x.msg(title, reason)
	x.labelled("cs1", LabelRoute, first(ev.Kong.Route.Name, ev.Kong.Route.ID))
	x.labelled("cs2", LabelService, first(ev.Kong.Service.Name, ev.Kong.Service.ID))
	x.labelled("cs3", LabelRequestID, ev.Request.ID)
	x.ruleIDs(ev.Detail.Findings)
	var techBuf [8]string
	x.list("cs5", LabelTechniques, describe.Techniques(techBuf[:0], ev))
	x.labelled("cs6", LabelPlugin, first(ev.Detail.Control, ev.Detail.Mechanism))
	if ev.Response.Status != 0 {
		x.labelledInt("cn1", LabelStatus, int64(ev.Response.Status))
	}
	if ev.Response.Latency.TotalMS > 0 {
		x.labelledInt("cn2", LabelLatency, int64(ev.Response.Latency.TotalMS))
	}
	if ev.Detail.Tries != 0 {
		x.labelledInt("cn3", LabelTries, int64(ev.Detail.Tries))
	}
	if ev.Detail.Dropped != 0 {
		x.int("cnt", int64(ev.Detail.Dropped))
	}
	return x.b, nil
}

// action is CEF act: what the gateway did.
func action(ev *event.Event) string {
	switch {
	case describe.Blocked(ev):
		return "blocked"
	case ev.Type == event.AttackDetected:
		return "logged"
	}
	return ""
}

// user is the consumer, else the username a failed authentication tried.
func user(ev *event.Event) string {
	if ev.Client.Consumer.Username != "" {
		return ev.Client.Consumer.Username
	}
	if id := ev.Detail.Identity; id != nil && id.Kind == "username" {
		return id.Value
	}
	return ""
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ext appends extension key=value pairs, separated by single spaces.
type ext struct {
	b []byte
	n int
}

func (x *ext) key(k string) {
	if x.n > 0 {
		x.b = append(x.b, ' ')
	}
	x.n++
	x.b = append(x.b, k...)
	x.b = append(x.b, '=')
}

func (x *ext) str(k, v string) {
	if v == "" {
		return
	}
	x.key(k)
	x.b = appendValue(x.b, v, MaxValue)
}

func (x *ext) int(k string, v int64) {
	x.key(k)
	x.b = strconv.AppendInt(x.b, v, 10)
}

func (x *ext) labelled(k, label, v string) {
	if v == "" {
		return
	}
	x.str(k, v)
	x.key(k + "Label")
	x.b = append(x.b, label...)
}

func (x *ext) labelledInt(k, label string, v int64) {
	x.int(k, v)
	x.key(k + "Label")
	x.b = append(x.b, label...)
}

// request writes path?query as one value under one limit without building
// the joined string.
func (x *ext) request(path, query string) {
	if path == "" {
		return
	}
	x.key("request")
	if query == "" {
		x.b = appendValue(x.b, path, MaxValue)
		return
	}
	x.b = appendValue(x.b, path, MaxValue)
	if len(path) < MaxValue-1 {
		x.b = append(x.b, '?')
		x.b = appendValue(x.b, query, MaxValue-1-len(path))
	}
}

func (x *ext) msg(title, reason string) {
	x.key("msg")
	x.b = appendValue(x.b, title, MaxValue)
	if reason != "" {
		x.b = append(x.b, ':', ' ')
		x.b = appendValue(x.b, reason, MaxValue-2-len(title))
	}
}

func (x *ext) ruleIDs(fs []event.Finding) {
	var buf [8]string
	ids := buf[:0]
	for i := range fs {
		ids = append(ids, fs[i].RuleID)
	}
	x.list("cs4", LabelRuleIDs, ids)
}

// list writes a comma-separated labelled value, all of it within MaxValue
// bytes, without joining the strings first.
func (x *ext) list(k, label string, vs []string) {
	if len(vs) == 0 {
		return
	}
	x.key(k)
	budget := MaxValue
	for i, v := range vs {
		if i > 0 {
			if budget < 2 {
				break
			}
			x.b = append(x.b, ',')
			budget--
		}
		v = textesc.Cut(v, budget)
		x.b = appendValue(x.b, v, budget)
		budget -= len(v)
	}
	x.key(k + "Label")
	x.b = append(x.b, label...)
}

// appendHeader escapes a header field: '\' and '|' get a backslash; CR, LF
// and other control characters, which CEF headers cannot carry, become a
// space.
func appendHeader(b []byte, s string) []byte {
	return textesc.Append(b, textesc.Cut(s, MaxHeaderField), headerEscapes)
}

var headerEscapes = textesc.NewTable(`\|`, nil)

// appendValue escapes an extension value, first cut to max bytes: '\' and
// '=' get a backslash, CR and LF become \r and \n, other control
// characters become a space.
func appendValue(b []byte, s string, max int) []byte {
	return textesc.Append(b, textesc.Cut(s, max), valueEscapes)
}

var valueEscapes = textesc.NewTable(`\=`, map[byte]string{'\n': `\n`, '\r': `\r`})
