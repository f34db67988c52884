package syslog

import (
	"strconv"
	"strings"

	"github.com/gatewatch/gatewatch/internal/textesc"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// DefaultSDID names gatewatch's structured-data element. 32473 is the
// private enterprise number RFC 5612 sets aside for documentation; an
// operator with their own number sets EventOptions.SDID.
const DefaultSDID = "gatewatch@32473"

// EventOptions say how events become syslog messages. The zero value is
// valid.
type EventOptions struct {
	Facility int    // default 0 (kern) is never wanted: 0 means local0 (16)
	Hostname string // the HOSTNAME field; default "-"
	AppName  string // default "gatewatch"
	SDID     string // default DefaultSDID
}

// Severity maps gatewatch's severity onto syslog's: critical 2 (crit),
// high 3 (err), medium 4 (warning), low 5 (notice), info and unknown 6
// (info).
func Severity(s event.Severity) int {
	switch s {
	case event.Critical:
		return SevCritical
	case event.High:
		return SevError
	case event.Medium:
		return SevWarning
	case event.Low:
		return SevNotice
	}
	return SevInfo
}

// EventMessage builds the message for ev. MSGID is the event type and the
// structured data always names the event (id, type, severity) so that a
// collector can de-duplicate and route without parsing MSG. With payload
// nil, the structured data carries the event's fields (the "sd" format) and
// MSG is a one-line summary; otherwise MSG is payload (CEF, or a JSON
// encoding) as given.
func EventMessage(ev *event.Event, payload []byte, o EventOptions) Message {
	if o.Facility == 0 {
		o.Facility = Facilities["local0"]
	}
	if o.AppName == "" {
		o.AppName = "gatewatch"
	}
	if o.SDID == "" {
		o.SDID = DefaultSDID
	}
	params := []Param{
		{"id", ev.ID},
		{"type", string(ev.Type)},
		{"severity", string(ev.Severity)},
	}
	msg := payload
	if payload == nil {
		params = appendEventParams(params, ev)
		msg = summary(ev)
	}
	return Message{
		Facility: o.Facility,
		Severity: Severity(ev.Severity),
		Time:     ev.Time,
		Hostname: o.Hostname,
		AppName:  o.AppName,
		MsgID:    string(ev.Type),
		SD:       []Element{{ID: o.SDID, Params: params}},
		Msg:      msg,
	}
}

func appendEventParams(p []Param, ev *event.Event) []Param {
	add := func(name, v string) {
		if v != "" {
			p = append(p, Param{name, v})
		}
	}
	add("client_ip", ev.Client.IP)
	add("user_agent", ev.Client.UserAgent)
	add("consumer", ev.Client.Consumer.Username)
	add("method", ev.Request.Method)
	add("host", ev.Request.Host)
	add("path", ev.Request.Path)
	add("query", ev.Request.Query)
	add("request_id", ev.Request.ID)
	if ev.Response.Status != 0 {
		add("status", strconv.Itoa(ev.Response.Status))
	}
	add("route", ev.Kong.Route.Name)
	add("service", ev.Kong.Service.Name)
	add("node_id", ev.Kong.NodeID)
	d := &ev.Detail
	add("mechanism", d.Mechanism)
	add("reason", d.Reason)
	add("control", d.Control)
	add("action", d.Action)
	if len(d.Findings) > 0 {
		var rules, techs []string
		for _, f := range d.Findings {
			rules = append(rules, f.RuleID)
			if f.Technique != "" {
				techs = append(techs, f.Technique)
			}
		}
		add("rule_ids", strings.Join(rules, ","))
		add("techniques", strings.Join(techs, ","))
	}
	if d.Dropped != 0 {
		add("dropped", strconv.Itoa(d.Dropped))
	}
	return p
}

// summary is a human line: type, request line and status.
func summary(ev *event.Event) []byte {
	b := []byte(ev.Type)
	if ev.Request.Method != "" {
		b = append(b, ' ')
		b = append(b, ev.Request.Method...)
		b = append(b, ' ')
		// The full request is in the structured data; the summary stays
		// short whatever the path.
		b = append(b, textesc.Cut(ev.Request.Host, 255)...)
		b = append(b, textesc.Cut(ev.Request.Path, 256)...)
	}
	if ev.Response.Status != 0 {
		b = append(b, " -> "...)
		b = strconv.AppendInt(b, int64(ev.Response.Status), 10)
	}
	if ev.Client.IP != "" {
		b = append(b, " from "...)
		b = append(b, ev.Client.IP...)
	}
	// MSG is free text, but collectors that write lines must get one line.
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return b
}
