package soak

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

const (
	killWindow  = "SIGKILL of bin/gatewatch (memory buffer, documented)"
	termWindow  = "SIGTERM of bin/gatewatch (config change)"
	quotaWindow = "tiny spool quota (spool_full)"
)

type faults struct {
	s        *stack
	h        *harvester
	log      *lockedFile
	start    time.Time
	progress func(string, ...any)
	done     []Fault
}

func (f *faults) record(name, result string, err error, at time.Duration) {
	f.done = append(f.done, Fault{At: at, Name: name, Result: result, Err: err})
	msg := result
	if err != nil {
		msg += " — ERROR: " + err.Error()
	}
	f.log.Printf("fault %q at %s: %s", name, at.Round(time.Millisecond), msg)
	f.progress("fault at %5.1fs: %s: %s", at.Seconds(), name, msg)
}

// sleepUntil waits until offset d from the start of the main run.
func (f *faults) sleepUntil(ctx context.Context, d time.Duration) {
	if w := time.Until(f.start.Add(d)); w > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(w):
		}
	}
}

func (f *faults) now() time.Duration { return time.Since(f.start) }

// schedule injects every fault, in order, during the first part of the
// main run, and returns the request windows each explained loss may fall
// in. The rest of the run is steady (memory is measured there).
func (f *faults) schedule(ctx context.Context, cfg Config, burstScript string, rep *Report) []window {
	var windows []window
	s := f.s
	scale := func(short, full time.Duration) time.Duration {
		if cfg.Main >= 5*time.Minute {
			return full
		}
		return short
	}

	// 1. A scanning burst of unknown paths, beside the mix.
	f.sleepUntil(ctx, scale(3*time.Second, 10*time.Second))
	at := f.now()
	burst, err := runWrk(ctx, burstScript, s.gw.URL(), 1, 4, scale(3*time.Second, 10*time.Second), nil, f.log)
	rep.Burst = burst
	f.record("scanning burst (wrk, 300 unknown paths)", fmt.Sprintf("%d requests in %s", burst.Requests, burst.Duration.Round(time.Millisecond)), err, at)

	// 2. A broker restart: node 2 leaves (listener closed, leaders move)
	// and comes back on the same port.
	f.sleepUntil(ctx, scale(8*time.Second, 30*time.Second))
	at = f.now()
	rw := window{name: "broker restart"}
	rw.from = f.h.poll()
	_, portStr, _ := net.SplitHostPort(s.brokers[2])
	port, _ := strconv.Atoi(portStr)
	err = s.cluster.RemoveNode(2)
	if err == nil {
		time.Sleep(3 * time.Second)
		_, _, err = s.cluster.AddNode(2, port)
	}
	time.Sleep(time.Second)
	rw.to = f.h.poll()
	windows = append(windows, rw)
	f.record("broker restart (node 2 removed, re-added on port "+portStr+" after 3 s)", "leaders reshuffled twice", err, at)

	// 3. A broker outage for producers; SIGKILL of bin/gatewatch in the
	// middle of it: the respawned process must replay the spool.
	f.sleepUntil(ctx, scale(14*time.Second, 60*time.Second))
	at = f.now()
	ow := window{name: "broker outage (spooled, replayed)"}
	ow.from = f.h.poll()
	s.outage.Store(true)
	time.Sleep(cfg.Outage / 2)
	kw := window{name: killWindow, explains: true}
	kw.from = f.h.poll()
	time.Sleep(time.Second)
	oldPID := s.gw.PluginServerPIDs()["gatewatch"]
	killAt := f.now()
	if oldPID == 0 {
		err = fmt.Errorf("no gatewatch pid")
	} else {
		err = syscall.Kill(oldPID, syscall.SIGKILL)
	}
	var newPID int
	if err == nil {
		newPID, err = s.waitServer("gatewatch", oldPID, 15*time.Second)
	}
	time.Sleep(time.Second)
	kw.to = f.h.poll()
	windows = append([]window{kw}, windows...)
	f.record("SIGKILL of bin/gatewatch during the outage", fmt.Sprintf("pid %d killed, respawned as %d after %s", oldPID, newPID, (f.now()-killAt).Round(time.Millisecond)), err, killAt)
	if rest := cfg.Outage - (f.now() - at); rest > 0 {
		time.Sleep(rest)
	}
	s.outage.Store(false)
	outageLen := f.now() - at
	err = s.waitDrained(60 * time.Second)
	ow.to = f.h.poll()
	windows = append(windows, ow)
	f.record("broker outage (every produce refused, connection closed)", fmt.Sprintf("%s; spool replayed and empty %s after", outageLen.Round(time.Millisecond), (f.now()-at-outageLen).Round(time.Millisecond)), err, at)

	// 4. SIGTERM of the guard; kongsim restarts it (requests in the gap
	// get Kong's 500, which become gateway.error events).
	at = f.now()
	gpid := s.gw.PluginServerPIDs()["gatewatch-guard"]
	err = syscall.Kill(gpid, syscall.SIGTERM)
	var gnew int
	if err == nil {
		gnew, err = s.waitServer("gatewatch-guard", gpid, 15*time.Second)
	}
	f.record("SIGTERM of bin/gatewatch-guard", fmt.Sprintf("pid %d stopped, restarted as %d after %s", gpid, gnew, (f.now()-at).Round(time.Millisecond)), err, at)

	// 5. A config reload changing a plugin's config: the guard goes from
	// monitor to block mode (new instances, §2.6); attack payloads are
	// refused from now on.
	time.Sleep(2 * time.Second)
	at = f.now()
	yml, err := kongYML(f.s.root, s.upstream.URL, "block")
	if err == nil {
		err = s.gw.Reload(yml)
	}
	f.record("kongsim reload: gatewatch-guard mode monitor → block", "new plugin instances", err, at)

	// 6. A tiny spool quota: the monitor's config gets spool.max_bytes
	// 256 KiB, it is restarted (SIGTERM) to read it, and the brokers go
	// away again: the spool overflows and drops its oldest records.
	time.Sleep(2 * time.Second)
	at = f.now()
	tw := window{name: termWindow, explains: true}
	tw.from = f.h.poll()
	err = os.WriteFile(s.monitorConf, []byte(monitorYAML(s.brokers, s.spoolDir, 256<<10, s.monitorMetric, s.dir)), 0o600)
	mpid := s.gw.PluginServerPIDs()["gatewatch"]
	if err == nil {
		err = syscall.Kill(mpid, syscall.SIGTERM)
	}
	var mnew int
	if err == nil {
		mnew, err = s.waitServer("gatewatch", mpid, 15*time.Second)
	}
	time.Sleep(500 * time.Millisecond)
	tw.to = f.h.poll()
	windows = append(windows, tw)
	f.record("SIGTERM of bin/gatewatch to load spool.max_bytes 256 KiB", fmt.Sprintf("pid %d stopped, restarted as %d", mpid, mnew), err, at)
	// Events of the last second before the outage may still be in the
	// buffer or in flight when it starts, and be spooled (and dropped).
	qw := window{name: quotaWindow, explains: true}
	qw.from = f.h.poll()
	time.Sleep(time.Second)
	at = f.now()
	s.outage.Store(true)
	time.Sleep(cfg.QuotaOutage)
	s.outage.Store(false)
	err = s.waitDrained(60 * time.Second)
	time.Sleep(1500 * time.Millisecond) // the last drop report
	qw.to = f.h.poll()
	windows = append(windows, qw)
	for _, w := range windows {
		f.log.Printf("window %q: requests #%d to #%d", w.name, w.from, w.to)
	}
	dropped := -1.0
	if m, merr := scrape(s.monitorMetric); merr == nil {
		dropped = m[`gatewatch_publish_dropped_total{reason="spool_full"}`]
	}
	f.record("full spool on a 256 KiB quota (outage "+cfg.QuotaOutage.String()+")", fmt.Sprintf("gatewatch_publish_dropped_total{reason=\"spool_full\"} = %.0f", dropped), err, at)
	return windows
}
