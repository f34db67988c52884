package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Kong/go-pdk/bridge"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gatewatch/gatewatch/internal/syncbuf"
	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema/metaschematest"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// buildBinary builds this command as Kong would find it: named after the
// plugin. A missing go tool fails the test rather than skipping it.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	dir, err := os.MkdirTemp("", "gwg") // short: the socket goes here too
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "gatewatch-guard")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	prefix := filepath.Dir(bin)

	t.Run("-dump prints a plugin Kong accepts", func(t *testing.T) {
		out, err := exec.Command(bin, "-dump").Output()
		require.NoError(t, err)
		var info struct {
			Protocol string
			Plugins  []struct {
				Name    string
				Version string
				Phases  []string
				Schema  json.RawMessage
			}
		}
		require.NoError(t, json.Unmarshal(out, &info))
		assert.Equal(t, "ProtoBuf:1", info.Protocol)
		assert.Equal(t, "gatewatch-guard", info.Plugins[0].Name)
		assert.Equal(t, []string{"access"}, info.Plugins[0].Phases)
		require.NoError(t, metaschematest.Check(info.Plugins[0].Schema))
	})

	t.Run("a settings file with an unknown key exits non-zero naming the key", func(t *testing.T) {
		cfg := filepath.Join(prefix, "bad.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte("metrics:\n  adress: :9100\n"), 0o600))
		var stderr syncbuf.Buffer
		cmd := exec.Command(bin, "-kong-prefix", prefix, "-config", cfg)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, 1, exit.ExitCode())
		assert.Contains(t, stderr.String(), `"metrics.adress"`)
		assert.Contains(t, stderr.String(), "line 2")
	})

	t.Run("it serves the socket and exits 0 on SIGTERM, removing the socket", func(t *testing.T) {
		socket := filepath.Join(prefix, "gatewatch-guard.socket")
		// A stale socket file from a killed predecessor must not stop it.
		stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
		require.NoError(t, err)
		stale.SetUnlinkOnClose(false)
		require.NoError(t, stale.Close())
		_, err = os.Stat(socket)
		require.NoError(t, err, "the stale socket file must exist before the start")

		var stderr syncbuf.Buffer
		cmd := exec.Command(bin, "-kong-prefix", prefix)
		cmd.Env = append(os.Environ(), "GATEWATCH_METRICS_ADDR=127.0.0.1:0")
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })

		var kong *pluginservertest.Kong
		deadline := time.Now().Add(10 * time.Second)
		for kong == nil {
			if k, err := pluginservertest.Dial(socket, 10*time.Second); err == nil {
				kong = k
			} else if time.Now().After(deadline) {
				t.Fatalf("socket never appeared: %v\n%s", err, stderr.String())
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
		defer kong.Close()
		st, err := kong.StartInstance("gatewatch-guard", `{"__seq__":1}`)
		require.NoError(t, err)
		calls, err := kong.HandleEvent(st.InstanceId, "access", func(method string, _ []byte) (proto.Message, bool) {
			if method == "kong.nginx.get_var" {
				return bridge.WrapString("GET / HTTP/1.1"), false
			}
			h, _ := bridge.WrapHeaders(map[string][]string{"host": {"a"}})
			return h, false
		})
		require.NoError(t, err)
		assert.Len(t, calls, 2)

		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-exited:
			require.NoError(t, err, "exit status after SIGTERM must be 0:\n%s", stderr.String())
		case <-time.After(20 * time.Second):
			t.Fatal("no exit after SIGTERM")
		}
		_, err = os.Stat(socket)
		assert.True(t, os.IsNotExist(err), "socket file must be removed")
		assert.Contains(t, stderr.String(), "metrics listening")
	})
}

// The metrics listener, when configured, serves the plugin server's
// counters.
func TestMetricsEndpoint(t *testing.T) {
	bin := buildBinary(t)
	prefix := filepath.Dir(bin)
	var stderr syncbuf.Buffer
	cmd := exec.Command(bin, "-kong-prefix", prefix)
	cmd.Env = append(os.Environ(), "GATEWATCH_METRICS_ADDR=127.0.0.1:0")
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		for _, line := range strings.Split(stderr.String(), "\n") {
			if i := strings.Index(line, "metrics listening"); i >= 0 {
				if j := strings.Index(line, "addr="); j >= 0 {
					addr = strings.Fields(line[j+len("addr="):])[0]
				}
			}
		}
		if addr == "" {
			require.False(t, time.Now().After(deadline), "no metrics listener:\n%s", stderr.String())
			time.Sleep(20 * time.Millisecond)
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `gatewatch_plugin_panics_total{plugin="gatewatch-guard"} 0`)
	assert.Contains(t, string(body), `gatewatch_guard_faults_total{kind="panic"} 0`)
	assert.Contains(t, string(body), `gatewatch_guard_decisions_total{action="blocked",control="gatewatch-blocklist"} 0`)
}

// Without brokers, a configured snapshot is still enforced: a gateway cut
// off from Kafka keeps the list it was last given. API-key entries match
// with the deployment's fingerprint key.
func TestSnapshotWithoutBrokersIsEnforced(t *testing.T) {
	bin := buildBinary(t)
	prefix := filepath.Dir(bin)
	keyFile := filepath.Join(prefix, "fp.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("deployment-secret\n"), 0o600))
	fp := redact.New(nil, []byte("deployment-secret")).Fingerprint("leaked-key")
	snapshot := filepath.Join(prefix, "blocklist.json")
	now := time.Now()
	entry := func(subject string, kind blocklist.Kind) blocklist.Entry {
		return blocklist.Entry{Subject: subject, Kind: kind, Until: now.Add(time.Hour), Reason: "scanner",
			Source: "operator", CreatedBy: "test", CreatedAt: now, Status: 403}
	}
	require.NoError(t, blocklist.SaveSnapshot(snapshot, blocklist.DefaultTopic, []blocklist.Entry{
		entry("ip:203.0.113.7", blocklist.KindIP), entry("apikey-fp:"+fp, blocklist.KindAPIKeyFP),
	}, now))
	cfg := filepath.Join(prefix, "guard.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("blocklist:\n  snapshot_file: "+snapshot+"\nredaction:\n  fingerprint_key_file: "+keyFile+"\n"), 0o600))

	var stderr syncbuf.Buffer
	cmd := exec.Command(bin, "-kong-prefix", prefix, "-config", cfg)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWATCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	socket := filepath.Join(prefix, "gatewatch-guard.socket")
	require.Eventually(t, func() bool {
		k, err := pluginservertest.Dial(socket, 10*time.Second)
		if err == nil {
			k.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "socket never appeared:\n%s", &stderr)

	cases := []struct {
		name    string
		ip      string
		headers map[string][]string
		blocked bool
	}{
		{"a client IP in the snapshot is refused", "203.0.113.7", map[string][]string{"host": {"a"}}, true},
		{"an API key whose keyed fingerprint is in the snapshot is refused", "198.51.100.1", map[string][]string{"apikey": {"leaked-key"}}, true},
		{"another client passes", "198.51.100.1", map[string][]string{"apikey": {"other-key"}}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kong, err := pluginservertest.Dial(socket, 10*time.Second)
			require.NoError(t, err)
			defer kong.Close()
			st, err := kong.StartInstance("gatewatch-guard", fmt.Sprintf(`{"__seq__":%d}`, i+1))
			require.NoError(t, err)
			var exit *kpp.ExitArgs
			calls, err := kong.HandleEvent(st.InstanceId, "access", func(method string, args []byte) (proto.Message, bool) {
				switch method {
				case "kong.nginx.get_var":
					var name kpp.String
					_ = proto.Unmarshal(args, &name)
					if name.V == "request" {
						return bridge.WrapString("GET / HTTP/1.1"), false
					}
					return bridge.WrapString("req-1"), false
				case "kong.request.get_headers":
					h, _ := bridge.WrapHeaders(tc.headers)
					return h, false
				case "kong.client.get_ip":
					return bridge.WrapString(tc.ip), false
				case "kong.response.exit":
					exit = new(kpp.ExitArgs)
					_ = proto.Unmarshal(args, exit)
					return nil, true
				}
				return nil, false
			})
			require.GreaterOrEqual(t, len(calls), 3)
			assert.Equal(t, "kong.client.get_ip", calls[2].Method, "IP entries exist: the client IP is read")
			if !tc.blocked {
				require.NoError(t, err)
				assert.Nil(t, exit)
				return
			}
			require.ErrorIs(t, err, pluginservertest.ErrHungUp, "the request was ended with exit:\n%s", &stderr)
			require.NotNil(t, exit)
			assert.Equal(t, int32(403), exit.Status)
		})
	}
	assert.Contains(t, stderr.String(), "blocklist from snapshot only")
}
