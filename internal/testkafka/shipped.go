package testkafka

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// RunWithoutRace builds the calling test's package without the race
// detector and runs the calling test (t.Name()) in that binary, in the
// package's directory with the same environment, so that a -race run
// (make test) still asserts time bounds on the code that ships. The
// child's verdict becomes the caller's: its failure fails t, with its
// output. Output lines containing one of show are logged.
func RunWithoutRace(t *testing.T, show ...string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shipped.test")
	var flags []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if f != "-race" {
			flags = append(flags, f)
		}
	}
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS="+strings.Join(flags, " "))
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("testkafka: build the tests without -race: %v\n%s", err, out)
	}
	built := time.Since(start)
	start = time.Now()
	out, err := exec.Command(bin, "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		for _, s := range append(show, "--- ") {
			if strings.Contains(line, s) {
				t.Log("without -race:", strings.TrimSpace(line))
				break
			}
		}
	}
	if err != nil {
		t.Errorf("%s failed without -race (%v):\n%s", t.Name(), err, out)
	}
	t.Logf("without -race: built in %s, ran in %s", built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
