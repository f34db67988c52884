package kongsim

import (
	"sort"
	"sync"
	"time"
)

// Stats is what kongsim measured about external plugins: totals per plugin
// and phase, and one record per proxied request in arrival order.
type Stats struct {
	// Phases has one entry per (plugin, phase) that ran at least once,
	// sorted by plugin then phase.
	Phases []PhaseStats
	// Requests has one record per request, oldest first; at most
	// maxRequestRecords are kept (the oldest are dropped).
	Requests []RequestStats
}

// PhaseStats counts one plugin's work in one phase.
type PhaseStats struct {
	Plugin string
	Phase  string
	// Events is the number of times Kong ran the plugin's handler for
	// this phase; an event retried after a closed connection counts once.
	Events int
	// PDKCalls is the number of PDK calls the plugin made through the
	// bridge, over every attempt (kong.response.exit included).
	PDKCalls int
	// Methods counts PDK calls by dotted method name.
	Methods map[string]int
	// RPCTime is the wall time from connect to the final RpcReturn (or the
	// abandoned exit), summed over events.
	RPCTime time.Duration
}

// RequestStats is one request's record.
type RequestStats struct {
	// ID is Kong's request id, the X-Kong-Request-Id response header
	// (Kong 3.5+; 3.4 sends no such header, the id is still recorded).
	ID     string
	Method string
	Path   string // as the client sent it, with query
	Status int    // status the client got
	// Phases lists the external plugin work for this request in the order
	// it happened. Log-phase entries appear once the log handler finished
	// (use Gateway.WaitIdle first).
	Phases []PhaseStats
}

// Request returns the record with Kong request id id.
func (s Stats) Request(id string) (RequestStats, bool) {
	for _, r := range s.Requests {
		if r.ID == id {
			return r, true
		}
	}
	return RequestStats{}, false
}

// Phase returns the per-request entry for plugin and phase (zero if the
// plugin did not run in that phase).
func (r RequestStats) Phase(plugin, phase string) PhaseStats {
	out := PhaseStats{Plugin: plugin, Phase: phase, Methods: map[string]int{}}
	for _, p := range r.Phases {
		if p.Plugin == plugin && p.Phase == phase {
			out.Events += p.Events
			out.PDKCalls += p.PDKCalls
			out.RPCTime += p.RPCTime
			for m, n := range p.Methods {
				out.Methods[m] += n
			}
		}
	}
	return out
}

// Total returns the totals entry for plugin and phase.
func (s Stats) Total(plugin, phase string) PhaseStats {
	for _, p := range s.Phases {
		if p.Plugin == plugin && p.Phase == phase {
			return p
		}
	}
	return PhaseStats{Plugin: plugin, Phase: phase, Methods: map[string]int{}}
}

// maxRequestRecords bounds memory for long runs of the command.
const maxRequestRecords = 100000

type statsBook struct {
	mu       sync.Mutex
	totals   map[[2]string]*PhaseStats
	requests []*requestRecord
}

type requestRecord struct {
	RequestStats
}

func newStatsBook() *statsBook {
	return &statsBook{totals: map[[2]string]*PhaseStats{}}
}

func (b *statsBook) newRequest(id, method, path string) *requestRecord {
	r := &requestRecord{RequestStats{ID: id, Method: method, Path: path}}
	b.mu.Lock()
	if len(b.requests) >= maxRequestRecords {
		b.requests = append(b.requests[:0], b.requests[len(b.requests)/10:]...)
	}
	b.requests = append(b.requests, r)
	b.mu.Unlock()
	return r
}

func (b *statsBook) setStatus(r *requestRecord, status int) {
	b.mu.Lock()
	r.Status = status
	b.mu.Unlock()
}

// record adds one event's work.
func (b *statsBook) record(r *requestRecord, plugin, phase string, methods []string, d time.Duration) {
	e := PhaseStats{Plugin: plugin, Phase: phase, Events: 1, PDKCalls: len(methods), Methods: map[string]int{}, RPCTime: d}
	for _, m := range methods {
		e.Methods[m]++
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.totals[[2]string{plugin, phase}]
	if t == nil {
		t = &PhaseStats{Plugin: plugin, Phase: phase, Methods: map[string]int{}}
		b.totals[[2]string{plugin, phase}] = t
	}
	t.Events++
	t.PDKCalls += e.PDKCalls
	t.RPCTime += d
	for m, n := range e.Methods {
		t.Methods[m] += n
	}
	if r != nil {
		r.Phases = append(r.Phases, e)
	}
}

func (b *statsBook) snapshot() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s Stats
	for _, t := range b.totals {
		c := *t
		c.Methods = copyCounts(t.Methods)
		s.Phases = append(s.Phases, c)
	}
	sort.Slice(s.Phases, func(i, j int) bool {
		if s.Phases[i].Plugin != s.Phases[j].Plugin {
			return s.Phases[i].Plugin < s.Phases[j].Plugin
		}
		return s.Phases[i].Phase < s.Phases[j].Phase
	})
	s.Requests = make([]RequestStats, len(b.requests))
	for i, r := range b.requests {
		c := r.RequestStats
		c.Phases = make([]PhaseStats, len(r.Phases))
		for j, p := range r.Phases {
			p.Methods = copyCounts(p.Methods)
			c.Phases[j] = p
		}
		s.Requests[i] = c
	}
	return s
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
