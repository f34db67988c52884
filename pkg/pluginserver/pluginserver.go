// Package pluginserver runs one Kong Go plugin as a Kong 3.x plugin server:
// the "ProtoBuf:1" protocol over a unix socket (kong-reference §2), the
// -dump Kong queries (§1.2), and the process around them (flags, settings,
// signals).
//
// It replaces go-pdk's embedded server (github.com/Kong/go-pdk/server) while
// keeping go-pdk's PDK API (pdk.Init) and protocol types, and it guarantees
// what that server does not (DESIGN.md, "Notes on go-pdk's embedded
// server"):
//   - no global flags: the command line is parsed here, on a private set;
//   - the dump's schema comes from the config struct's json names and kong
//     tags (package kongschema), with defaults, one_of, between, required;
//   - closing an instance removes that instance only;
//   - a handler panic is recovered per event, logged through kong.log.err
//     when the connection is still in a consistent state, counted, and the
//     request goes on (fail-open);
//   - SIGTERM and SIGINT stop accepting, let in-flight events finish
//     (bounded), run the process's stop hook and remove the socket file;
//   - frames are buffered and flushed once before each read, so a PDK call
//     costs one write and one read system call instead of several.
//
// On everything Kong can observe it behaves as go-pdk v0.11.2 does: frames,
// sequence echo, instance ids (__seq__ when non-zero), the "---" name in
// close replies, and a connection closed without a reply when an event names
// an unknown instance or phase (Kong then restarts the instance and retries).
package pluginserver

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"sync/atomic"

	"github.com/Kong/go-pdk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewatch/gatewatch/pkg/config"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema"
)

// Plugin describes the one plugin a server runs.
type Plugin struct {
	Name     string // = binary name = Kong plugin name
	Version  string // x.y.z
	Priority int
	// New returns a pointer to a fresh config struct. Its handler methods,
	// Certificate, Rewrite, Access, Response, Preread and Log, each taking a
	// *pdk.PDK, decide the phases. If it also has a method Prepare() error,
	// that runs once after Kong's config was decoded into it; an error
	// refuses the instance. New is also called once before Start runs, to
	// derive the schema and phases, so it must not use what Start builds
	// (storing a pointer to it for later is fine).
	New func() any
}

// Hooks are the process-wide parts a plugin server adds around the plugin.
type Hooks struct {
	// Start runs once after config is loaded and before the socket is served;
	// it builds process-wide resources (publisher, metrics…) and returns a
	// stop function called on SIGTERM/SIGINT after the listener closed and
	// in-flight events finished (it flushes queues). Start may be nil.
	// ctx is cancelled as soon as the stop signal arrives, before the drain;
	// stop gets its own context with a deadline.
	Start func(ctx context.Context, proc *config.Process, logger *slog.Logger) (stop func(context.Context) error, err error)
	// Registerer, when set, receives the server's metrics
	// (gatewatch_plugin_panics_total and friends).
	Registerer prometheus.Registerer
}

// Stats counts what the server did. All fields are safe to read at any time.
type Stats struct {
	Events           atomic.Uint64 // events handed to a handler
	Panics           atomic.Uint64 // handler panics recovered
	InstancesStarted atomic.Uint64
	InstancesClosed  atomic.Uint64
	// Refused counts calls answered by closing the connection: unknown
	// instance or phase, undecodable config, undecodable frame.
	Refused atomic.Uint64
}

// Phase names in the order go-pdk lists them in a dump.
var phaseOrder = []string{"certificate", "rewrite", "access", "response", "preread", "log"}

type handler = func(*pdk.PDK)

// handlers returns the phase handlers a config value implements.
func handlers(cfg any) map[string]handler {
	hs := make(map[string]handler, 2)
	if h, ok := cfg.(interface{ Certificate(*pdk.PDK) }); ok {
		hs["certificate"] = h.Certificate
	}
	if h, ok := cfg.(interface{ Rewrite(*pdk.PDK) }); ok {
		hs["rewrite"] = h.Rewrite
	}
	if h, ok := cfg.(interface{ Access(*pdk.PDK) }); ok {
		hs["access"] = h.Access
	}
	if h, ok := cfg.(interface{ Response(*pdk.PDK) }); ok {
		hs["response"] = h.Response
	}
	if h, ok := cfg.(interface{ Preread(*pdk.PDK) }); ok {
		hs["preread"] = h.Preread
	}
	if h, ok := cfg.(interface{ Log(*pdk.PDK) }); ok {
		hs["log"] = h.Log
	}
	return hs
}

// compiled is a Plugin checked once, with what every instance shares.
type compiled struct {
	Plugin
	schema *kongschema.Schema
	phases []string
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	versionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)
)

// compile checks p the way Kong will (kong-reference §1.2) and derives its
// schema and phases.
func compile(p Plugin) (*compiled, error) {
	if !nameRE.MatchString(p.Name) {
		return nil, fmt.Errorf("pluginserver: plugin name %q: want lower-case letters, digits, '-' and '_'", p.Name)
	}
	if !versionRE.MatchString(p.Version) {
		return nil, fmt.Errorf("pluginserver: plugin %s: version %q does not follow the x.y.z format Kong requires", p.Name, p.Version)
	}
	if p.New == nil {
		return nil, fmt.Errorf("pluginserver: plugin %s: New is nil", p.Name)
	}
	sample := p.New()
	if v := reflect.ValueOf(sample); !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("pluginserver: plugin %s: New must return a non-nil pointer to a struct, got %T", p.Name, sample)
	}
	schema, err := kongschema.Generate(p.Name, sample)
	if err != nil {
		return nil, fmt.Errorf("pluginserver: plugin %s: %w", p.Name, err)
	}
	hs := handlers(sample)
	var phases []string
	for _, ph := range phaseOrder {
		if hs[ph] != nil {
			phases = append(phases, ph)
		}
	}
	if len(phases) == 0 {
		return nil, fmt.Errorf("pluginserver: plugin %s: config type %T has no phase handler (Access, Log, …)", p.Name, sample)
	}
	return &compiled{Plugin: p, schema: schema, phases: phases}, nil
}
