// Package errlog reads Kong's error.log: it parses nginx error-log lines
// (level, time, pid, connection, Kong's [context], and nginx's client,
// server, request, upstream and host trailer), classifies them into the
// categories of the kong.error event (docs/events.md), collapses bursts of
// like lines into one counted group, and follows the file across rotation
// by rename or truncation from a saved position.
//
// Parsing, classification and collapsing are pure: they take lines and
// times and return values. Only the Follower touches the file system.
package errlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotEntry is returned by Parse for a line that does not start an
// error-log entry: a Lua stack traceback or other continuation of the
// previous entry.
var ErrNotEntry = errors.New("errlog: not an error-log entry")

// Levels are nginx's error-log levels, least severe first.
var Levels = []string{"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"}

// LevelRank returns the index of level in Levels, or -1 if unknown.
func LevelRank(level string) int {
	for i, l := range Levels {
		if l == level {
			return i
		}
	}
	return -1
}

// Line is one parsed error-log entry. Absent parts are zero.
type Line struct {
	Time  time.Time
	Level string // one of Levels
	PID   int    // the nginx process (worker) that wrote the line
	TID   int
	Conn  int64 // nginx connection number (the "*N"), 0 if none
	// Component is Kong's context of the line: a plugin name (from
	// "[kong] handler.lua:12 [name]" or a plugin server's "[name:pid]"
	// output), "pluginserver", "lua", "kong", or "" for nginx's own lines.
	Component string
	// ServerPID is the plugin-server process id of a "[name:pid]" line.
	ServerPID int
	Message   string // the text between the context and the trailer
	Client    string
	Server    string
	Request   string // request line, unquoted
	Upstream  string // unquoted
	Host      string // unquoted
	Referrer  string // unquoted
	// LuaContext is the phase lua-nginx-module names in ", context: …"
	// (ngx.timer, init_worker_by_lua*, access_by_lua(nginx-kong.conf:98)).
	LuaContext string
}

const timeLayout = "2006/01/02 15:04:05"

// Parse parses one line (without its newline). Times are read in loc
// (nginx writes local time); nil means UTC.
func Parse(s string, loc *time.Location) (Line, error) {
	var l Line
	if loc == nil {
		loc = time.UTC
	}
	if len(s) < len(timeLayout)+4 || s[4] != '/' || s[len(timeLayout)] != ' ' {
		return l, ErrNotEntry
	}
	t, err := time.ParseInLocation(timeLayout, s[:len(timeLayout)], loc)
	if err != nil {
		return l, ErrNotEntry
	}
	l.Time = t
	rest := s[len(timeLayout)+1:]
	if !strings.HasPrefix(rest, "[") {
		return l, ErrNotEntry
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return l, ErrNotEntry
	}
	l.Level = rest[1:end]
	if LevelRank(l.Level) < 0 {
		return l, fmt.Errorf("errlog: level %q: %w", l.Level, ErrNotEntry)
	}
	rest = strings.TrimPrefix(rest[end+1:], " ")
	// "PID#TID: "
	colon := strings.Index(rest, ": ")
	hash := strings.IndexByte(rest, '#')
	if colon < 0 || hash < 0 || hash > colon {
		return l, fmt.Errorf("errlog: pid#tid: %w", ErrNotEntry)
	}
	if l.PID, err = strconv.Atoi(rest[:hash]); err != nil {
		return l, fmt.Errorf("errlog: pid %q: %w", rest[:hash], ErrNotEntry)
	}
	if l.TID, err = strconv.Atoi(rest[hash+1 : colon]); err != nil {
		return l, fmt.Errorf("errlog: tid %q: %w", rest[hash+1:colon], ErrNotEntry)
	}
	rest = rest[colon+2:]
	if strings.HasPrefix(rest, "*") {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			sp = len(rest)
		}
		if n, err := strconv.ParseInt(rest[1:sp], 10, 64); err == nil {
			l.Conn = n
			rest = strings.TrimPrefix(rest[sp:], " ")
		}
	}
	rest = l.trailer(rest)
	if i := strings.LastIndex(rest, ", context: "); i >= 0 && !strings.Contains(rest[i+11:], " ") {
		rest, l.LuaContext = rest[:i], rest[i+11:]
	}
	l.Component, l.ServerPID, l.Message = context(rest)
	return l, nil
}

// trailerKeys are the fields nginx appends to a message, in its order.
var trailerKeys = []string{"client", "server", "subrequest", "request", "upstream", "host", "referrer"}

// trailer takes nginx's ", client: …, server: …" suffix off msg into l and
// returns the message before it.
func (l *Line) trailer(msg string) string {
	start := strings.Index(msg, ", client: ")
	if start < 0 {
		return msg
	}
	head, tail := msg[:start], msg[start:]
	// Cut the tail at each known key, last first, so that a value holding
	// ", x: " for an earlier key cannot confuse a later one.
	vals := map[string]string{}
	for i := len(trailerKeys) - 1; i >= 0; i-- {
		k := ", " + trailerKeys[i] + ": "
		at := strings.LastIndex(tail, k)
		if at < 0 {
			continue
		}
		vals[trailerKeys[i]] = unquote(tail[at+len(k):])
		tail = tail[:at]
	}
	if tail != "" { // something between the message and "client" we do not know
		head += tail
	}
	l.Client, l.Server, l.Request = vals["client"], vals["server"], vals["request"]
	l.Upstream, l.Host, l.Referrer = vals["upstream"], vals["host"], vals["referrer"]
	return head
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// context splits Kong's bracketed context off the front of a message.
func context(msg string) (component string, serverPID int, rest string) {
	if !strings.HasPrefix(msg, "[") {
		return "", 0, msg
	}
	end := strings.IndexByte(msg, ']')
	if end < 0 {
		return "", 0, msg
	}
	tag, rest := msg[1:end], strings.TrimPrefix(msg[end+1:], " ")
	switch {
	case tag == "lua":
		return "lua", 0, rest
	case tag == "kong":
		// "[kong] file.lua:123 [plugin] text" or "[kong] file.lua:123 text"
		if sp := strings.IndexByte(rest, ' '); sp > 0 && strings.Contains(rest[:sp], ".lua:") {
			after := rest[sp+1:]
			if c, pid, r := context(after); c != "" && c != "kong" {
				return c, pid, r
			}
			return "kong", 0, after
		}
		return "kong", 0, rest
	}
	if i := strings.LastIndexByte(tag, ':'); i > 0 {
		if pid, err := strconv.Atoi(tag[i+1:]); err == nil && validName(tag[:i]) {
			return tag[:i], pid, rest
		}
	}
	if validName(tag) {
		return tag, 0, rest
	}
	return "", 0, msg
}

// validName accepts Kong plugin and plugin-server names: letters, digits,
// '-' and '_'.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
