//go:build !race

package testkafka

// Race is true when the race detector is on (see race_on.go).
const Race = false
