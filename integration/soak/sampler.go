package soak

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process names in the report.
const (
	procMonitor = "bin/gatewatch"
	procGuard   = "bin/gatewatch-guard"
	procAlert   = "gwctl alert"
	procHarness = "harness (kongsim, kfake, consumer)"
	procWrk     = "wrk"
)

var procOrder = []string{procMonitor, procGuard, procAlert, procHarness, procWrk}

type sample struct {
	at    time.Duration
	pid   int
	rssKB int64
	ticks int64 // utime+stime
}

// sampler reads /proc/<pid>/status and /proc/<pid>/stat of every process
// of the pipeline every interval.
type sampler struct {
	s       *stack
	mu      sync.Mutex
	start   time.Time
	wrkPID  int
	samples map[string][]sample
}

func newSampler(s *stack) *sampler {
	return &sampler{s: s, samples: map[string][]sample{}, start: time.Now()}
}

func (p *sampler) setStart(t time.Time) { p.mu.Lock(); p.start = t; p.mu.Unlock() }
func (p *sampler) setWrk(pid int)       { p.mu.Lock(); p.wrkPID = pid; p.mu.Unlock() }

func (p *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	p.sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.sample()
		}
	}
}

func (p *sampler) sample() {
	pids := p.s.gw.PluginServerPIDs()
	p.mu.Lock()
	defer p.mu.Unlock()
	at := time.Since(p.start)
	cur := map[string]int{procMonitor: pids["gatewatch"], procGuard: pids["gatewatch-guard"], procHarness: os.Getpid(), procWrk: p.wrkPID}
	if c := p.s.alertCmd; c != nil && c.Process != nil {
		cur[procAlert] = c.Process.Pid
	}
	for name, pid := range cur {
		if pid == 0 {
			continue
		}
		rss, ticks, err := readProc(pid)
		if err != nil {
			continue
		}
		p.samples[name] = append(p.samples[name], sample{at: at, pid: pid, rssKB: rss, ticks: ticks})
	}
}

// readProc returns VmRSS (kB) and utime+stime (clock ticks) of pid.
func readProc(pid int) (int64, int64, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var rss int64 = -1
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name (which may hold spaces) start after
	// the last ')': state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || rss < 0 {
		return 0, 0, fmt.Errorf("soak: cannot parse /proc/%d", pid)
	}
	f := strings.Fields(string(stat)[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("soak: short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return rss, ut + stt, nil
}

// clockTick is USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

type procLine struct {
	Name          string
	Incarnations  int
	RSSStartKB    int64 // first sample of the run
	RSSEndKB      int64 // last sample
	SteadyFrom    time.Duration
	SteadyTo      time.Duration
	SteadyStartKB int64 // median of the first three samples of the steady phase (last incarnation)
	SteadyEndKB   int64 // median of the last three
	Growth        float64
	CPU           time.Duration
	CPUPerRequest time.Duration
}

func median3(ss []sample) int64 {
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = s.rssKB
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

// lines summarises each process. The steady phase is the last incarnation's
// samples from steadyFrom on.
func (p *sampler) lines(reqs int, steadyFrom time.Duration) []procLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []procLine
	for _, name := range procOrder {
		ss := p.samples[name]
		if len(ss) == 0 {
			continue
		}
		l := procLine{Name: name, RSSStartKB: ss[0].rssKB, RSSEndKB: ss[len(ss)-1].rssKB}
		// CPU: the sum over incarnations of last-first ticks.
		first := map[int]sample{}
		last := map[int]sample{}
		var order []int
		for _, s := range ss {
			if _, ok := first[s.pid]; !ok {
				first[s.pid] = s
				order = append(order, s.pid)
			}
			last[s.pid] = s
		}
		l.Incarnations = len(order)
		var ticks int64
		for _, pid := range order {
			ticks += last[pid].ticks - first[pid].ticks
		}
		l.CPU = time.Duration(ticks) * clockTick
		if reqs > 0 {
			l.CPUPerRequest = l.CPU / time.Duration(reqs)
		}
		lastPID := ss[len(ss)-1].pid
		var steady []sample
		for _, s := range ss {
			if s.pid == lastPID && s.at >= steadyFrom {
				steady = append(steady, s)
			}
		}
		if len(steady) >= 6 {
			l.SteadyFrom, l.SteadyTo = steady[0].at, steady[len(steady)-1].at
			l.SteadyStartKB = median3(steady[:3])
			l.SteadyEndKB = median3(steady[len(steady)-3:])
			l.Growth = float64(l.SteadyEndKB-l.SteadyStartKB) / float64(l.SteadyStartKB)
		}
		out = append(out, l)
	}
	return out
}
