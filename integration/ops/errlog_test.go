package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// nginxUnderTest is a Debian nginx with three failing upstreams: one that
// refuses connections, one that accepts and never answers, and one whose
// name a dead resolver cannot resolve. Everything stays on 127.0.0.1.
type nginxUnderTest struct {
	prefix, errorLog, url string
	cmd                   *exec.Cmd
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNginx(t *testing.T) *nginxUnderTest {
	t.Helper()
	bin := tool(t, "nginx", "nginx")
	prefix := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(prefix, "logs"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755))

	// An upstream that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	listen := freePort(t, "tcp")
	refused := freePort(t, "tcp")
	deadDNS := freePort(t, "udp")
	n := &nginxUnderTest{prefix: prefix, errorLog: filepath.Join(prefix, "logs", "error.log"),
		url: "http://127.0.0.1:" + strconv.Itoa(listen)}
	// As root, nginx's workers run as nobody and could not reopen a log
	// in the test's private temporary directory after a rotation.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`daemon off;
%[6]s
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp;
  fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  resolver 127.0.0.1:%[2]d valid=1s ipv6=off;
  resolver_timeout 1s;
  server {
    listen 127.0.0.1:%[3]d;
    server_name gw.test;
    location /refused { proxy_pass http://127.0.0.1:%[4]d; }
    location /timeout { proxy_pass http://%[5]s; proxy_read_timeout 1s; }
    location /nowhere { set $u upstream.invalid; proxy_pass http://$u; }
  }
}
`, prefix, deadDNS, listen, refused, silent.Addr().String(), user)
	confPath := filepath.Join(prefix, "nginx.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	n.cmd = exec.Command(bin, "-p", prefix, "-c", confPath, "-e", n.errorLog)
	n.cmd.Stdout, n.cmd.Stderr = logWriter{t}, logWriter{t}
	require.NoError(t, n.cmd.Start())
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		_, _ = n.cmd.Process.Wait()
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(listen))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "nginx did not listen")
	return n
}

func (n *nginxUnderTest) get(t *testing.T, path string) {
	t.Helper()
	resp, err := http.Get(n.url + path)
	require.NoError(t, err)
	resp.Body.Close()
	require.GreaterOrEqual(t, resp.StatusCode, 500, "GET %s", path)
}

// rotate does what logrotate's default (create) mode does: rename, then
// tell nginx to reopen its logs.
func (n *nginxUnderTest) rotate(t *testing.T, suffix string) {
	t.Helper()
	require.NoError(t, os.Rename(n.errorLog, n.errorLog+suffix))
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGUSR1))
	require.Eventually(t, func() bool { _, err := os.Stat(n.errorLog); return err == nil },
		5*time.Second, 10*time.Millisecond, "nginx did not reopen error.log")
}

type errlogProc struct{ cmd *exec.Cmd }

func startErrlog(t *testing.T, logFile, state string, brokers []string) *errlogProc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "gwctl"), "errlog", "-file", logFile, "-state", state,
		"-from-start", "-brokers", strings.Join(brokers, ","), "-window", "200ms", "-poll", "20ms", "-node-id", "kong-1")
	cmd.Stdout, cmd.Stderr = logWriter{t}, logWriter{t}
	require.NoError(t, cmd.Start())
	p := &errlogProc{cmd}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *errlogProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	assert.NoError(t, p.cmd.Wait(), "gwctl errlog exits 0 on SIGTERM")
}

// tally sums the counts of the kong.error events by a key.
func tally(t *testing.T, rs []*kgo.Record) (byKey map[string]int, ids map[string]int) {
	byKey, ids = map[string]int{}, map[string]int{}
	for _, r := range rs {
		var e event.Event
		require.NoError(t, json.Unmarshal(r.Value, &e))
		require.Equal(t, event.KongError, e.Type)
		ids[e.ID]++
		k := e.Detail.Category
		switch {
		case strings.Contains(e.Detail.Message, "while resolving"):
			k = "dns/resolver" // the resolver's own send() failures: how many depends on nginx's retries
		case strings.Contains(e.Detail.Message, "could not be resolved"):
			k = "dns/name"
		}
		byKey[k] += e.Detail.Count
	}
	return byKey, ids
}

func TestErrlogPublishesNginxErrorsAcrossRotationAndRestart(t *testing.T) {
	t.Parallel()
	ngx := startNginx(t)
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	state := filepath.Join(t.TempDir(), "errlog.state")

	want := map[string]int{}
	hit := func(path string, times int) {
		key := map[string]string{"/refused": "upstream_connect", "/timeout": "upstream_timeout", "/nowhere": "dns/name"}[path]
		for range times {
			ngx.get(t, path)
			want[key]++
		}
	}
	kongLines, err := os.ReadFile("../../pkg/errlog/testdata/kong.log")
	require.NoError(t, err)
	appendLines := func(b []byte) {
		f, err := os.OpenFile(ngx.errorLog, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write(b)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	waitFor := func(what string) map[string]int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var got map[string]int
		rs, err := testkafka.Read(ctx, brokers, "gatewatch.events", func(rs []*kgo.Record) bool {
			got, _ = tally(t, rs)
			for k, n := range want {
				if got[k] < n {
					return false
				}
			}
			return true
		})
		require.NoError(t, err, "%s: want %v, have %v", what, want, got)
		// Anything more would be a duplicate: give it time to show.
		time.Sleep(700 * time.Millisecond)
		rs, err = testkafka.Read(ctx, brokers, "gatewatch.events", testkafka.AtLeast(len(rs)))
		require.NoError(t, err)
		got, ids := tally(t, rs)
		for id, n := range ids {
			require.Equal(t, 1, n, "event id %s published twice", id)
		}
		for k, n := range want {
			assert.Equal(t, n, got[k], "%s: lines of %s counted", what, k)
		}
		return got
	}

	p := startErrlog(t, ngx.errorLog, state, brokers)
	hit("/refused", 3)
	hit("/timeout", 1)
	hit("/nowhere", 1)
	appendLines(kongLines) // Kong's plugin-server lines (kong-reference §1.4, §2.7)
	want["pluginserver_terminated"] = 1
	want["plugin_error"] = 5 // the server's panic, two pluginserver errors, rate-limiting, lua thread aborted
	want["database"] = 1
	want["certificate"] = 1
	got := waitFor("first run")
	assert.Equal(t, 1, got["dns"], "Kong's balancer DNS failure")
	assert.Zero(t, got["critical"], "nginx reported no critical error of its own")

	// Rotation by rename while gwctl runs: lines land in the old file until
	// nginx reopens, then in the new one.
	hit("/refused", 2)
	ngx.rotate(t, ".1")
	hit("/refused", 2)
	hit("/timeout", 1)
	waitFor("after rotation")

	// A restart, with a rotation and new lines while gwctl is down.
	p.stop(t)
	hit("/refused", 1)
	ngx.rotate(t, ".2")
	hit("/nowhere", 1)
	hit("/refused", 1)
	startErrlog(t, ngx.errorLog, state, brokers)
	hit("/timeout", 1)
	waitFor("after restart")

	// Truncation in place (logrotate copytruncate).
	require.NoError(t, os.Truncate(ngx.errorLog, 0))
	hit("/refused", 2)
	waitFor("after truncation")
}
