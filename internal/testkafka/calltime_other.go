//go:build !linux

package testkafka

import "errors"

// threadStats needs Linux's per-thread clocks and counters.
type threadStats struct{}

func openThreadStats() (*threadStats, error) {
	return nil, errors.New("per-thread CPU time, run-queue delay and context switches are read on Linux only")
}

func (*threadStats) close() {}

func (*threadStats) before() (threadUsage, error) {
	return threadUsage{}, errors.New("per-thread statistics are read on Linux only")
}

func (*threadStats) after() (threadUsage, error) {
	return threadUsage{}, errors.New("per-thread statistics are read on Linux only")
}
