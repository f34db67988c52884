//go:build !race

package detect

// raceSlowdown scales time bounds in tests (see race_on_test.go).
const raceSlowdown = 1
