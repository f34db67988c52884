// Package soak runs the whole gatewatch pipeline under load and faults, the
// way an operator's first week would: kongsim (Kong 3.9) with both real
// plugin servers, a 3-broker kfake cluster, gwctl alert, and a consumer
// that reconciles every event by id with what kongsim served, while wrk
// drives a mix of benign calls, bad credentials, ACL denials, rate-limit
// hits, corpus attack payloads and a scanning burst. During the run it
// restarts a broker, takes the brokers away from producers, SIGKILLs
// bin/gatewatch, SIGTERMs bin/gatewatch-guard, reloads kongsim's config with
// a changed plugin config, and fills a tiny spool quota.
//
// TestSoakShort (make test) runs it for about a minute and a half;
// cmd/soak (make soak) runs it for ten minutes and writes docs/soak.md.
package soak

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gatewatch/gatewatch/integration/kongsim"
)

var sigterm = syscall.SIGTERM

// Config sizes a run.
type Config struct {
	// Root is the gatewatch checkout; Bin holds the built binaries.
	Root, Bin string
	// Main is the length of the loaded run with faults; Outage the length
	// of the broker outage; QuotaOutage that of the outage on the tiny
	// spool quota; Baseline the length of each latency baseline.
	Main, Outage, QuotaOutage, Baseline time.Duration
	// Threads and Conns are wrk's -t and -c.
	Threads, Conns int
	// Log receives the harness's and the processes' log lines.
	Log io.Writer
	// Progress, if set, gets one line per phase.
	Progress io.Writer
}

// ShortConfig is the make-test variant.
func ShortConfig(root, bin string) Config {
	return Config{Root: root, Bin: bin, Main: 80 * time.Second, Outage: 8 * time.Second, QuotaOutage: 4 * time.Second,
		Baseline: 5 * time.Second, Threads: 2, Conns: 8}
}

// FullConfig is make soak's; under 5 minutes it is the short variant's
// schedule with duration d.
func FullConfig(root, bin string, d time.Duration) Config {
	if d < 5*time.Minute {
		c := ShortConfig(root, bin)
		c.Main = d
		return c
	}
	return Config{Root: root, Bin: bin, Main: d, Outage: 30 * time.Second, QuotaOutage: 8 * time.Second,
		Baseline: 30 * time.Second, Threads: 2, Conns: 8}
}

// Fault is one injected fault and what it did.
type Fault struct {
	At     time.Duration // since the start of the main run
	Name   string
	Result string
	Err    error
}

// Report is the outcome of a run.
type Report struct {
	Config    Config
	Started   time.Time
	Wall      time.Duration
	Templates int
	Attacks   int

	Main, Bare, Plugged, Burst wrkResult
	Recon                      reconciliation
	Alerts                     alertOutcome
	Faults                     []Fault
	// Drops during the tiny-quota phase: lost expected events, the
	// monitor's gatewatch_publish_dropped_total, and the gatewatch.dropped
	// events received (count and sum of detail.dropped).
	QuotaLost, QuotaMetricDropped int
	OtherDropMetrics              map[string]float64
	PDK                           []pdkLine
	Procs                         []procLine
	HarvestLost                   int
	SteadyFrom, MainEnd           time.Duration
	// AlertExit is set when gwctl alert ended before the harness stopped it.
	AlertExit error
}

type pdkLine struct {
	Plugin, Phase    string
	Events, PDKCalls int
	PerRequest       float64
	Methods          map[string]int
}

// Run starts the stack, runs the baselines and the loaded run with faults,
// and reconciles. It returns an error only when the harness itself could
// not run; the caller judges the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Config: cfg, Started: time.Now().UTC(), OtherDropMetrics: map[string]float64{}}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "soak: "+format+"\n", args...)
		}
	}
	dir, err := os.MkdirTemp("/tmp", "gwsoak")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logFile, err := os.Create(filepath.Join(dir, "soak.log"))
	if err != nil {
		return nil, err
	}
	log := &lockedFile{f: logFile}
	defer func() {
		logFile.Close()
		if b, err := os.ReadFile(logFile.Name()); err == nil {
			_, _ = cfg.Log.Write(b)
		}
	}()

	corpus, err := CorpusDir(cfg.Root)
	if err != nil {
		return nil, err
	}
	in, err := newInspector()
	if err != nil {
		return nil, err
	}
	ts, err := templates(corpus, in)
	if err != nil {
		return nil, err
	}
	burst := scanTemplates(in, 300)
	rep.Templates = len(ts)
	for _, t := range ts {
		if t.kind == kindAttack {
			rep.Attacks++
		}
	}
	all := append(append([]template{}, ts...), burst...)
	byPath := map[string]int32{}
	burstPaths := map[string]bool{}
	for i, t := range all {
		if _, dup := byPath[t.path]; dup && t.kind != kindPublic && t.kind != kindOrders {
			return nil, fmt.Errorf("soak: two templates share path %s", t.path)
		}
		byPath[t.path] = int32(i)
		if i >= len(ts) {
			burstPaths[t.path] = true
		}
	}
	mainScript := filepath.Join(dir, "mix.lua")
	if err := wrkScript(mainScript, ts, sequence(ts, 2000, 1)); err != nil {
		return nil, err
	}
	burstScript := filepath.Join(dir, "burst.lua")
	bseq := make([]int, len(burst))
	for i := range bseq {
		bseq[i] = i
	}
	if err := wrkScript(burstScript, burst, bseq); err != nil {
		return nil, err
	}
	var benign []template
	for _, t := range ts {
		if t.kind == kindPublic || t.kind == kindOrders {
			benign = append(benign, t)
		}
	}
	benignScript := filepath.Join(dir, "benign.lua")
	if err := wrkScript(benignScript, benign, sequence(benign, 400, 2)); err != nil {
		return nil, err
	}
	rulesFile := filepath.Join(dir, "alert-rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(soakRules), 0o600); err != nil {
		return nil, err
	}

	progress("starting kfake (3 brokers), kongsim with both plugin servers, gwctl alert")
	s, err := startStack(ctx, cfg.Root, cfg.Bin, dir, log, rulesFile)
	if err != nil {
		return nil, err
	}
	defer s.close()

	rcv := &received{events: map[string]*evRec{}, alertFirings: map[string][]alertRec{}, next: map[string]int64{}}
	cctx, stopConsumer := context.WithCancel(ctx)
	consumerDone := make(chan error, 1)
	go func() { consumerDone <- consume(cctx, s.brokers, rcv, log) }()
	defer func() { stopConsumer(); <-consumerDone }()

	// Latency baseline: the same routes without the gatewatch plugins,
	// then with them, benign requests only, before any fault.
	bareYML, err := kongYML(cfg.Root, s.upstream.URL, "monitor")
	if err != nil {
		return nil, err
	}
	bare, err := kongsim.Start(ctx, kongsim.Options{KongVersion: "3.9", Prefix: filepath.Join(dir, "bare"), ProxyListen: "127.0.0.1:0",
		Declarative: bareKongYML(bareYML), Conf: map[string]string{"plugins": "bundled"}})
	if err != nil {
		return nil, fmt.Errorf("soak: bare kongsim: %w", err)
	}
	progress("latency baseline without plugins (%s)", cfg.Baseline)
	rep.Bare, err = runWrk(ctx, benignScript, bare.URL(), cfg.Threads, cfg.Conns, cfg.Baseline, nil, log)
	_ = bare.Close()
	if err != nil {
		return nil, err
	}
	progress("latency baseline with both plugins (%s)", cfg.Baseline)
	rep.Plugged, err = runWrk(ctx, benignScript, s.gw.URL(), cfg.Threads, cfg.Conns, cfg.Baseline, nil, log)
	if err != nil {
		return nil, err
	}
	if err := s.gw.WaitIdle(ctx); err != nil {
		return nil, err
	}

	h := newHarvester(s.gw, byPath, burstPaths)
	h.poll()
	baselineReqs := h.count()
	statsBefore := s.gw.Stats()

	samp := newSampler(s)
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() { samp.run(sctx, 2*time.Second); close(samplerDone) }()

	// The loaded run.
	progress("main run: %s with wrk -t%d -c%d, faults below", cfg.Main, cfg.Threads, cfg.Conns)
	start := time.Now()
	samp.setStart(start)
	wrkPID := make(chan int, 1)
	mainDone := make(chan error, 1)
	go func() {
		var err error
		rep.Main, err = runWrk(ctx, mainScript, s.gw.URL(), cfg.Threads, cfg.Conns, cfg.Main, wrkPID, log)
		mainDone <- err
	}()
	go func() {
		select {
		case pid := <-wrkPID:
			samp.setWrk(pid)
		case <-time.After(10 * time.Second):
		}
	}()
	// Harvest kongsim's records often enough that none leaves its window
	// unseen.
	hctx, stopHarvest := context.WithCancel(ctx)
	harvestDone := make(chan struct{})
	go func() {
		defer close(harvestDone)
		// A snapshot copies kongsim's whole window (100 000 records) under
		// its lock, so it is taken no more often than needed: at 15 s,
		// rates up to 6 000 requests/s lose nothing (checked: HarvestLost).
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				h.poll()
			}
		}
	}()

	f := &faults{s: s, h: h, log: log, start: start, progress: progress}
	windows := f.schedule(ctx, cfg, burstScript, rep)
	rep.SteadyFrom = time.Since(start)

	if err := <-mainDone; err != nil {
		stopHarvest()
		<-harvestDone
		stopSampler()
		<-samplerDone
		return nil, err
	}
	stopHarvest()
	<-harvestDone
	mainEnd := time.Since(start)
	samp.sample() // end-of-run sample before anything stops
	stopSampler()
	<-samplerDone

	// Drain: log handlers, the publisher's buffer and spool, the consumer.
	progress("draining")
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = s.gw.WaitIdle(wctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("soak: kongsim not idle after the run: %w", err)
	}
	h.poll()
	if err := s.waitDrained(90 * time.Second); err != nil {
		log.Printf("%v", err)
	}
	if m, err := scrape(s.monitorMetric); err == nil {
		for k, v := range m {
			if strings.HasPrefix(k, "gatewatch_publish_dropped_total") && v > 0 {
				rep.OtherDropMetrics[k] = v
			}
		}
		rep.QuotaMetricDropped = int(m[`gatewatch_publish_dropped_total{reason="spool_full"}`])
	}
	settle(rcv, 3*time.Second, 60*time.Second)
	// Alerts: wait until the expected ones are there (bounded).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if o := compareAlerts(rcv); len(o.Missing) == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Second)

	select {
	case err := <-s.alertDone:
		rep.AlertExit = fmt.Errorf("gwctl alert exited during the run: %v", err)
		s.alertCmd = nil
	default:
	}
	// Everything after the baseline belongs to the main run.
	rep.Recon = reconcile(h, all, rcv, windows, baselineReqs)
	rep.HarvestLost = h.lost
	rep.Alerts = compareAlerts(rcv)
	rep.QuotaLost = rep.Recon.MissingByWindow[quotaWindow]
	statsAfter := s.gw.Stats()
	mainReqs := h.count() - baselineReqs
	rep.PDK = pdkLines(statsBefore, statsAfter, mainReqs)
	warm := 10 * time.Second
	if cfg.Main >= 5*time.Minute {
		warm = time.Minute
	}
	rep.SteadyFrom += warm
	rep.Procs = samp.lines(mainReqs, rep.SteadyFrom)
	rep.MainEnd = mainEnd
	rep.Faults = f.done
	rep.Wall = time.Since(rep.Started)
	progress("done: %d requests, %d events expected, %d received", mainReqs, rep.Recon.Expected, rep.Recon.ReceivedMatched)
	return rep, nil
}

// settle waits until the number of records read stops changing for quiet.
func settle(rcv *received, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	last, _ := rcv.counts()
	since := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		n, _ := rcv.counts()
		if n != last {
			last, since = n, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			return
		}
	}
}

func pdkLines(before, after kongsim.Stats, reqs int) []pdkLine {
	var out []pdkLine
	for _, p := range after.Phases {
		b := before.Total(p.Plugin, p.Phase)
		l := pdkLine{Plugin: p.Plugin, Phase: p.Phase, Events: p.Events - b.Events, PDKCalls: p.PDKCalls - b.PDKCalls, Methods: map[string]int{}}
		for m, n := range p.Methods {
			if d := n - b.Methods[m]; d > 0 {
				l.Methods[m] = d
			}
		}
		if reqs > 0 {
			l.PerRequest = float64(l.PDKCalls) / float64(reqs)
		}
		out = append(out, l)
	}
	return out
}

func sortAll(ss ...[]string) {
	for _, s := range ss {
		sort.Strings(s)
	}
}
