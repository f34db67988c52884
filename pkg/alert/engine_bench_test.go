package alert

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// mix is a plausible event stream for one busy gateway: mostly requests
// logged on routes that log all requests, a steady share of auth failures
// and rate limits, some scanning, errors and attacks, from 20 000 clients.
func mix(n int) []event.Event {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]event.Event, n)
	for i := range out {
		e := &out[i]
		e.SchemaVersion, e.ID, e.Severity = 1, fmt.Sprint(i), event.Low
		e.Time = t0.Add(time.Duration(i) * 20 * time.Microsecond) // 50 000 events/s of event time
		e.Client.IP = fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(70), r.IntN(70))
		e.Kong.NodeID = "node-1"
		e.Kong.Route.Name = fmt.Sprintf("route-%d", r.IntN(50))
		e.Kong.Service.Name = fmt.Sprintf("svc-%d", r.IntN(20))
		e.Request.Path = fmt.Sprintf("/api/v1/items/%d", r.IntN(1000))
		switch p := r.IntN(100); {
		case p < 50:
			e.Type, e.Severity = event.RequestLogged, event.Info
		case p < 70:
			e.Type = event.AuthFailure
			e.Detail.Mechanism, e.Detail.Reason = "key-auth", "invalid_credentials"
			e.Detail.Identity = &event.Identity{Kind: "apikey_fingerprint", Value: fmt.Sprintf("%016x", r.IntN(5000))}
		case p < 80:
			e.Type = event.RateLimited
		case p < 86:
			e.Type = event.RouteNotFound
		case p < 92:
			e.Type = event.UpstreamError
		case p < 95:
			e.Type, e.Severity = event.AccessDenied, event.Medium
			e.Detail.Control = "acl"
		case p < 97:
			e.Type, e.Severity = event.AttackDetected, event.High
			e.Detail.Findings = []event.Finding{{RuleID: "942100", Class: "sqli", Severity: event.High}}
		case p < 99:
			e.Type = event.LatencySlow
		default:
			e.Type, e.Severity = event.GatewayError, event.Medium
		}
	}
	return out
}

// BenchmarkEvaluateDefaultRules is the evaluation cost per event with the
// shipped rule set (decoding excluded: see BenchmarkDecodeAndEvaluate).
func BenchmarkEvaluateDefaultRules(b *testing.B) {
	rs, err := Load(defaultRules)
	if err != nil {
		b.Fatal(err)
	}
	evs := mix(1 << 16)
	e := NewEngine(rs)
	out := make([]Alert, 0, 64)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := &evs[i&(len(evs)-1)]
		// Keep event time moving forward across laps of the sample.
		ev.Time = t0.Add(time.Duration(i) * 20 * time.Microsecond)
		out = e.Observe(ev, out[:0])
		if i&4095 == 0 {
			out = e.Advance(ev.Time, out[:0])
		}
	}
	b.StopTimer()
	reportRates(b, cpu0)
}

// cpuTime is the process's user+system CPU time. On a machine shared with
// other work, events per CPU-second is the figure that says what one core
// does; events/s (wall clock) is reported beside it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkDecodeAndEvaluate adds json.Unmarshal of each event, which is
// what gwctl alert does per record.
func BenchmarkDecodeAndEvaluate(b *testing.B) {
	rs, err := Load(defaultRules)
	if err != nil {
		b.Fatal(err)
	}
	evs := mix(1 << 12)
	raw := make([][]byte, len(evs))
	for i := range evs {
		raw[i] = evs[i].AppendJSON(nil)
	}
	e := NewEngine(rs)
	out := make([]Alert, 0, 64)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var ev event.Event
		if err := json.Unmarshal(raw[i&(len(raw)-1)], &ev); err != nil {
			b.Fatal(err)
		}
		ev.Time = t0.Add(time.Duration(i) * 20 * time.Microsecond)
		out = e.Observe(&ev, out[:0])
	}
	b.StopTimer()
	reportRates(b, cpu0)
}

// BenchmarkMemoryPerKey reports heap bytes per tracked group key for the
// default rules' two shapes: a count over 10 buckets (auth-brute-force)
// and a distinct count of up to 10 values (credential-stuffing).
func BenchmarkMemoryPerKey(b *testing.B) {
	rs, err := Load(defaultRules)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"auth-brute-force", "credential-stuffing"} {
		b.Run(name, func(b *testing.B) {
			var rule *Rule
			for _, r := range rs.Rules {
				if r.Name == name {
					rule = r
				}
			}
			one := &RuleSet{File: rs.File, Lateness: time.Hour, MaxKeys: 1 << 30, Rules: []*Rule{rule}}
			const keys = 100_000
			evs := make([]event.Event, keys)
			for i := range evs {
				evs[i] = event.Event{Time: t0, Type: event.AuthFailure, Severity: event.Low,
					Client: event.Client{IP: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)},
					Detail: event.Detail{Reason: "invalid_credentials", Identity: &event.Identity{Kind: "username", Value: fmt.Sprintf("user-%d", i%7)}}}
			}
			b.ReportAllocs()
			var perKey float64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				e := NewEngine(one)
				for j := range evs {
					e.Observe(&evs[j], nil)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if e.Stats()[0].Keys != keys {
					b.Fatalf("tracked %d keys, want %d", e.Stats()[0].Keys, keys)
				}
				perKey = float64(after.HeapAlloc-before.HeapAlloc) / keys
				runtime.KeepAlive(e)
			}
			b.ReportMetric(perKey, "bytes/key")
		})
	}
}
