package alert

import (
	"gopkg.in/yaml.v3"
)

// ThresholdKind says how a window's value is computed.
type ThresholdKind int

// Threshold kinds.
const (
	ThresholdCount    ThresholdKind = iota // matching events in the window
	ThresholdDistinct                      // distinct values of Field among them
	ThresholdRatio                         // matching events / events matching Of
)

// Threshold decides when a group key's window fires.
type Threshold struct {
	Kind ThresholdKind
	// Count: fire at Value or more events (count) or distinct values
	// (distinct).
	Value float64
	Field string // distinct: the field counted
	// Ratio: fire when matching/of ≥ Value and of ≥ MinTotal.
	Of       Match
	MinTotal int

	fieldGet getter
}

func (p *parser) parseThreshold(n *yaml.Node, path string) (Threshold, error) {
	var t Threshold
	m, err := p.mapping(n, path)
	if err != nil {
		return t, err
	}
	count, distinct, ratio := m.get("count"), m.get("distinct"), m.get("ratio")
	set := 0
	for _, v := range []*yaml.Node{count, distinct, ratio} {
		if v != nil {
			set++
		}
	}
	if set != 1 {
		return t, p.errf(n, path, "expected exactly one of count, distinct or ratio")
	}
	switch {
	case count != nil:
		c, err := p.positiveInt(count, m.field("count"))
		if err != nil {
			return t, err
		}
		t.Kind, t.Value = ThresholdCount, float64(c)
	case distinct != nil:
		dm, err := p.mapping(distinct, m.field("distinct"))
		if err != nil {
			return t, err
		}
		fv, cv := dm.get("field"), dm.get("count")
		if fv == nil || cv == nil {
			return t, p.errf(distinct, dm.path, "expected field and count")
		}
		t.Field = fv.Value
		if t.fieldGet = fields[t.Field]; t.fieldGet == nil {
			return t, p.errf(fv, dm.field("field"), "unknown event field %q", t.Field)
		}
		c, err := p.positiveInt(cv, dm.field("count"))
		if err != nil {
			return t, err
		}
		t.Kind, t.Value = ThresholdDistinct, float64(c)
		if err := dm.unknown(); err != nil {
			return t, err
		}
	case ratio != nil:
		rm, err := p.mapping(ratio, m.field("ratio"))
		if err != nil {
			return t, err
		}
		ov, av, mv := rm.get("of"), rm.get("at_least"), rm.get("min_total")
		if ov == nil || av == nil {
			return t, p.errf(ratio, rm.path, "expected of (a match), at_least and optionally min_total")
		}
		if t.Of, err = p.parseMatch(ov, rm.field("of")); err != nil {
			return t, err
		}
		if t.Value, err = p.float(av, rm.field("at_least")); err != nil {
			return t, err
		}
		if t.Value <= 0 || t.Value > 1 {
			return t, p.errf(av, rm.field("at_least"), "expected a share in (0, 1], got %s", av.Value)
		}
		t.MinTotal = 1
		if mv != nil {
			if t.MinTotal, err = p.positiveInt(mv, rm.field("min_total")); err != nil {
				return t, err
			}
		}
		t.Kind = ThresholdRatio
		if err := rm.unknown(); err != nil {
			return t, err
		}
	}
	return t, m.unknown()
}
