// Package syslog sends messages to syslog collectors the way RFC 5424
// (message format), RFC 6587 (octet-counting framing over TCP) and RFC 5425
// (TLS transport) describe, with the delivery bookkeeping gatewatch's
// forwarder needs: batches are confirmed only after the collector's TCP
// stack acknowledged every byte and the connection stayed up for a settle
// time, and everything unconfirmed is sent again after a reconnect.
//
// Formatting is pure and total: any Message, however hostile its fields,
// formats as one well-formed RFC 5424 message. Header fields outside
// PRINTUSASCII become '_' and are cut to their RFC lengths; structured-data
// values escape '"', '\' and ']', turn control characters into spaces,
// replace invalid UTF-8 with U+FFFD and are cut to MaxParamValue bytes;
// MSG is cut so that the whole message fits MaxSize. Parse and ReadFrame
// read the formats back and are fuzzed.
package syslog

import (
	"errors"
	"strconv"
	"time"

	"github.com/gatewatch/gatewatch/internal/textesc"
)

// Severities (RFC 5424 §6.2.1) gatewatch uses.
const (
	SevCritical = 2
	SevError    = 3
	SevWarning  = 4
	SevNotice   = 5
	SevInfo     = 6
)

// Facilities by name, for flags.
var Facilities = map[string]int{
	"kern": 0, "user": 1, "daemon": 3, "auth": 4, "syslog": 5, "authpriv": 10,
	"audit": 13, "alert": 14, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// RFC 5424 field limits, and gatewatch's own.
const (
	maxHostname = 255
	maxAppName  = 48
	maxProcID   = 128
	maxMsgID    = 32
	maxSDName   = 32
	// MaxParamValue bounds one structured-data value, in bytes before
	// escaping.
	MaxParamValue = 1024
	// DefaultMaxSize is the default bound on a whole message (without its
	// frame). rsyslog's own default is 8 KiB; docs/siem.md says how to
	// raise it to this.
	DefaultMaxSize = 64 << 10
)

// Message is one RFC 5424 message.
type Message struct {
	Facility int // 0–23
	Severity int // 0–7
	Time     time.Time
	Hostname string
	AppName  string
	ProcID   string
	MsgID    string
	SD       []Element
	Msg      []byte // MSG-ANY: written as is, no BOM
}

// Element is one SD-ELEMENT.
type Element struct {
	ID     string
	Params []Param
}

// Param is one SD-PARAM.
type Param struct {
	Name, Value string
}

// ErrInvalidPriority is returned for a facility or severity out of range.
var ErrInvalidPriority = errors.New("syslog: facility must be 0–23 and severity 0–7")

// Append appends m formatted as RFC 5424 to dst. If the message would be
// longer than maxSize bytes (0 means DefaultMaxSize), MSG is cut at a UTF-8
// boundary so that it fits; header and structured data are never cut
// beyond their own limits.
func Append(dst []byte, m *Message, maxSize int) ([]byte, error) {
	if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
		return dst, ErrInvalidPriority
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	start := len(dst)
	b := append(dst, '<')
	b = strconv.AppendInt(b, int64(m.Facility*8+m.Severity), 10)
	b = append(b, ">1 "...)
	if m.Time.IsZero() {
		b = append(b, '-')
	} else {
		// TIME-SECFRAC allows at most six digits.
		b = m.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	b = append(b, ' ')
	b = appendHeaderField(b, m.Hostname, maxHostname)
	b = append(b, ' ')
	b = appendHeaderField(b, m.AppName, maxAppName)
	b = append(b, ' ')
	b = appendHeaderField(b, m.ProcID, maxProcID)
	b = append(b, ' ')
	b = appendHeaderField(b, m.MsgID, maxMsgID)
	b = append(b, ' ')
	if len(m.SD) == 0 {
		b = append(b, '-')
	}
	for _, e := range m.SD {
		b = append(b, '[')
		b = appendSDName(b, e.ID)
		for _, p := range e.Params {
			b = append(b, ' ')
			b = appendSDName(b, p.Name)
			b = append(b, '=', '"')
			b = appendParamValue(b, p.Value)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if len(m.Msg) > 0 {
		b = append(b, ' ')
		budget := maxSize - (len(b) - start)
		msg := m.Msg
		if len(msg) > budget {
			msg = textesc.Cut(msg, budget)
		}
		b = append(b, msg...)
	}
	return b, nil
}

// appendHeaderField writes a PRINTUSASCII field, "-" when empty.
func appendHeaderField(b []byte, s string, max int) []byte {
	if s == "" {
		return append(b, '-')
	}
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

// appendSDName writes an SD-ID or PARAM-NAME: PRINTUSASCII except '=',
// space, ']' and '"'.
func appendSDName(b []byte, s string) []byte {
	if s == "" {
		return append(b, '_')
	}
	if len(s) > maxSDName {
		s = s[:maxSDName]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

func appendParamValue(b []byte, s string) []byte {
	return textesc.Append(b, textesc.Cut(s, MaxParamValue), paramEscapes)
}

// paramEscapes: RFC 5424 section 6.3.3 escapes '"', '\' and ']'.
var paramEscapes = textesc.NewTable(`"\]`, nil)
