package errlog

import (
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// MaxMessage is the longest message an event carries, in bytes.
const MaxMessage = 1024

// Group is a burst of like lines: the first one, classified, and how many
// there were.
type Group struct {
	First    Line
	Category string
	Count    int
	Last     time.Time // time of the last line of the burst
}

// Collapser gathers wanted lines into groups of like lines (same level,
// category, component and message once numbers are masked) until Flush.
// The caller flushes on a fixed cadence (a tumbling window), so a burst
// becomes one event per window with a count, and every line read before a
// flush is in an event after it: that is what makes a saved read position
// exact. It is not safe for concurrent use.
type Collapser struct {
	// MinLevel is the lowest level that becomes an event whatever its
	// category. Default "warn".
	MinLevel string
	// MaxGroups bounds memory: a line that would open one more group is
	// counted in Overflow's group instead. Default 1000.
	MaxGroups int

	groups map[string]*Group
	order  []string
	last   *Group // the group of the last line kept, while the next line may continue it
}

// Add classifies l and, if wanted, counts it into its group. It reports
// whether the line was kept.
func (c *Collapser) Add(l Line) bool {
	cat := Classify(&l)
	min := c.MinLevel
	if min == "" {
		min = "warn"
	}
	c.last = nil
	if !Wanted(&l, cat, min) {
		return false
	}
	if c.groups == nil {
		c.groups = map[string]*Group{}
	}
	k := key(&l, cat)
	g := c.groups[k]
	if g == nil {
		max := c.MaxGroups
		if max == 0 {
			max = 1000
		}
		if len(c.groups) >= max {
			k = "\x00overflow"
			if g = c.groups[k]; g == nil {
				ov := Line{Time: l.Time, Level: l.Level, Message: "more distinct error-log lines than gwctl errlog groups per window; see error.log"}
				g = &Group{First: ov, Category: Other}
				c.groups[k] = g
				c.order = append(c.order, k)
			}
		} else {
			g = &Group{First: l, Category: cat}
			c.groups[k] = g
			c.order = append(c.order, k)
		}
	}
	g.Count++
	g.Last = l.Time
	c.last = g
	return true
}

// Continue appends a continuation line (a Lua traceback) to the message of
// the group the previous entry went into, if it was kept and is still the
// burst's first line, within MaxMessage.
func (c *Collapser) Continue(s string) {
	if g := c.last; g != nil && g.Count == 1 && len(g.First.Message) < MaxMessage {
		g.First.Message += "\n" + s
	}
}

// Pending is the number of open groups.
func (c *Collapser) Pending() int { return len(c.order) }

// Flush returns every group in the order they opened and starts afresh.
func (c *Collapser) Flush() []Group {
	out := make([]Group, 0, len(c.order))
	for _, k := range c.order {
		out = append(out, *c.groups[k])
	}
	c.groups, c.order, c.last = nil, nil, nil
	sort.SliceStable(out, func(i, j int) bool { return out[i].First.Time.Before(out[j].First.Time) })
	return out
}

// key identifies like lines: digits are masked so that "pid 123" and
// "pid 456", or two connection numbers, fall together; clients are not in
// the key, so a refused upstream is one burst whoever asked.
func key(l *Line, cat string) string {
	var b strings.Builder
	b.Grow(len(l.Level) + len(cat) + len(l.Component) + len(l.Message) + 3)
	b.WriteString(l.Level)
	b.WriteByte(0)
	b.WriteString(cat)
	b.WriteByte(0)
	b.WriteString(l.Component)
	b.WriteByte(0)
	digit := false
	for i := 0; i < len(l.Message) && i < MaxMessage; i++ {
		ch := l.Message[i]
		if ch >= '0' && ch <= '9' {
			if !digit {
				b.WriteByte('#')
			}
			digit = true
			continue
		}
		digit = false
		b.WriteByte(ch)
	}
	return b.String()
}

// Event builds the kong.error event of a group. id and nodeID come from
// the caller (no randomness or host lookups here).
func (g *Group) Event(id, nodeID string) event.Event {
	l := &g.First
	e := event.Event{
		SchemaVersion: event.SchemaVersion,
		ID:            id,
		Time:          l.Time,
		Type:          event.KongError,
		Severity:      Severity(l.Level, g.Category),
		Kong:          event.Kong{NodeID: nodeID},
		Client:        event.Client{IP: l.Client},
		Detail: event.Detail{
			Level:     l.Level,
			Category:  g.Category,
			Component: l.Component,
			Message:   clean(l.Message),
			Count:     g.Count,
		},
	}
	e.Request.Host = l.Host
	if method, rest, ok := strings.Cut(l.Request, " "); ok {
		e.Request.Method = method
		path, _, _ := strings.Cut(rest, " ")
		path, query, _ := strings.Cut(path, "?")
		e.Request.Path = path
		if query != "" {
			// The query may carry secrets and gatewatch redacts queries
			// before they leave; error.log gives no way to tell which
			// parameters are which, so it is dropped whole.
			e.Request.Query = "[redacted]"
		}
	}
	return e
}

// clean escapes control characters other than newline and tab and cuts
// the message to MaxMessage bytes on a rune boundary.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 && r != '\n' && r != '\t' || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
		if b.Len() > MaxMessage {
			break
		}
	}
	out := b.String()
	if len(out) > MaxMessage {
		cut := MaxMessage
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut]
	}
	return out
}
