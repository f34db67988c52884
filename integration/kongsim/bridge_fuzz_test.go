package kongsim

import (
	"bufio"
	"net"
	"net/http/httptest"
	"runtime"
	"sort"
	"testing"
	"time"
)

// FuzzBridge feeds arbitrary PDK calls (method names from §4 plus unknown
// ones, arbitrary argument bytes) through the bridge in every phase: the
// bridge must answer or fail the event, never panic or hang.
func FuzzBridge(f *testing.F) {
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{0, 5, 3, 0x0a, 0x01, 'x'})
	f.Add([]byte{2, 1, 2, 0x08, 0x01, 7, 0})
	f.Fuzz(func(t *testing.T, data []byte) { runBridgeFuzz(t, data) })
}

// runBridgeFuzz is one FuzzBridge execution.
func runBridgeFuzz(t *testing.T, data []byte) {
	names := make([]string, 0, len(pdkMethods)+2)
	for n := range pdkMethods {
		names = append(names, n)
	}
	names = append(names, "kong.response.exit", "kong.nope")
	sort.Strings(names)
	if len(data) == 0 {
		return
	}
	phases := []string{"access", "log", "rewrite", "response"}
	phase := phases[int(data[0])%len(phases)]
	g := &Gateway{version: kongVersion{minor: 9, full: "3.9.1"}, stats: newStatsBook(), nodeID: "n", wsID: "w"}
	cfg := &loaded{decl: &declarative{byName: map[string]*consumer{}}}
	r := httptest.NewRequest("GET", "/p?a=1&a=2&b", nil)
	r.Header.Set("X-A", "1")
	rs := newReqState(g, cfg, r, "id", time.Now())
	rs.phase = phase
	br := &bridgeCall{rs: rs, plugin: "fuzz", phase: phase}
	if phase == "log" {
		br.snap = &logSnapshot{serialized: []byte("{}"), ngxCtx: map[string]any{}, serializeV: map[string]any{},
			reqHeader: r.Header, respHeader: r.Header, source: "exit"}
	}
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		rest := data[1:]
		for len(rest) >= 2 {
			name := names[int(rest[0])%len(names)]
			n := int(rest[1])
			rest = rest[2:]
			if n > len(rest) {
				n = len(rest)
			}
			args := rest[:n]
			rest = rest[n:]
			if writeFrame(server, []byte(name)) != nil || writeFrame(server, args) != nil {
				return
			}
			if name == "kong.response.exit" {
				return
			}
			if _, err := readFrame(server); err != nil {
				return
			}
		}
		_ = writeFrame(server, nil)
	}()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = br.loop(&rpcConn{Conn: client, r: bufio.NewReader(client)})
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("bridge hung:\n%s", buf[:n])
	}
}
