package alert

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Block is the block action: the group key becomes a blocklist subject for
// TTL.
type Block struct {
	TTL time.Duration
}

// Actions are what a firing alert does.
type Actions struct {
	Notify   []string // receiver names
	Block    *Block
	Annotate bool // record the alert (alerts topic receivers) without paging
}

func (p *parser) parseAnnotations(n *yaml.Node, path string, r *Rule) error {
	m, err := p.mapping(n, path)
	if err != nil {
		return err
	}
	sv, dv, rv := m.get("summary"), m.get("description"), m.get("runbook_url")
	if sv == nil {
		return p.errf(n, m.field("summary"), "required")
	}
	if rv == nil {
		return p.errf(n, m.field("runbook_url"), "required: every alert says what to do (docs/runbooks/%s.md)", r.Name)
	}
	if r.Summary, err = p.str(sv, m.field("summary")); err != nil {
		return err
	}
	if r.summary, err = parseTemplate(r.Summary); err != nil {
		return p.errf(sv, m.field("summary"), "%v", err)
	}
	if dv != nil {
		if r.Description, err = p.str(dv, m.field("description")); err != nil {
			return err
		}
		if r.descr, err = parseTemplate(r.Description); err != nil {
			return p.errf(dv, m.field("description"), "%v", err)
		}
	}
	if r.RunbookURL, err = p.str(rv, m.field("runbook_url")); err != nil || r.RunbookURL == "" {
		return p.errf(rv, m.field("runbook_url"), "expected a URL or repository path")
	}
	return m.unknown()
}

func (p *parser) parseActions(n *yaml.Node, path string, r *Rule, receivers map[string]bool) error {
	m, err := p.mapping(n, path)
	if err != nil {
		return err
	}
	if v := m.get("notify"); v != nil {
		if r.Actions.Notify, err = p.strs(v, m.field("notify")); err != nil {
			return err
		}
		for _, name := range r.Actions.Notify {
			if !receivers[name] {
				return p.errf(v, m.field("notify"), "no receiver named %q in receivers", name)
			}
		}
	}
	if v := m.get("block"); v != nil {
		bm, err := p.mapping(v, m.field("block"))
		if err != nil {
			return err
		}
		b := &Block{TTL: DefaultBlockTTL}
		if tv := bm.get("ttl"); tv != nil {
			if b.TTL, err = p.duration(tv, bm.field("ttl")); err != nil {
				return err
			}
			if b.TTL <= 0 {
				return p.errf(tv, bm.field("ttl"), "must be positive")
			}
		}
		if err := bm.unknown(); err != nil {
			return err
		}
		if r.BlockSubjectKind() == "" {
			return p.errf(v, m.field("block"), "needs group_by to be exactly one of client.ip, client.consumer.id, detail.identity.value (the blocklist subject), got %v", r.GroupBy)
		}
		r.Actions.Block = b
	}
	if v := m.get("annotate"); v != nil {
		if r.Actions.Annotate, err = p.boolean(v, m.field("annotate")); err != nil {
			return err
		}
	}
	if err := m.unknown(); err != nil {
		return err
	}
	if len(r.Actions.Notify) == 0 && r.Actions.Block == nil && !r.Actions.Annotate {
		return p.errf(n, path, "a rule must do something: notify, block or annotate")
	}
	return nil
}
