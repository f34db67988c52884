package pluginserver

import (
	"encoding/json"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema"
)

// Protocol is the plugin-server protocol Kong selects from the dump.
const Protocol = "ProtoBuf:1"

type dumpInfo struct {
	Protocol string
	Plugins  []dumpPlugin
}

type dumpPlugin struct {
	Name     string
	Priority int
	Version  string
	Phases   []string
	Schema   *kongschema.Schema
}

// Dump returns the JSON Kong 3.x reads from `<binary> -dump`
// (kong-reference §1.2): Protocol "ProtoBuf:1" and one plugin with Name,
// Priority, Version, Phases and Schema. It fails on a plugin Kong would
// refuse and on invalid kong tags.
func Dump(p Plugin) ([]byte, error) {
	c, err := compile(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(dumpInfo{
		Protocol: Protocol,
		Plugins: []dumpPlugin{{
			Name:     c.Name,
			Priority: c.Priority,
			Version:  c.Version,
			Phases:   c.phases,
			Schema:   c.schema,
		}},
	})
}
