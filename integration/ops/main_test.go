// Package ops tests the operator's kit end to end with real tools: gwctl
// errlog against Debian's nginx writing a real error.log, the Prometheus
// rules with promtool, and a real Prometheus scraping the plugin servers.
// A missing tool fails the test with the package to install; nothing is
// skipped.
package ops

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds the binaries built once for the package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gw-ops-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// One go build for the three: the toolchain builds them in parallel.
	cmd := exec.Command("go", "build", "-o", dir+"/", "../../cmd/gwctl", "../../pluginserver/gatewatch", "../../pluginserver/gatewatch-guard")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "ops: build: %v\n", err)
		os.Exit(1)
	}
	for _, name := range []string{"gwctl", "gatewatch", "gatewatch-guard"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			fmt.Fprintf(os.Stderr, "ops: build: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tool finds a binary from a Debian package or fails the test saying how
// to get it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("%s not found: run scripts/setup.sh (Debian package %s)", name, pkg)
	return ""
}
