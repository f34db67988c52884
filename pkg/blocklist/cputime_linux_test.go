package blocklist

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used. On a
// shared machine a benchmark's wall time per op includes the time it
// waited for a core; its CPU time does not.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
