package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/integration/kongsim"
)

// reqRec is what the harness keeps of one request kongsim served.
type reqRec struct {
	tmpl      int32 // template index, -1 if the path is not one of ours
	status    int16
	gwLogPDK  uint8 // PDK calls of the gatewatch log handler (0: it never reached the server)
	scanBurst bool
}

// harvester copies kongsim's per-request records before its window (the
// newest 100 000) drops them, in arrival order.
type harvester struct {
	mu     sync.Mutex
	gw     *kongsim.Gateway
	index  map[string]int32 // request id → position
	recs   []reqRec
	ids    []string
	byPath map[string]int32
	burst  map[string]bool
	lost   int // records that left kongsim's window before being seen
}

func newHarvester(gw *kongsim.Gateway, byPath map[string]int32, burst map[string]bool) *harvester {
	return &harvester{gw: gw, index: map[string]int32{}, byPath: byPath, burst: burst}
}

// poll takes a snapshot and merges it; it returns the number of requests
// seen so far.
func (h *harvester) poll() int {
	st := h.gw.Stats()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(st.Requests) > 0 && len(h.recs) > 0 {
		if _, ok := h.index[st.Requests[0].ID]; !ok {
			h.lost++ // the oldest record in the window is new to us: some were dropped unseen
		}
	}
	for _, r := range st.Requests {
		rec := reqRec{tmpl: -1, status: int16(r.Status)}
		if i, ok := h.byPath[r.Path]; ok {
			rec.tmpl = i
		}
		rec.scanBurst = h.burst[r.Path]
		n := r.Phase("gatewatch", "log").PDKCalls
		if n > 255 {
			n = 255
		}
		rec.gwLogPDK = uint8(n)
		if i, ok := h.index[r.ID]; ok {
			h.recs[i] = rec
			continue
		}
		h.index[r.ID] = int32(len(h.recs))
		h.recs = append(h.recs, rec)
		h.ids = append(h.ids, r.ID)
	}
	return len(h.recs)
}

func (h *harvester) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.recs)
}

// received is what the reconciling consumer read.
type received struct {
	mu sync.Mutex
	// events by id
	events     map[string]*evRec
	records    int
	badRecords int
	// alerts: firing records by alert id
	alertFirings map[string][]alertRec
	alertRecords int
	// next offset per topic/partition: a record below it is this
	// consumer reading again (a reset after a leader change), not a
	// duplicate in the topic.
	next    map[string]int64
	rereads int
}

type evRec struct {
	Type      string
	RequestID string
	Control   string
	Severity  string
	Service   string
	Dropped   int
	Total     int64
	Component string
	Reason    string
	copies    int
}

type alertRec struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Rule     string `json:"rule"`
	GroupKey string `json:"group_key"`
	StartsAt string `json:"starts_at"`
}

type wireEvent struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Severity string `json:"severity"`
	Kong     struct {
		Service struct {
			Name string `json:"name"`
		} `json:"service"`
	} `json:"kong"`
	Request struct {
		ID string `json:"id"`
	} `json:"request"`
	Detail struct {
		Control   string `json:"control"`
		Dropped   int    `json:"dropped"`
		Total     int64  `json:"dropped_total"`
		Component string `json:"component"`
		Reason    string `json:"reason"`
	} `json:"detail"`
}

// consume reads the events and alerts topics from the start until ctx
// ends.
func consume(ctx context.Context, brokers []string, rcv *received, log *lockedFile) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics("gatewatch.events", "gatewatch.alerts"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				log.Printf("consumer: fetch %s/%d: %v", t, p, err)
			}
		})
		rcv.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if n, ok := rcv.next[tp]; ok && r.Offset < n {
				rcv.rereads++
				return
			}
			rcv.next[tp] = r.Offset + 1
			switch r.Topic {
			case "gatewatch.events":
				rcv.records++
				var w wireEvent
				if err := json.Unmarshal(r.Value, &w); err != nil || w.ID == "" {
					rcv.badRecords++
					return
				}
				if e := rcv.events[w.ID]; e != nil {
					e.copies++
					return
				}
				rcv.events[w.ID] = &evRec{Type: w.Type, RequestID: w.Request.ID, Control: w.Detail.Control, Severity: w.Severity,
					Service: w.Kong.Service.Name, Dropped: w.Detail.Dropped, Total: w.Detail.Total, Component: w.Detail.Component,
					Reason: w.Detail.Reason, copies: 1}
			case "gatewatch.alerts":
				rcv.alertRecords++
				var a alertRec
				if err := json.Unmarshal(r.Value, &a); err != nil {
					rcv.badRecords++
					return
				}
				if a.Status == "firing" {
					rcv.alertFirings[a.ID] = append(rcv.alertFirings[a.ID], a)
				}
			}
		})
		rcv.mu.Unlock()
	}
	return nil
}

func (r *received) counts() (records, unique int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records, len(r.events)
}

// expectedTypes is the reconciliation rule: what gatewatch must publish
// for one request, from the status kongsim served and whether the
// detection engine flags the request.
func expectedTypes(status int, attack bool) []string {
	var out []string
	if attack {
		out = append(out, "attack.detected")
	}
	switch status {
	case 401:
		out = append(out, "auth.failure")
	case 403:
		out = append(out, "access.denied")
	case 429:
		out = append(out, "rate.limited")
	case 404:
		out = append(out, "route.not_found")
	case 500, 502, 503, 504:
		out = append(out, "gateway.error")
	}
	return out
}

// window is a range of request positions [from, to) attributed to a fault.
type window struct {
	name     string
	from, to int
	// explains: a loss in it has a documented cause; otherwise the
	// window only attributes duplicates.
	explains bool
}

func (w window) has(i int) bool { return i >= w.from && i < w.to }

// reconciliation is the outcome of matching events to requests.
type reconciliation struct {
	Requests          int
	ByStatus          map[int]int
	ByKind            [numKinds]int
	Foreign           int // requests whose path is not in the mix
	Expected          int
	ReceivedMatched   int // expected events received (unique ids)
	ReceivedTotal     int // unique event ids
	Records           int // records read (duplicates included)
	Duplicates        int // records beyond the first per id
	DupByWindow       map[string]int
	Rereads           int // records the consumer read twice at one offset (not duplicates)
	Unexpected        int // events for a request of a type not expected, or for an unknown request
	UnexpectedSamples []string
	DroppedEvents     int // gatewatch.dropped events received
	DroppedReported   int // per reporting process, its highest detail.dropped_total (the sum of detail.dropped without one), added up
	MissingNoHandler  int // expected, but the gatewatch log handler never reached the server (restart gap)
	MissingByWindow   map[string]int
	MissingUnexplain  int
	MissingSamples    []string
	ByType            map[string][2]int // type → expected, received
}

// reconcile matches the events read with the requests from position from
// on (the earlier ones are the benign latency baseline: they expect no
// event, and any event they got counts as unexpected).
func reconcile(h *harvester, ts []template, rcv *received, windows []window, from int) reconciliation {
	h.mu.Lock()
	defer h.mu.Unlock()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rc := reconciliation{Requests: len(h.recs) - from, ByStatus: map[int]int{}, DupByWindow: map[string]int{}, MissingByWindow: map[string]int{}, ByType: map[string][2]int{}}
	got := map[string][]*evRec{}   // request id → received events
	maxTotal := map[string]int64{} // reporting process → its highest running total
	for id, e := range rcv.events {
		rc.ReceivedTotal++
		rc.Duplicates += e.copies - 1
		if e.Type == "gatewatch.dropped" {
			rc.DroppedEvents++
			if e.Total > 0 {
				maxTotal[e.Component] = max(maxTotal[e.Component], e.Total)
			} else {
				rc.DroppedReported += e.Dropped
			}
			continue
		}
		if e.RequestID == "" {
			rc.Unexpected++
			if len(rc.UnexpectedSamples) < 5 {
				rc.UnexpectedSamples = append(rc.UnexpectedSamples, fmt.Sprintf("%s %s without request id", id, e.Type))
			}
			continue
		}
		got[e.RequestID] = append(got[e.RequestID], e)
	}
	rc.Records = rcv.records
	rc.Rereads = rcv.rereads
	for i, r := range h.recs {
		if i < from {
			delete(got, h.ids[i]) // the baseline's (benign) requests
			continue
		}
		rc.ByStatus[int(r.status)]++
		if r.tmpl < 0 {
			rc.Foreign++
			continue
		}
		t := ts[r.tmpl]
		rc.ByKind[t.kind]++
		exp := expectedTypes(int(r.status), t.attack)
		types := got[h.ids[i]]
		delete(got, h.ids[i])
		for _, e := range types {
			if e.copies > 1 {
				name := "elsewhere"
				for _, w := range windows {
					if w.has(i) {
						name = w.name
						break
					}
				}
				rc.DupByWindow[name] += e.copies - 1
			}
		}
		for _, want := range exp {
			rc.Expected++
			bt := rc.ByType[want]
			bt[0]++
			found := -1
			for j, g := range types {
				if g.Type == want {
					found = j
					break
				}
			}
			if found >= 0 {
				rc.ReceivedMatched++
				bt[1]++
				types = append(types[:found], types[found+1:]...)
				rc.ByType[want] = bt
				continue
			}
			rc.ByType[want] = bt
			switch {
			case r.gwLogPDK == 0:
				rc.MissingNoHandler++
			default:
				explained := false
				for _, w := range windows {
					if w.explains && w.has(i) {
						rc.MissingByWindow[w.name]++
						explained = true
						break
					}
				}
				if !explained {
					rc.MissingUnexplain++
					if len(rc.MissingSamples) < 10 {
						rc.MissingSamples = append(rc.MissingSamples, fmt.Sprintf("#%d %s %s status %d: no %s", i, h.ids[i], t.path, r.status, want))
					}
				}
			}
		}
		for _, extra := range types {
			rc.Unexpected++
			if len(rc.UnexpectedSamples) < 5 {
				rc.UnexpectedSamples = append(rc.UnexpectedSamples, fmt.Sprintf("%s %s status %d: unexpected %s", h.ids[i], t.path, r.status, extra.Type))
			}
		}
	}
	for id, types := range got {
		rc.Unexpected += len(types)
		if len(rc.UnexpectedSamples) < 5 {
			rc.UnexpectedSamples = append(rc.UnexpectedSamples, fmt.Sprintf("request %s (not in kongsim's records): %d events, first %s", id, len(types), types[0].Type))
		}
	}
	for _, t := range maxTotal {
		rc.DroppedReported += int(t)
	}
	return rc
}

// alertRule mirrors one rule of the soak's rule file, to compute which
// alerts must fire from the events received.
type alertRule struct {
	name      string
	match     func(e *evRec) bool
	key       func(e *evRec) string
	threshold int
}

// soakRules is the rule file gwctl alert runs in the soak: the default
// rules' shapes, with windows longer than the run (so that every alert
// fires once and stays firing) and no block action (all load comes from
// 127.0.0.1; a block would end the soak).
const soakRules = `# generated by integration/soak: windows longer than the run, no block actions.
lateness: 1h
receivers:
  - name: alerts-topic
    type: kafka
    topic: gatewatch.alerts
rules:
  - name: soak-auth-failures
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 1h
    resolution: 6m
    threshold: {count: 20}
    annotations: {summary: "auth failures", runbook_url: docs/runbooks/auth-brute-force.md}
    actions: {notify: [alerts-topic]}
  - name: soak-acl-denials
    match:
      types: [access.denied]
      where:
        detail.control: {equals: acl}
    group_by: [client.ip]
    window: 1h
    resolution: 6m
    threshold: {count: 10}
    annotations: {summary: "acl denials", runbook_url: docs/runbooks/acl-denials.md}
    actions: {notify: [alerts-topic]}
  - name: soak-guard-blocks
    match:
      types: [access.denied]
      where:
        detail.control: {equals: gatewatch-guard}
    group_by: [client.ip]
    window: 1h
    resolution: 6m
    threshold: {count: 5}
    annotations: {summary: "guard blocks", runbook_url: docs/runbooks/attack-signature.md}
    actions: {notify: [alerts-topic]}
  - name: soak-rate-limited
    match: {types: [rate.limited]}
    group_by: [client.ip]
    window: 1h
    resolution: 6m
    threshold: {count: 100}
    annotations: {summary: "rate limited", runbook_url: docs/runbooks/rate-limit-abuse.md}
    actions: {notify: [alerts-topic]}
  - name: soak-attack
    match: {types: [attack.detected], severity_at_least: high}
    group_by: [client.ip]
    window: 1h
    resolution: 6m
    threshold: {count: 1}
    annotations: {summary: "attack", runbook_url: docs/runbooks/attack-signature.md}
    actions: {notify: [alerts-topic]}
  - name: soak-scanning
    match: {types: [route.not_found]}
    group_by: [client.ip]
    window: 1h
    resolution: 6m
    threshold: {count: 30}
    annotations: {summary: "scanning", runbook_url: docs/runbooks/scanning-not-found.md}
    actions: {notify: [alerts-topic]}
  - name: soak-gateway-errors
    match: {types: [gateway.error]}
    group_by: [kong.service.name]
    window: 1h
    resolution: 6m
    threshold: {count: 1}
    annotations: {summary: "gateway errors", runbook_url: docs/runbooks/gateway-error-burst.md}
    actions: {notify: [alerts-topic]}
  - name: soak-events-dropped
    match: {types: [gatewatch.dropped]}
    group_by: [type]
    window: 1h
    resolution: 6m
    threshold: {count: 1}
    annotations: {summary: "events dropped", runbook_url: docs/runbooks/events-dropped.md}
    actions: {notify: [alerts-topic]}
`

var sevRank = map[string]int{"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

var soakRuleDefs = []alertRule{
	{"soak-auth-failures", func(e *evRec) bool { return e.Type == "auth.failure" }, nil, 20},
	{"soak-acl-denials", func(e *evRec) bool { return e.Type == "access.denied" && e.Control == "acl" }, nil, 10},
	{"soak-guard-blocks", func(e *evRec) bool { return e.Type == "access.denied" && e.Control == "gatewatch-guard" }, nil, 5},
	{"soak-rate-limited", func(e *evRec) bool { return e.Type == "rate.limited" }, nil, 100},
	{"soak-attack", func(e *evRec) bool { return e.Type == "attack.detected" && sevRank[e.Severity] >= 4 }, nil, 1},
	{"soak-scanning", func(e *evRec) bool { return e.Type == "route.not_found" }, nil, 30},
	{"soak-gateway-errors", func(e *evRec) bool { return e.Type == "gateway.error" }, func(e *evRec) string { return e.Service }, 1},
	{"soak-events-dropped", func(e *evRec) bool { return e.Type == "gatewatch.dropped" }, func(e *evRec) string { return e.Type }, 1},
}

// alertOutcome compares the alerts fired with those the events call for.
type alertOutcome struct {
	Expected      []string // rule/key
	Fired         []string // rule/key of distinct alert ids
	FiringRecords int      // firing records (a re-delivered record counts again)
	Refired       []string // alert ids with more than one distinct starts_at
	Missing       []string
	Unexpected    []string
}

func compareAlerts(rcv *received) alertOutcome {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var o alertOutcome
	want := map[string]bool{}
	for _, r := range soakRuleDefs {
		counts := map[string]int{}
		for _, e := range rcv.events {
			if !r.match(e) {
				continue
			}
			k := "127.0.0.1"
			if r.key != nil {
				k = r.key(e)
			}
			if k == "" {
				continue
			}
			counts[k]++
		}
		for k, n := range counts {
			if n >= r.threshold {
				want[r.name+"/"+k] = true
			}
		}
	}
	got := map[string]bool{}
	for id, fs := range rcv.alertFirings {
		o.FiringRecords += len(fs)
		starts := map[string]bool{}
		for _, f := range fs {
			starts[f.StartsAt] = true
		}
		if len(starts) > 1 {
			o.Refired = append(o.Refired, id)
		}
		got[fs[0].Rule+"/"+fs[0].GroupKey] = true
	}
	for k := range want {
		o.Expected = append(o.Expected, k)
		if !got[k] {
			o.Missing = append(o.Missing, k)
		}
	}
	for k := range got {
		o.Fired = append(o.Fired, k)
		if !want[k] {
			o.Unexpected = append(o.Unexpected, k)
		}
	}
	sortAll(o.Expected, o.Fired, o.Missing, o.Unexpected, o.Refired)
	return o
}
