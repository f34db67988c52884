package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/integration/kongsim"
	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// guardKongYML has a route whose guard blocks (/block), one whose guard
// only watches (/watch, the global default), and the monitor everywhere.
func guardKongYML(upstreamURL string) string {
	return fmt.Sprintf(`_format_version: "3.0"
services:
  - name: demo
    url: %s
    routes:
      - name: guarded
        paths: ["/block"]
        plugins:
          - name: gatewatch-guard
            config:
              mode: block
      - name: watched
        paths: ["/watch"]
plugins:
  - name: gatewatch
  - name: gatewatch-guard
`, upstreamURL)
}

// startGuardGateway starts one gateway (upstream, kongsim, both plugin
// servers) against brokers, with the guard's process settings in a file
// that names a blocklist snapshot under prefix. An empty prefix makes a new
// one; passing an old one restarts a gateway over its previous state.
func startGuardGateway(t *testing.T, brokers []string, prefix string) (*stack, string) {
	t.Helper()
	s := &stack{brokers: brokers}
	s.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(s.upstream.Close)
	if prefix == "" {
		prefix = shortTempDir(t)
	}
	guardCfg := filepath.Join(prefix, "guard.yaml")
	require.NoError(t, os.WriteFile(guardCfg, []byte("blocklist:\n  snapshot_file: "+filepath.Join(prefix, "blocklist.json")+"\n"), 0o600))
	conf := pluginConf(prefix, "")
	conf["pluginserver_gatewatch_guard_start_cmd"] += " -config " + guardCfg

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw, err := kongsim.Start(ctx, kongsim.Options{
		KongVersion: "3.9",
		Prefix:      prefix,
		ProxyListen: "127.0.0.1:0",
		Declarative: []byte(guardKongYML(s.upstream.URL)),
		Conf:        conf,
		Env: []string{
			"GATEWATCH_KAFKA_BROKERS=" + strings.Join(brokers, ","),
			"GATEWATCH_SPOOL_DIR=" + filepath.Join(prefix, "spool"),
		},
		Stderr: testWriter{t},
	})
	require.NoError(t, err)
	s.gw = gw
	t.Cleanup(func() { _ = gw.Close() })
	return s, prefix
}

// guardReply is what a client got.
type guardReply struct {
	status int
	header http.Header
	body   []byte
}

// guardGet sends a GET from the loopback source address src (127.0.0.1 when
// empty), so that blocklist tests can tell one client from another
// without leaving the loopback interface.
func (s *stack) guardGet(t *testing.T, src, path string) guardReply {
	t.Helper()
	client := http.DefaultClient
	if src != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	}
	resp, err := client.Get(s.gw.URL() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	require.NoError(t, err)
	return guardReply{resp.StatusCode, resp.Header, body.Bytes()}
}

const guardSQLiQuery = "/users?id=1%27%20OR%201=1--"

// A SQLi in a query parameter is stopped on a block route before the
// upstream sees it and passes on a monitor route; both become
// attack.detected events with the guard's action, read back from Kafka,
// and the block also an access.denied by gatewatch-guard.
func TestGuardBlocksOnBlockRoutesAndWatchesOnMonitorRoutes(t *testing.T) {
	cluster := testkafka.Start(t)
	s, _ := startGuardGateway(t, cluster.ListenAddrs(), "")

	blocked := s.guardGet(t, "", "/block"+guardSQLiQuery)
	require.Equal(t, http.StatusForbidden, blocked.status, "body: %s", blocked.body)
	assert.Zero(t, s.hits.Load(), "the upstream never saw the blocked request")
	assert.Equal(t, "application/json; charset=utf-8", blocked.header.Get("Content-Type"))
	var body struct {
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(blocked.body, &body), "%s", blocked.body)
	assert.Equal(t, "Request blocked", body.Message)
	assert.Equal(t, blocked.header.Get("X-Kong-Request-Id"), body.RequestID, "the body quotes Kong's request id")
	assert.NotEmpty(t, body.RequestID)

	watched := s.guardGet(t, "", "/watch"+guardSQLiQuery)
	require.Equal(t, http.StatusOK, watched.status)
	assert.Equal(t, int64(1), s.hits.Load(), "the monitor route let it through")
	require.NoError(t, s.gw.WaitIdle(context.Background()))

	evs, _ := readEvents(t, s.brokers, 3, time.Second)
	var attacks, denials []event.Event
	for _, ev := range evs {
		switch ev.Type {
		case event.AttackDetected:
			attacks = append(attacks, ev)
		case event.AccessDenied:
			denials = append(denials, ev)
		}
	}
	require.Len(t, attacks, 2, "one attack.detected per request: %+v", evs)
	require.Len(t, denials, 1, "one access.denied, for the blocked request: %+v", evs)
	actions := map[string]string{}
	for _, ev := range attacks {
		actions[ev.Kong.Route.Name] = ev.Detail.Action
		assert.Equal(t, "guard", ev.Detail.Engine, "the guard's findings, not the monitor's own")
		require.NotEmpty(t, ev.Detail.Findings)
		assert.Equal(t, "sqli", ev.Detail.Findings[0].Class)
		assert.Equal(t, "query:id", ev.Detail.Findings[0].Location)
	}
	assert.Equal(t, map[string]string{"guarded": "blocked", "watched": "logged"}, actions)
	assert.Equal(t, "gatewatch-guard", denials[0].Detail.Control)
	assert.Equal(t, 403, denials[0].Response.Status)
	assert.Equal(t, body.RequestID, denials[0].Request.ID)
}

// The PDK budget, counted by kongsim: a benign GET costs the guard two
// PDK calls when the blocklist is empty.
func TestGuardPDKCallsForABenignGET(t *testing.T) {
	cluster := testkafka.Start(t)
	s, _ := startGuardGateway(t, cluster.ListenAddrs(), "")
	for _, path := range []string{"/watch/orders?limit=10", "/block/orders/42"} {
		r := s.guardGet(t, "", path)
		require.Equal(t, http.StatusOK, r.status)
		id := r.header.Get("X-Kong-Request-Id")
		require.NotEmpty(t, id)
		rec, ok := s.gw.Stats().Request(id)
		require.True(t, ok, "kongsim recorded request %s", id)
		got := rec.Phase("gatewatch-guard", "access")
		assert.Equal(t, 1, got.Events, "%s: one access event", path)
		assert.LessOrEqual(t, got.PDKCalls, 2, "%s: PDK calls %v", path, got.Methods)
		assert.Equal(t, map[string]int{"kong.nginx.get_var": 1, "kong.request.get_headers": 1}, got.Methods, path)
	}
}

// guardBlocklistWriter writes blocklist records the way gwctl block does.
type guardBlocklistWriter struct {
	t  *testing.T
	cl *kgo.Client
}

func newGuardBlocklistWriter(t *testing.T, brokers []string) *guardBlocklistWriter {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("gatewatch.blocklist"),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &guardBlocklistWriter{t, cl}
}

// add writes an entry and returns when the broker acknowledged it.
func (w *guardBlocklistWriter) add(subject string, ttl time.Duration) time.Time {
	now := time.Now()
	key, value, err := record.Encode(record.Record{Subject: subject, Until: now.Add(ttl), Reason: "e2e test",
		Source: "operator", CreatedBy: "guard_test", CreatedAt: now})
	require.NoError(w.t, err)
	return w.produce(key, value)
}

// remove writes the subject's tombstone and returns when it was acknowledged.
func (w *guardBlocklistWriter) remove(subject string) time.Time {
	key, value, err := record.Tombstone(subject)
	require.NoError(w.t, err)
	return w.produce(key, value)
}

func (w *guardBlocklistWriter) produce(key, value []byte) time.Time {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(w.t, w.cl.ProduceSync(ctx, &kgo.Record{Key: key, Value: value}).FirstErr())
	return time.Now()
}

// guardWaitStatus polls until a request from src gets want and returns how long
// after since that was; it fails the test after limit.
func guardWaitStatus(t *testing.T, s *stack, src, path string, want int, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		r := s.guardGet(t, src, path)
		if r.status == want {
			return time.Since(since)
		}
		if time.Since(since) > limit {
			t.Fatalf("%s from %s: still %d after %v, want %d", path, src, r.status, limit, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gwctlBlock runs `gwctl block <args>` against brokers, as an operator
// would, and returns when it exited (after the broker acknowledged).
func gwctlBlock(t *testing.T, brokers []string, args ...string) time.Time {
	t.Helper()
	full := append([]string{"block"}, args...)
	full = append(full, "-brokers", strings.Join(brokers, ","))
	out, err := exec.Command(filepath.Join(binDir, "gwctl"), full...).CombinedOutput()
	require.NoError(t, err, "gwctl %s: %s", strings.Join(full, " "), out)
	return time.Now()
}

// The 203.0.113.7 cannot be a source address here; another
// loopback address plays the blocked client, 127.0.0.1 the bystander.
const guardBlockedClient = "127.0.0.7"

// `gwctl block add` blocks the client on two gateways (two guard
// processes) within a second and produces access.denied events; `gwctl
// block remove` lifts the block within a second; an entry past its TTL
// stops blocking without any message.
func TestGuardBlocklistAcrossTwoGateways(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	a, _ := startGuardGateway(t, brokers, "")
	b, _ := startGuardGateway(t, brokers, "")
	for _, s := range []*stack{a, b} {
		require.Equal(t, http.StatusOK, s.guardGet(t, guardBlockedClient, "/watch/x").status, "not blocked before the entry")
	}

	acked := gwctlBlock(t, brokers, "add", guardBlockedClient, "--ttl", "2m", "--reason", "e2e test")
	for name, s := range map[string]*stack{"gateway A": a, "gateway B": b} {
		took := guardWaitStatus(t, s, guardBlockedClient, "/watch/x", http.StatusForbidden, acked, 5*time.Second)
		t.Logf("%s: blocked %v after the entry was acknowledged", name, took)
		assert.Less(t, took, time.Second, "%s enforced the entry within a second", name)
		assert.Equal(t, http.StatusOK, s.guardGet(t, "", "/watch/x").status, "%s: other clients pass", name)
		r := s.guardGet(t, guardBlockedClient, "/block/x")
		assert.Equal(t, http.StatusForbidden, r.status, "%s: on every route", name)
	}
	for _, s := range []*stack{a, b} {
		require.NoError(t, s.gw.WaitIdle(context.Background()))
	}
	evs, _ := readEvents(t, brokers, 4, 500*time.Millisecond)
	denied := 0
	for _, ev := range evs {
		if ev.Type == event.AccessDenied {
			assert.Equal(t, "gatewatch-blocklist", ev.Detail.Control)
			assert.Equal(t, guardBlockedClient, ev.Client.IP)
			denied++
		}
		assert.NotEqual(t, event.AttackDetected, ev.Type, "a blocklist hit is not an attack")
	}
	assert.Equal(t, 4, denied, "one access.denied per refused request on both gateways")

	acked = gwctlBlock(t, brokers, "remove", guardBlockedClient)
	for name, s := range map[string]*stack{"gateway A": a, "gateway B": b} {
		took := guardWaitStatus(t, s, guardBlockedClient, "/watch/x", http.StatusOK, acked, 5*time.Second)
		t.Logf("%s: unblocked %v after the tombstone was acknowledged", name, took)
		assert.Less(t, took, time.Second, "%s lifted the block within a second", name)
	}

	// until is written with second precision: a 3 s TTL lasts 2 to 3 s.
	acked = gwctlBlock(t, brokers, "add", guardBlockedClient, "--ttl", "3s")
	for _, s := range []*stack{a, b} {
		guardWaitStatus(t, s, guardBlockedClient, "/watch/x", http.StatusForbidden, acked, time.Second)
	}
	for name, s := range map[string]*stack{"gateway A": a, "gateway B": b} {
		took := guardWaitStatus(t, s, guardBlockedClient, "/watch/x", http.StatusOK, acked, 6*time.Second)
		t.Logf("%s: the entry expired %v after it was written, without a tombstone", name, took)
	}
}

// A guard restarted while Kafka is down enforces the list it last knew,
// from its snapshot file.
func TestGuardRestartedWithKafkaDownEnforcesTheSnapshot(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, testkafka.Topics...), kfake.AllowAutoTopicCreation())
	require.NoError(t, err)
	brokers := cluster.ListenAddrs()
	s, prefix := startGuardGateway(t, brokers, "")
	w := newGuardBlocklistWriter(t, brokers)
	acked := w.add("ip:"+guardBlockedClient, 10*time.Minute)
	guardWaitStatus(t, s, guardBlockedClient, "/watch/x", http.StatusForbidden, acked, 5*time.Second)
	snapshot := filepath.Join(prefix, "blocklist.json")
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(snapshot)
		return err == nil && bytes.Contains(data, []byte(guardBlockedClient))
	}, 5*time.Second, 50*time.Millisecond, "the guard persisted the entry")

	require.NoError(t, s.gw.Close())
	w.cl.Close()
	cluster.Close()

	restarted, _ := startGuardGateway(t, brokers, prefix)
	r := restarted.guardGet(t, guardBlockedClient, "/watch/x")
	assert.Equal(t, http.StatusForbidden, r.status, "the snapshot is enforced at once, with Kafka down")
	assert.Equal(t, http.StatusOK, restarted.guardGet(t, "", "/watch/x").status, "other clients pass")
}

// Concurrent mixed traffic through one guard process: every request gets
// the answer its route and content call for, and only allowed ones reach
// the upstream (the race detector is on in these binaries).
func TestGuardUnderConcurrentMixedTraffic(t *testing.T) {
	cluster := testkafka.Start(t)
	s, _ := startGuardGateway(t, cluster.ListenAddrs(), "")
	type req struct {
		path string
		want int
	}
	reqs := []req{
		{"/block/orders?limit=10", http.StatusOK},
		{"/block" + guardSQLiQuery, http.StatusForbidden},
		{"/watch" + guardSQLiQuery, http.StatusOK},
		{"/watch/search?q=%3Cscript%3Ealert(1)%3C/script%3E", http.StatusOK},
		{"/block/search?q=%3Cscript%3Ealert(1)%3C/script%3E", http.StatusForbidden},
	}
	const rounds = 20
	errs := make(chan error, rounds*len(reqs))
	var allowed int64
	for _, r := range reqs {
		if r.want == http.StatusOK {
			allowed += rounds
		}
	}
	sem := make(chan struct{}, 8)
	for i := 0; i < rounds; i++ {
		for _, r := range reqs {
			sem <- struct{}{}
			go func(r req) {
				defer func() { <-sem }()
				resp, err := http.Get(s.gw.URL() + r.path)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != r.want {
					errs <- fmt.Errorf("%s: got %d, want %d", r.path, resp.StatusCode, r.want)
					return
				}
				errs <- nil
			}(r)
		}
	}
	for i := 0; i < rounds*len(reqs); i++ {
		assert.NoError(t, <-errs)
	}
	assert.Equal(t, allowed, s.hits.Load(), "exactly the allowed requests reached the upstream")
}

// naivePluginSource is the comparison plugin of the issue: a go-pdk
// plugin reading the request the obvious way, with five PDK calls and no
// detection at all. go-pdk's own server cannot be built in this module
// (its dependencies are not in go.sum), so it runs on our plugin server,
// which costs the same per call or less.
const naivePluginSource = `package main

import (
	"github.com/Kong/go-pdk"

	"github.com/gatewatch/gatewatch/pkg/pluginserver"
)

type Config struct{}

func (c *Config) Access(kong *pdk.PDK) {
	_, _ = kong.Request.GetMethod()
	_, _ = kong.Request.GetPath()
	_, _ = kong.Request.GetRawQuery()
	_, _ = kong.Request.GetHeaders(-1)
	_, _ = kong.Client.GetIp()
}

func main() {
	pluginserver.Main(pluginserver.Plugin{Name: "naive-guard", Version: "0.1.0", Priority: 1010,
		New: func() any { return &Config{} }}, pluginserver.Hooks{})
}
`

// buildNaivePlugin builds naivePluginSource inside this module without
// writing into the tree: a build overlay places the file in a package
// directory that exists only for the build.
func buildNaivePlugin(b *testing.B, dir string) string {
	src := filepath.Join(dir, "naive.go")
	require.NoError(b, os.WriteFile(src, []byte(naivePluginSource), 0o600))
	pkgDir, err := filepath.Abs("naive-guard-overlay")
	require.NoError(b, err)
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(pkgDir, "main.go"): src}})
	require.NoError(b, err)
	ov := filepath.Join(dir, "overlay.json")
	require.NoError(b, os.WriteFile(ov, overlay, 0o600))
	bin := filepath.Join(dir, "naive-guard")
	out, err := exec.Command("go", "build", "-overlay", ov, "-o", bin, "./naive-guard-overlay").CombinedOutput()
	require.NoError(b, err, "%s", out)
	return bin
}

// BenchmarkGuardThroughKongsim is the guard's overhead per request as a
// client sees it through kongsim: kongsim alone (no external plugin), with
// the guard on a benign GET (two PDK calls, detection included), and with
// the naive five-call plugin. The plugins are built without -race here,
// unlike the binaries TestMain builds, so the figures are production
// costs. plugin-rpc-ns/op is the time kongsim spent in the plugin's access
// event.
func BenchmarkGuardThroughKongsim(b *testing.B) {
	dir, err := os.MkdirTemp("/tmp", "gwb")
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	guardBin := filepath.Join(dir, "gatewatch-guard")
	out, err := exec.Command("go", "build", "-o", guardBin, "../../pluginserver/gatewatch-guard").CombinedOutput()
	require.NoError(b, err, "%s", out)
	naiveBin := buildNaivePlugin(b, dir)

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer upstream.Close()
	for _, tc := range []struct {
		name, plugin, bin string
		calls             int
	}{
		{"kongsim alone", "", "", 0},
		{"kongsim with the guard, benign GET", "gatewatch-guard", guardBin, 2},
		{"kongsim with a naive five-call plugin", "naive-guard", naiveBin, 5},
	} {
		b.Run(tc.name, func(b *testing.B) {
			prefix, err := os.MkdirTemp(dir, "p")
			require.NoError(b, err)
			yml := "_format_version: \"3.0\"\nservices:\n  - name: demo\n    url: " + upstream.URL +
				"\n    routes:\n      - name: r\n        paths: [\"/\"]\n"
			conf := map[string]string{"plugins": "bundled"}
			if tc.plugin != "" {
				yml += "plugins:\n  - name: " + tc.plugin + "\n"
				key := "pluginserver_" + strings.ReplaceAll(tc.plugin, "-", "_")
				conf = map[string]string{
					"plugins":            "bundled," + tc.plugin,
					"pluginserver_names": tc.plugin,
					key + "_socket":      filepath.Join(prefix, tc.plugin+".socket"),
					key + "_start_cmd":   tc.bin + " -kong-prefix " + prefix,
					key + "_query_cmd":   tc.bin + " -dump",
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			gw, err := kongsim.Start(ctx, kongsim.Options{Prefix: prefix, ProxyListen: "127.0.0.1:0",
				Declarative: []byte(yml), Conf: conf})
			require.NoError(b, err)
			defer gw.Close()
			url := gw.URL() + "/api/v1/orders/4711?limit=20"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			get := func() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			for i := 0; i < 50; i++ { // warm connections and instances
				get()
			}
			before := gw.Stats().Total(tc.plugin, "access")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				get()
			}
			b.StopTimer()
			if tc.plugin == "" {
				return
			}
			after := gw.Stats().Total(tc.plugin, "access")
			events := after.Events - before.Events
			require.Equal(b, b.N, events, "one access event per request")
			require.Equal(b, tc.calls*events, after.PDKCalls-before.PDKCalls)
			b.ReportMetric(float64(after.RPCTime-before.RPCTime)/float64(events), "plugin-rpc-ns/op")
			b.ReportMetric(float64(tc.calls), "pdk-calls/op")
		})
	}
}
