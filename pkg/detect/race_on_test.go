//go:build race

package detect

// raceSlowdown scales time bounds in tests: the race detector makes code
// several times slower and makes sync.Pool drop entries at random.
const raceSlowdown = 10
