package syslog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is wrapped by every Parse error.
var ErrSyntax = errors.New("syslog: not an RFC 5424 message")

// Parse reads one RFC 5424 message (without framing). It is for tests and
// tools that read collectors' output; it never panics. Nil-valued header
// fields ("-") come back empty.
func Parse(s string) (Message, error) {
	var m Message
	if !strings.HasPrefix(s, "<") {
		return m, fmt.Errorf("%w: no PRI", ErrSyntax)
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return m, fmt.Errorf("%w: bad PRI", ErrSyntax)
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 {
		return m, fmt.Errorf("%w: bad PRI %q", ErrSyntax, s[1:end])
	}
	m.Facility, m.Severity = pri/8, pri%8
	rest, ok := strings.CutPrefix(s[end+1:], "1 ")
	if !ok {
		return m, fmt.Errorf("%w: version is not 1", ErrSyntax)
	}
	var fields [5]string
	for i := range fields {
		sp := strings.IndexByte(rest, ' ')
		if sp <= 0 {
			return m, fmt.Errorf("%w: header field %d missing", ErrSyntax, i+1)
		}
		fields[i], rest = rest[:sp], rest[sp+1:]
		if fields[i] == "-" {
			fields[i] = ""
		}
	}
	if fields[0] != "" {
		t, err := time.Parse(time.RFC3339Nano, fields[0])
		if err != nil {
			return m, fmt.Errorf("%w: timestamp: %v", ErrSyntax, err)
		}
		m.Time = t
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID = fields[1], fields[2], fields[3], fields[4]
	switch {
	case strings.HasPrefix(rest, "-"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "["):
		for strings.HasPrefix(rest, "[") {
			var e Element
			e, rest, err = parseElement(rest[1:])
			if err != nil {
				return m, err
			}
			m.SD = append(m.SD, e)
		}
	default:
		return m, fmt.Errorf("%w: structured data", ErrSyntax)
	}
	if rest != "" {
		if rest[0] != ' ' {
			return m, fmt.Errorf("%w: no space before MSG", ErrSyntax)
		}
		m.Msg = []byte(rest[1:])
	}
	return m, nil
}

// parseElement reads "ID name="value" ...]" and returns what follows.
func parseElement(s string) (Element, string, error) {
	var e Element
	i := strings.IndexAny(s, " ]")
	if i <= 0 {
		return e, "", fmt.Errorf("%w: SD-ID", ErrSyntax)
	}
	e.ID, s = s[:i], s[i:]
	for {
		if strings.HasPrefix(s, "]") {
			return e, s[1:], nil
		}
		if !strings.HasPrefix(s, " ") {
			return e, "", fmt.Errorf("%w: in element %s", ErrSyntax, e.ID)
		}
		s = s[1:]
		eq := strings.Index(s, `="`)
		if eq <= 0 || strings.ContainsAny(s[:eq], ` ]"`) {
			return e, "", fmt.Errorf("%w: PARAM-NAME in element %s", ErrSyntax, e.ID)
		}
		name := s[:eq]
		s = s[eq+2:]
		var v strings.Builder
		closed := false
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\' || s[j+1] == ']') {
				j++
				v.WriteByte(s[j])
				continue
			}
			if c == '"' {
				s = s[j+1:]
				closed = true
				break
			}
			v.WriteByte(c)
		}
		if !closed {
			return e, "", fmt.Errorf("%w: unterminated value of %s", ErrSyntax, name)
		}
		e.Params = append(e.Params, Param{Name: name, Value: v.String()})
	}
}

// Param returns the value of the first parameter called name in the
// element with id, and whether there was one.
func (m *Message) Param(id, name string) (string, bool) {
	for _, e := range m.SD {
		if e.ID != id {
			continue
		}
		for _, p := range e.Params {
			if p.Name == name {
				return p.Value, true
			}
		}
	}
	return "", false
}
