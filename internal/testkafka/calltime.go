package testkafka

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CallTimer times calls on one locked OS thread and splits the wall time
// of each call that took longer than a limit into where it went, so that
// a test can tell "the call waited" from "the machine took the core
// away" on a shared host. Around every call it reads, for the thread:
//
//   - its CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)): what the call
//     computed (garbage collection assists included), whatever the load;
//     on a kernel without CONFIG_IRQ_TIME_ACCOUNTING (this project's test
//     VMs) it also holds the interrupts and softirqs served while the
//     thread ran;
//   - its run-queue delay (/proc/thread-self/schedstat): time it was
//     runnable but the kernel gave the core to something else;
//   - its voluntary and involuntary context switches and page faults
//     (getrusage(RUSAGE_THREAD));
//
// and, for the process, the garbage collector's stop-the-world pauses so
// far (/sched/pauses/stopping/*, whose parity says whether a collection's
// mark phase is under way). The rest of the wall time, wall − CPU − run
// queue, is time the thread was asleep: the goroutine (locked to it)
// parked on a lock, a channel or I/O, or the Go runtime took it off the
// thread (to stop the world, scan its stack, make it wait for a
// collection's credit, or end its time slice) and it waited for a P. It
// also knows how long the goroutine had run without blocking (Yielded),
// since the Go scheduler preempts a goroutine after 10 ms of that.
//
// While it runs, the block profile records every event, so that a timed
// call that parked on a channel, select, sync.Mutex, sync.Cond or
// WaitGroup is seen with its stack.
//
// Create it with NewCallTimer on the goroutine that will make the calls,
// and Stop it there.
type CallTimer struct {
	limit   time.Duration
	stats   *threadStats
	wall    []time.Duration
	maxCPU  time.Duration
	maxCPUi int
	maxOwn  SlowCall // the call answerable for the most time
	slow    []SlowCall
	slept   int // calls during which the thread slept
	pauses  [3]metrics.Sample
	gcBase  uint64    // GC pauses when no collection was under way
	cycles  uint64    // collections completed before the first call
	yielded time.Time // when the goroutine last blocked
	block0  map[string]blockRecord
	blocked []blockRecord // block profile records of timed calls
	err     error
}

// timeSlice is how long the Go scheduler lets a goroutine run before it
// preempts it (runtime.forcePreemptNS).
const timeSlice = 10 * time.Millisecond

// SlowCall is one call's wall time split into where its thread's time
// went (CallTimer keeps it for the calls over its limit).
type SlowCall struct {
	Index int           // the call's number, from 0
	Wall  time.Duration // Wall = CPU + Queued + Asleep
	CPU   time.Duration // the thread ran
	// Queued is the time the thread was runnable and the kernel ran
	// something else.
	Queued time.Duration
	// Asleep is the rest: the thread slept (or, with no context switch
	// at all, the virtual CPU itself was descheduled by the hypervisor).
	Asleep time.Duration
	// Voluntary and Involuntary count the thread's context switches.
	Voluntary, Involuntary int64
	// MinorFaults and MajorFaults count its page faults (major ones read
	// from disk).
	MinorFaults, MajorFaults int64
	// GC is set when a collection's mark phase was under way at some
	// point of the call, or the world was stopped during it.
	GC bool
	// Running is how long the goroutine had run without blocking (as far
	// as the caller told Yielded) by the end of the call's computing: the
	// wall time before the call, plus the call's CPU and queued time.
	Running time.Duration
}

// Why the time a thread was asleep is not the call's own waiting.
const (
	WhyGC         = "the Go runtime took the goroutine off for a garbage collection"
	WhySlice      = "the Go scheduler preempted the goroutine at the end of its time slice"
	WhyHypervisor = "no context switch: the virtual CPU was descheduled by the hypervisor, or interrupts ran"
)

// Excuse says why the call's sleep was not the call waiting, or "" when
// it was: the thread slept outside any garbage collection, before its time
// slice ended, or waited for a page from disk.
func (s SlowCall) Excuse() string {
	switch {
	case s.Voluntary == 0 && s.MajorFaults == 0:
		return WhyHypervisor
	case s.MajorFaults > 0:
		return ""
	case s.GC:
		return WhyGC
	case s.Running >= timeSlice:
		return WhySlice
	}
	return ""
}

// Own is the part of the call's wall time the call itself is answerable
// for: its CPU time, plus its sleep unless Excuse explains it. The run
// queue delay is the kernel's.
func (s SlowCall) Own() time.Duration {
	if s.Excuse() != "" {
		return s.CPU
	}
	return s.CPU + s.Asleep
}

func (s SlowCall) String() string {
	why := ""
	if s.Asleep > 0 {
		why = " (the call's own)"
		if e := s.Excuse(); e != "" {
			why = " (" + e + ")"
		}
	}
	return fmt.Sprintf("call %d: wall %s = CPU %s + kernel run queue %s + asleep %s%s; "+
		"context switches %d voluntary, %d involuntary; page faults %d minor, %d major; "+
		"during a garbage collection %v; goroutine running for %s",
		s.Index, s.Wall, s.CPU, s.Queued, s.Asleep, why, s.Voluntary, s.Involuntary,
		s.MinorFaults, s.MajorFaults, s.GC, s.Running.Round(time.Microsecond))
}

// NewCallTimer locks the calling goroutine to its OS thread, on which
// every call timed must then be made, for calls expected to take at most
// limit.
func NewCallTimer(limit time.Duration, calls int) (*CallTimer, error) {
	runtime.LockOSThread()
	stats, err := openThreadStats()
	if err == nil {
		_, err = stats.before()
	}
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("testkafka: thread statistics: %w", err)
	}
	block0, err := blockProfile()
	if err != nil {
		stats.close()
		runtime.UnlockOSThread()
		return nil, err
	}
	c := &CallTimer{limit: limit, stats: stats, wall: make([]time.Duration, 0, calls), block0: block0}
	// The stopping-time samples are recorded while the world is stopped,
	// so a goroutine that runs again after a stop always sees its sample
	// (the total-time ones are recorded after the world restarts).
	c.pauses[0].Name = "/sched/pauses/stopping/gc:seconds"
	c.pauses[1].Name = "/sched/pauses/stopping/other:seconds"
	c.pauses[2].Name = "/gc/cycles/total:gc-cycles"
	// A collection run to its end leaves none under way: from here, an
	// odd number of GC pauses more means a collection is marking.
	runtime.GC()
	c.gcBase, _ = c.readPauses()
	c.cycles = c.pauses[2].Value.Uint64()
	runtime.SetBlockProfileRate(1)
	c.yielded = time.Now()
	return c, nil
}

// Yielded tells the timer that the goroutine has just blocked (slept,
// waited for its next piece of work), which starts a new time slice.
func (c *CallTimer) Yielded() { c.yielded = time.Now() }

// Time calls f and records how long it took.
func (c *CallTimer) Time(f func()) {
	gc0, other0 := c.readPauses()
	u0, err0 := c.stats.before()
	start := time.Now()
	f()
	wall := time.Since(start)
	u1, err1 := c.stats.after()
	gc1, other1 := c.readPauses()
	if err0 != nil || err1 != nil {
		if c.err == nil {
			c.err = fmt.Errorf("testkafka: thread statistics: %v %v", err0, err1)
		}
		return
	}
	i := len(c.wall)
	c.wall = append(c.wall, wall)
	// The CPU clock is read just outside the wall clock; an interrupt
	// charged to the thread in between must not make a call compute for
	// longer than it took.
	cpu := min(u1.cpu-u0.cpu, wall)
	queued := max(0, min(u1.queued-u0.queued, wall-cpu))
	s := SlowCall{Index: i, Wall: wall, CPU: cpu, Queued: queued, Asleep: max(0, wall-cpu-queued),
		Voluntary: u1.nvcsw - u0.nvcsw, Involuntary: u1.nivcsw - u0.nivcsw,
		MinorFaults: u1.minflt - u0.minflt, MajorFaults: u1.majflt - u0.majflt,
		// Each collection stops the world twice, before and after
		// marking: an odd count more than at the start means marking
		// is under way. (A mark termination that finds work left, Go
		// issue 27993, adds a third and would flip this until the
		// next; Summary shows the counts.)
		GC:      (gc0-c.gcBase)%2 == 1 || gc1 != gc0 || other1 != other0,
		Running: start.Sub(c.yielded) + cpu + queued}
	if cpu > c.maxCPU {
		c.maxCPU, c.maxCPUi = cpu, i
	}
	if s.Voluntary > 0 {
		c.slept++
	}
	if i == 0 || s.Own() > c.maxOwn.Own() {
		c.maxOwn = s
	}
	if wall > c.limit {
		c.slow = append(c.slow, s)
	}
}

// readPauses returns how many stop-the-world pauses there were so far, for
// garbage collections and for other reasons.
func (c *CallTimer) readPauses() (gc, other uint64) {
	metrics.Read(c.pauses[:])
	return histCount(c.pauses[0].Value), histCount(c.pauses[1].Value)
}

func histCount(v metrics.Value) uint64 {
	if v.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	var n uint64
	for _, b := range v.Float64Histogram().Counts {
		n += b
	}
	return n
}

// Stop turns the block profile off (or back to the rate -test.blockprofile
// asked for), collects the timed calls' blocking events and unlocks the
// thread. It returns an error if a measurement failed.
func (c *CallTimer) Stop() error {
	defer runtime.UnlockOSThread()
	c.stats.close()
	rate := 0
	if f := flag.Lookup("test.blockprofile"); f != nil && f.Value.String() != "" {
		if r := flag.Lookup("test.blockprofilerate"); r != nil {
			rate, _ = strconv.Atoi(r.Value.String())
		}
	}
	runtime.SetBlockProfileRate(rate)
	after, err := blockProfile()
	if err != nil {
		return err
	}
	for key, r := range after {
		if b := c.block0[key]; r.timed && r.count > b.count {
			r.count -= b.count
			r.wait -= b.wait
			c.blocked = append(c.blocked, r)
		}
	}
	return c.err
}

type blockRecord struct {
	count int64
	wait  time.Duration // in all
	timed bool          // a frame is CallTimer.Time: a timed call blocked
	text  string        // the record as the profile prints it
}

// blockProfile reads the block profile, keyed by stack.
func blockProfile() (map[string]blockRecord, error) {
	var buf bytes.Buffer
	if err := pprof.Lookup("block").WriteTo(&buf, 1); err != nil {
		return nil, fmt.Errorf("testkafka: block profile: %w", err)
	}
	out := map[string]blockRecord{}
	cyclesPerSecond := 0.0
	var key string
	var rec blockRecord
	flush := func() {
		if key != "" {
			out[key] = rec
		}
		key, rec = "", blockRecord{}
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "--- "):
			flush()
		case strings.HasPrefix(line, "cycles/second="):
			cyclesPerSecond, _ = strconv.ParseFloat(strings.TrimPrefix(line, "cycles/second="), 64)
		case strings.Contains(line, " @ ") && !strings.HasPrefix(line, "#"):
			// "cycles count @ pc pc ..."
			flush()
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			cycles, err1 := strconv.ParseInt(f[0], 10, 64)
			n, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 != nil || err2 != nil || cyclesPerSecond <= 0 {
				continue
			}
			key, rec.count, rec.text = line[strings.Index(line, "@"):], n, line
			rec.wait = time.Duration(float64(cycles) / cyclesPerSecond * float64(time.Second))
		case key != "" && strings.HasPrefix(line, "#"):
			rec.text += "\n" + line
			if strings.Contains(line, "testkafka.(*CallTimer).Time") {
				rec.timed = true
			}
		}
	}
	flush()
	return out, sc.Err()
}

// Calls is the number of calls timed.
func (c *CallTimer) Calls() int { return len(c.wall) }

// Quantile is the q-quantile (0 ≤ q ≤ 1) of the calls' wall times.
func (c *CallTimer) Quantile(q float64) time.Duration {
	if len(c.wall) == 0 {
		return 0
	}
	d := slices.Clone(c.wall)
	slices.Sort(d)
	return d[int(float64(len(d)-1)*q)]
}

// MaxCPU is the most CPU time the thread spent in one call, and which call
// that was.
func (c *CallTimer) MaxCPU() (time.Duration, int) { return c.maxCPU, c.maxCPUi }

// Slow returns the calls whose wall time exceeded the limit.
func (c *CallTimer) Slow() []SlowCall { return c.slow }

// MaxOwn is the call answerable for the most time (SlowCall.Own).
func (c *CallTimer) MaxOwn() SlowCall { return c.maxOwn }

// Summary describes the calls for a test log.
func (c *CallTimer) Summary() string {
	excuses := map[string]int{}
	var queued, asleep time.Duration
	for _, s := range c.slow {
		if s.Asleep > 0 {
			excuses[s.Excuse()]++
		}
		queued += s.Queued
		asleep += s.Asleep
	}
	var blocked time.Duration
	for _, b := range c.blocked {
		blocked += b.wait
	}
	cpu, cpuAt := c.MaxCPU()
	own := c.MaxOwn()
	gc, _ := c.readPauses()
	cycles := c.pauses[2].Value.Uint64() - c.cycles
	return fmt.Sprintf("%d collections, %d GC pauses; %d calls: wall p50 %s, p99 %s, p99.9 %s, max %s; "+
		"max thread CPU %s (call %d); max time a call is answerable for %s (call %d); "+
		"%d calls slept; parked on sync primitives %s in all; "+
		"%d calls over %s, which spent %s in the kernel's run queue and %s asleep "+
		"(of those that slept: %d in a garbage collection, %d at the end of a time slice, %d with no context switch, %d on their own)",
		cycles, gc-c.gcBase, c.Calls(), c.Quantile(0.5), c.Quantile(0.99), c.Quantile(0.999), c.Quantile(1),
		cpu, cpuAt, own.Own(), own.Index, c.slept, blocked, len(c.slow), c.limit, queued, asleep,
		excuses[WhyGC], excuses[WhySlice], excuses[WhyHypervisor], excuses[""])
}

// AssertNeverWaited fails t unless no timed call (what names them) was
// answerable for more than the limit: for every call, its thread CPU time,
// plus the time its thread slept unless a garbage collection, the end of
// its time slice, or the hypervisor (no context switch at all) explains
// the sleep (SlowCall.Own). Time in the kernel's run queue, when the
// thread could run and the machine gave its core to another, is not the
// call's. It also asserts AssertNeverParked. Every call over the limit is
// logged (the first ten of each kind) with the split of its wall time.
func (c *CallTimer) AssertNeverWaited(t testing.TB, what string) {
	t.Helper()
	c.LogSlow(t, what)
	for _, s := range c.slow {
		if s.Own() > c.limit {
			t.Errorf("%s was answerable for %s, more than %s: %s", what, s.Own(), c.limit, s)
		}
	}
	if cpu, at := c.MaxCPU(); cpu > c.limit {
		detail := ""
		for _, s := range c.slow {
			if s.Index == at {
				detail = ": " + s.String()
			}
		}
		t.Errorf("%s: call %d used %s of thread CPU time, more than %s%s", what, at, cpu, c.limit, detail)
	}
	c.AssertNeverParked(t, what)
}

// LogSlow logs the summary, the calls over the limit that were not
// answerable for it (the first ten of each kind), and the call answerable
// for the most time.
func (c *CallTimer) LogSlow(t testing.TB, what string) {
	t.Helper()
	t.Logf("%s: %s", what, c.Summary())
	logged := map[string]int{}
	for _, s := range c.slow {
		if s.Own() > c.limit {
			continue
		}
		kind := "kernel"
		if s.Asleep > s.Queued {
			kind = s.Excuse()
		}
		if logged[kind]++; logged[kind] <= 10 {
			t.Logf("%s over %s, answerable for %s: %s", what, c.limit, s.Own(), s)
		}
	}
	if own := c.MaxOwn(); own.Own() <= c.limit {
		t.Logf("%s answerable for the most time: %s", what, own)
	}
}

// AssertNeverParked fails t when a stack of the timed calls parked on a
// channel, select, sync.Mutex, sync.Cond or WaitGroup for half the limit
// on average (block profile), since such waits alone bring a call near
// the limit; shorter parkings are logged with their stacks.
func (c *CallTimer) AssertNeverParked(t testing.TB, what string) {
	t.Helper()
	for _, b := range c.blocked {
		mean := b.wait / time.Duration(b.count)
		if mean >= c.limit/2 {
			t.Errorf("%s parked %d times for %s on average (block profile):\n%s", what, b.count, mean, b.text)
		} else {
			t.Logf("%s parked %d times for %s on average (block profile):\n%s", what, b.count, mean, b.text)
		}
	}
	if c.Calls() == 0 {
		t.Errorf("%s: no call was timed", what)
	}
}

type threadUsage struct {
	cpu            time.Duration
	queued         time.Duration
	nvcsw, nivcsw  int64
	minflt, majflt int64
}
