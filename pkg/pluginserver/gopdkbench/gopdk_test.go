// Package gopdkbench measures go-pdk v0.11.2's embedded plugin server with
// the same client and handler as pluginserver's BenchmarkServeEvent, giving
// the baseline for the comparison in pkg/pluginserver.
package gopdkbench

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/Kong/go-pdk/server"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
)

// socket is where go-pdk listens: <kong-prefix>/<executable name>.socket.
var socket string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gopdk")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	socket = filepath.Join(dir, filepath.Base(exe)+".socket")
	// go-pdk reads its flags from the global set; it never returns.
	if err := flag.Set("kong-prefix", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		_ = server.StartServer(func() any { return &pluginservertest.BenchConfig{} }, "0.1", 1)
	}()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func BenchmarkServeEvent(b *testing.B) {
	for _, calls := range []int{0, 2, 10} {
		b.Run(fmt.Sprintf("pdk_calls=%d", calls), func(b *testing.B) {
			pluginservertest.BenchEvents(b, socket, "gopdkbench.test", calls)
		})
	}
}
