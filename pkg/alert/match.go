package alert

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
	"gopkg.in/yaml.v3"
)

// Match selects events: by type, by minimum severity, by field conditions
// and optionally by time of day. All given parts must hold.
type Match struct {
	Types           []event.Type
	SeverityAtLeast event.Severity
	// OutsideHours, when set, keeps only events whose UTC time of day is
	// outside [From, To): "a config change outside the change window".
	OutsideHours *Hours

	types uint16 // bit i set: event.Types[i] matches
	conds []condition
}

// Hours is a daily UTC window, minutes since midnight; From > To wraps
// midnight.
type Hours struct{ From, To int }

func (h Hours) contains(t time.Time) bool {
	t = t.UTC()
	m := t.Hour()*60 + t.Minute()
	if h.From <= h.To {
		return m >= h.From && m < h.To
	}
	return m >= h.From || m < h.To
}

// condition is one field test. Exactly one of the operator parts is set;
// negate inverts the result ("not_in", "not_cidr").
type condition struct {
	path     string
	get      getter
	in       []string // equals and in
	prefixes []string
	nets     []netip.Prefix
	negate   bool
}

func (c *condition) holds(e *event.Event) bool {
	v := c.get(e)
	ok := false
	switch {
	case c.in != nil:
		for _, s := range c.in {
			if v == s {
				ok = true
				break
			}
		}
	case c.prefixes != nil:
		for _, s := range c.prefixes {
			if strings.HasPrefix(v, s) {
				ok = true
				break
			}
		}
	case c.nets != nil:
		if a, err := netip.ParseAddr(v); err == nil {
			a = a.Unmap()
			for _, n := range c.nets {
				if n.Contains(a) {
					ok = true
					break
				}
			}
		}
	}
	return ok != c.negate
}

var typeBit = func() map[event.Type]uint16 {
	m := make(map[event.Type]uint16, len(event.Types))
	for i, t := range event.Types {
		m[t] = 1 << i
	}
	return m
}()

// Matches reports whether e is selected.
func (m *Match) Matches(e *event.Event) bool {
	if m.types != 0 && m.types&typeBit[e.Type] == 0 {
		return false
	}
	if m.SeverityAtLeast != "" && e.Severity.Rank() < m.SeverityAtLeast.Rank() {
		return false
	}
	for i := range m.conds {
		if !m.conds[i].holds(e) {
			return false
		}
	}
	if m.OutsideHours != nil && m.OutsideHours.contains(e.Time) {
		return false
	}
	return true
}

// parseMatch reads a match block:
//
//	types: [auth.failure]
//	severity_at_least: low
//	where: {client.ip: {not_cidr: [10.0.0.0/8]}, detail.mechanism: {in: [key-auth]}}
//	outside_hours: "08:00-18:00"
func (p *parser) parseMatch(n *yaml.Node, path string) (Match, error) {
	var m Match
	mp, err := p.mapping(n, path)
	if err != nil {
		return m, err
	}
	if v := mp.get("types"); v != nil {
		names, err := p.strs(v, mp.field("types"))
		if err != nil {
			return m, err
		}
		for _, name := range names {
			bit, ok := typeBit[event.Type(name)]
			if !ok {
				return m, p.errf(v, mp.field("types"), "unknown event type %q (docs/events.md lists them)", name)
			}
			m.types |= bit
			m.Types = append(m.Types, event.Type(name))
		}
	}
	if v := mp.get("severity_at_least"); v != nil {
		s, _ := p.str(v, mp.field("severity_at_least"))
		sev, ok := event.ParseSeverity(s)
		if !ok {
			return m, p.errf(v, mp.field("severity_at_least"), "expected info, low, medium, high or critical, got %s", describe(v))
		}
		m.SeverityAtLeast = sev
	}
	if v := mp.get("where"); v != nil {
		conds, err := p.parseWhere(v, mp.field("where"))
		if err != nil {
			return m, err
		}
		m.conds = conds
	}
	if v := mp.get("outside_hours"); v != nil {
		h, err := p.parseHours(v, mp.field("outside_hours"))
		if err != nil {
			return m, err
		}
		m.OutsideHours = &h
	}
	if err := mp.unknown(); err != nil {
		return m, err
	}
	if m.types == 0 {
		return m, p.errf(n, mp.field("types"), "at least one event type is required")
	}
	return m, nil
}

var operators = []string{"equals", "in", "prefix", "cidr", "not_equals", "not_in", "not_prefix", "not_cidr"}

func (p *parser) parseWhere(n *yaml.Node, path string) ([]condition, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, path, "expected a mapping of field paths to conditions, got %s", describe(n))
	}
	var out []condition
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		field := join(path, key.Value)
		get, ok := fields[key.Value]
		if !ok {
			return nil, p.errf(key, field, "unknown event field (known: %s)", strings.Join(FieldPaths(), ", "))
		}
		ops := deref(n.Content[i+1])
		if ops.Kind != yaml.MappingNode || len(ops.Content) != 2 {
			return nil, p.errf(ops, field, "expected exactly one of %s", strings.Join(operators, ", "))
		}
		op, val := ops.Content[0], deref(ops.Content[1])
		c := condition{path: key.Value, get: get}
		name := op.Value
		if rest, neg := strings.CutPrefix(name, "not_"); neg {
			c.negate, name = true, rest
		}
		opField := join(field, op.Value)
		switch name {
		case "equals":
			s, err := p.str(val, opField)
			if err != nil {
				return nil, err
			}
			c.in = []string{s}
		case "in":
			vs, err := p.strs(val, opField)
			if err != nil {
				return nil, err
			}
			c.in = append([]string{}, vs...)
		case "prefix":
			vs, err := p.strs(val, opField)
			if err != nil {
				return nil, err
			}
			c.prefixes = append([]string{}, vs...)
		case "cidr":
			vs, err := p.strs(val, opField)
			if err != nil {
				return nil, err
			}
			c.nets = []netip.Prefix{}
			for _, s := range vs {
				pf, err := netip.ParsePrefix(s)
				if err != nil {
					return nil, p.errf(val, opField, "not a network in CIDR notation: %q", s)
				}
				c.nets = append(c.nets, pf.Masked())
			}
		default:
			return nil, p.errf(op, opField, "unknown condition (want one of %s)", strings.Join(operators, ", "))
		}
		out = append(out, c)
	}
	// A stable order keeps evaluation order independent of map iteration
	// elsewhere and makes cheap equality tests run first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].nets == nil && out[j].nets != nil })
	return out, nil
}

func (p *parser) parseHours(n *yaml.Node, field string) (Hours, error) {
	bad := p.errf(n, field, "expected a UTC daily window such as \"08:00-18:00\", got %s", describe(n))
	if n.Kind != yaml.ScalarNode {
		return Hours{}, bad
	}
	from, to, ok := strings.Cut(n.Value, "-")
	if !ok {
		return Hours{}, bad
	}
	f, err1 := time.Parse("15:04", strings.TrimSpace(from))
	t, err2 := time.Parse("15:04", strings.TrimSpace(to))
	if err1 != nil || err2 != nil {
		return Hours{}, bad
	}
	h := Hours{From: f.Hour()*60 + f.Minute(), To: t.Hour()*60 + t.Minute()}
	if h.From == h.To {
		return Hours{}, p.errf(n, field, "window %q is empty", n.Value)
	}
	return h, nil
}

func (h Hours) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", h.From/60, h.From%60, h.To/60, h.To%60)
}
