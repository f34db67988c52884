package guard

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// Detector inspects one request view. Implementations must be safe for
// concurrent use and must not keep r or its slices after returning.
type Detector interface {
	Inspect(r *DetectRequest, dst []event.Finding) []event.Finding
}

// DetectRequest is the part of a request that detection reads.
type DetectRequest struct {
	Method, Path, RawQuery string // path and query raw, as sent
	Headers                []Header
	Body                   []byte
	ContentType            string
}

// Engine compiles one Detector per route policy; the rule set itself is
// compiled once per process.
type Engine interface {
	// Rules lists the rule ids the engine knows.
	Rules() []string
	// Detector returns a detector for a paranoia level (1-4) with some
	// rules disabled; every id in disabled is one Rules lists.
	Detector(paranoia int, disabled []string) (Detector, error)
}

// Runtime is what every instance of the guard in one process shares: the
// detection engine, the blocklist, the clock, the counters and the process
// logger. Instances come from Runtime.New.
type Runtime struct {
	engine Engine
	now    func() time.Time
	list   atomic.Pointer[blocklist.List]
	// redactor fingerprints API keys for apikey-fp entries, with the same
	// key as the monitor so that fingerprints from events match.
	redactor atomic.Pointer[redact.Redactor]
	log      atomic.Pointer[slog.Logger]
	stats    Stats
}

// NewRuntime returns a runtime detecting with engine (nil: no signature
// detection, only the blocklist) and reading the time from now (nil:
// time.Now).
func NewRuntime(engine Engine, now func() time.Time) *Runtime {
	if now == nil {
		now = time.Now
	}
	rt := &Runtime{engine: engine, now: now}
	rt.log.Store(slog.New(slog.NewTextHandler(io.Discard, nil)))
	rt.redactor.Store(redact.New(nil, nil))
	return rt
}

// New returns a config for Kong to decode an instance into; it is the
// plugin server's Plugin.New.
func (rt *Runtime) New() any { return &Config{rt: rt} }

// SetBlocklist makes l the list every instance enforces (nil: none).
func (rt *Runtime) SetBlocklist(l *blocklist.List) { rt.list.Store(l) }

// SetFingerprintKey sets the per-deployment key API-key fingerprints are
// computed with (redaction.fingerprint_key_file; the monitor uses the same).
func (rt *Runtime) SetFingerprintKey(key []byte) { rt.redactor.Store(redact.New(nil, key)) }

// SetLogger sets where configuration warnings go (the process log, which
// Kong copies into its error log).
func (rt *Runtime) SetLogger(l *slog.Logger) {
	if l != nil {
		rt.log.Store(l)
	}
}

// Stats returns the runtime's counters.
func (rt *Runtime) Stats() *Stats { return &rt.stats }

// Stats counts what the guard decided and what went wrong. Every field is
// safe to read at any time.
type Stats struct {
	Inspected     atomic.Uint64 // requests read and decided on
	Logged        atomic.Uint64 // requests with findings that went on (monitor mode, or below block_severity)
	Blocked       atomic.Uint64 // requests stopped by a signature
	BlocklistHits atomic.Uint64 // requests stopped by the blocklist
	// Faults by kind: the request was let through (or, with fail_closed,
	// refused with 503) because the guard could not do its work.
	FaultPDK   atomic.Uint64 // a PDK call failed (Kong refused it or the socket broke)
	FaultBody  atomic.Uint64 // the body could not be read
	FaultPanic atomic.Uint64 // the guard's own code panicked (recovered)
}

// Register exports the counters on reg as gatewatch_guard_* metrics.
func (rt *Runtime) Register(reg prometheus.Registerer) error {
	st := &rt.stats
	type counter struct {
		name, help string
		labels     prometheus.Labels
		read       func() uint64
	}
	counters := []counter{
		{"gatewatch_guard_requests_total", "Requests the guard inspected.", nil, st.Inspected.Load},
		{"gatewatch_guard_decisions_total", "Requests with findings, by the action taken.", prometheus.Labels{"action": "logged", "control": "gatewatch-guard"}, st.Logged.Load},
		{"gatewatch_guard_decisions_total", "Requests with findings, by the action taken.", prometheus.Labels{"action": "blocked", "control": "gatewatch-guard"}, st.Blocked.Load},
		{"gatewatch_guard_decisions_total", "Requests with findings, by the action taken.", prometheus.Labels{"action": "blocked", "control": "gatewatch-blocklist"}, st.BlocklistHits.Load},
		{"gatewatch_guard_faults_total", "Requests the guard could not inspect and let through (fail-open), by cause.", prometheus.Labels{"kind": "pdk"}, st.FaultPDK.Load},
		{"gatewatch_guard_faults_total", "Requests the guard could not inspect and let through (fail-open), by cause.", prometheus.Labels{"kind": "body"}, st.FaultBody.Load},
		{"gatewatch_guard_faults_total", "Requests the guard could not inspect and let through (fail-open), by cause.", prometheus.Labels{"kind": "panic"}, st.FaultPanic.Load},
	}
	for _, c := range counters {
		read := c.read
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: c.name, Help: c.help, ConstLabels: c.labels,
		}, func() float64 { return float64(read()) }))
		if err != nil {
			return fmt.Errorf("guard: registering %s: %w", c.name, err)
		}
	}
	err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatewatch_guard_blocklist_entries",
		Help: "Entries in the blocklist this process enforces (expired ones until pruned).",
	}, func() float64 {
		if l := rt.list.Load(); l != nil {
			return float64(l.Matcher().Len())
		}
		return 0
	}))
	if err != nil {
		return fmt.Errorf("guard: registering gatewatch_guard_blocklist_entries: %w", err)
	}
	return nil
}
