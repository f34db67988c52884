//go:build race

package testkafka

// Race is true when the race detector is on. Its build is not the code
// that ships: instrumentation multiplies the CPU time of Go code (2–20×,
// says its documentation) and the detector's own bookkeeping and locks
// stall goroutines for milliseconds now and then, so time bounds meant
// for the shipped code cannot be asserted on it.
const Race = true
