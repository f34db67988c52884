package testkafka

import (
	"bytes"
	"fmt"
	"syscall"
	"time"
	"unsafe"
)

const (
	clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID
	rusageThread         = 1 // RUSAGE_THREAD
)

// threadStats reads the calling thread's statistics; it must be opened
// and read on the same (locked) thread.
type threadStats struct {
	schedstat int // /proc/thread-self/schedstat, opened on that thread
	buf       [96]byte
}

func openThreadStats() (*threadStats, error) {
	fd, err := syscall.Open("/proc/thread-self/schedstat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &threadStats{schedstat: fd}, nil
}

func (s *threadStats) close() { _ = syscall.Close(s.schedstat) }

// before reads the thread's statistics ahead of a call, its CPU clock
// last; after reads them behind it, its CPU clock first, so that the CPU
// time brackets the call as tightly as its wall time does. The CPU time
// comes from clock_gettime(CLOCK_THREAD_CPUTIME_ID), which includes the
// time run since the last scheduler tick; the run-queue delay from
// schedstat; context switches and page faults from
// getrusage(RUSAGE_THREAD). Raw system calls, so that the Go scheduler is
// not involved.
func (s *threadStats) before() (threadUsage, error) {
	var u threadUsage
	if err := s.counters(&u); err != nil {
		return u, err
	}
	return u, s.clock(&u)
}

func (s *threadStats) after() (threadUsage, error) {
	var u threadUsage
	if err := s.clock(&u); err != nil {
		return u, err
	}
	return u, s.counters(&u)
}

func (s *threadStats) clock(u *threadUsage) error {
	var ts syscall.Timespec
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return e
	}
	u.cpu = time.Duration(ts.Nano())
	return nil
}

func (s *threadStats) counters(u *threadUsage) error {
	var ru syscall.Rusage
	if _, _, e := syscall.RawSyscall(syscall.SYS_GETRUSAGE, rusageThread, uintptr(unsafe.Pointer(&ru)), 0); e != 0 {
		return e
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_PREAD64, uintptr(s.schedstat), uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)), 0, 0, 0)
	if e != 0 {
		return e
	}
	queued, err := schedstatDelay(s.buf[:n])
	if err != nil {
		return err
	}
	u.queued, u.nvcsw, u.nivcsw, u.minflt, u.majflt = queued, ru.Nvcsw, ru.Nivcsw, ru.Minflt, ru.Majflt
	return nil
}

// schedstatDelay parses the second field of "run_ns delay_ns slices\n":
// the time spent runnable waiting for a CPU.
func schedstatDelay(b []byte) (time.Duration, error) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return 0, fmt.Errorf("schedstat %q: no run-queue delay", b)
	}
	var v int64
	digits := 0
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("schedstat %q: no run-queue delay", b)
	}
	return time.Duration(v), nil
}
