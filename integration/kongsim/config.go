package kongsim

import (
	"fmt"
	"sort"
	"time"
)

// This file turns a parsed kong.yml into the plugins iterator: validated
// plugin configs, the config JSON external plugins receive, the priority
// order and the lookup of the most specific config.

// loaded is one configuration generation: the plugins iterator.
type loaded struct {
	decl    *declarative
	routes  []*route
	order   []*pluginDef
	entries map[string]map[[3]string]*pluginEntry // name → (route, service, consumer)
}

// load parses kong.yml, validates every plugin config and builds the
// config JSON external plugins receive (§2.4).
func (g *Gateway) load(data []byte, enabled map[string]bool) (*loaded, error) {
	now := time.Now().Unix()
	d, err := parseDeclarative(data, now, func(n string) bool { return enabled[n] })
	if err != nil {
		return nil, err
	}
	l := &loaded{decl: d, routes: routeOrder(d.routes), entries: map[string]map[[3]string]*pluginEntry{}}
	used := map[string]bool{}
	for _, e := range d.plugins {
		def := g.defs[e.name]
		conf, err := validateWith(def.config, e.raw)
		if err != nil {
			return nil, fmt.Errorf("kong.yml: %s: plugin '%s': %w", e.where, e.name, err)
		}
		e.conf = conf
		if !e.enabled {
			continue
		}
		if def.ext != nil {
			if e.confJSON, err = g.instanceConfig(e); err != nil {
				return nil, err
			}
		}
		if l.entries[e.name] == nil {
			l.entries[e.name] = map[[3]string]*pluginEntry{}
		}
		l.entries[e.name][[3]string{e.routeID, e.serviceID, e.consumerID}] = e
		if !used[e.name] {
			used[e.name] = true
			l.order = append(l.order, def)
		}
	}
	sort.SliceStable(l.order, func(i, j int) bool {
		a, b := l.order[i], l.order[j]
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		return a.name > b.name
	})
	return l, nil
}

// instanceConfig is get_plugin_config's table, cjson-encoded.
func (g *Gateway) instanceConfig(e *pluginEntry) ([]byte, error) {
	m := map[string]any{}
	for k, v := range e.conf {
		m[k] = v
	}
	if e.routeID != "" {
		m["route_id"] = e.routeID
	}
	if e.serviceID != "" {
		m["service_id"] = e.serviceID
	}
	if e.consumerID != "" {
		m["consumer_id"] = e.consumerID
	}
	if e.instanceName != "" {
		m["plugin_instance_name"] = e.instanceName
	}
	m["__plugin_id"] = e.id
	m["__ws_id"] = g.wsID
	m["__key__"] = "plugins:" + e.name + ":" + e.routeID + ":" + e.serviceID + ":" + e.consumerID + "::" + g.wsID
	e.seq = g.seq.Add(1)
	m["__seq__"] = float64(e.seq)
	b, err := cjsonEncode(m)
	if err != nil {
		return nil, fmt.Errorf("kong.yml: %s: encode config: %w", e.where, err)
	}
	return b, nil
}

// lookup is lookup_cfg (§3.1): the most specific config for this request.
func (l *loaded) lookup(name string, routeID, serviceID, consumerID string) *pluginEntry {
	m := l.entries[name]
	if m == nil {
		return nil
	}
	try := func(r, s, c string) *pluginEntry { return m[[3]string{r, s, c}] }
	if consumerID != "" {
		if routeID != "" && serviceID != "" {
			if e := try(routeID, serviceID, consumerID); e != nil {
				return e
			}
		}
		if routeID != "" {
			if e := try(routeID, "", consumerID); e != nil {
				return e
			}
		}
		if serviceID != "" {
			if e := try("", serviceID, consumerID); e != nil {
				return e
			}
		}
	}
	if routeID != "" && serviceID != "" {
		if e := try(routeID, serviceID, ""); e != nil {
			return e
		}
	}
	if consumerID != "" {
		if e := try("", "", consumerID); e != nil {
			return e
		}
	}
	if routeID != "" {
		if e := try(routeID, "", ""); e != nil {
			return e
		}
	}
	if serviceID != "" {
		if e := try("", serviceID, ""); e != nil {
			return e
		}
	}
	return try("", "", "")
}
