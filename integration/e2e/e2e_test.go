// Package e2e runs gatewatch's real plugin-server binaries behind kongsim
// (the Kong 3.x stand-in) against a Kafka-protocol broker, and reads what
// they published back with two independent clients: franz-go and kcat
// (librdkafka).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/integration/kongsim"
	"github.com/gatewatch/gatewatch/internal/jsonschema"
	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// binDir holds the binaries built once for the whole package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gw-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for name, pkg := range map[string]string{
		"gatewatch":       "../../pluginserver/gatewatch",
		"gatewatch-guard": "../../pluginserver/gatewatch-guard",
		"gwctl":           "../../cmd/gwctl",
	} {
		cmd := exec.Command("go", "build", "-race", "-o", filepath.Join(dir, name), pkg)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: build %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one running gateway: upstream, broker, kongsim, plugin servers.
type stack struct {
	gw       *kongsim.Gateway
	brokers  []string
	upstream *httptest.Server
	hits     atomic.Int64 // requests that reached the upstream
}

type stackOptions struct {
	kongVersion string
	extraEnv    []string
	kongYML     func(upstreamURL string) string
	// monitorConfig, when set, is written to a file passed to bin/gatewatch
	// with -config.
	monitorConfig string
	// upstream, when set, answers instead of the default JSON echo.
	upstream http.HandlerFunc
}

func defaultKongYML(upstreamURL string) string {
	data, err := os.ReadFile("../../kong-conf/kong.yml")
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(string(data), "http://127.0.0.1:9000", upstreamURL)
}

func startStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	s := &stack{}
	s.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if o.upstream != nil {
			o.upstream(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	t.Cleanup(s.upstream.Close)

	cluster := testkafka.Start(t)
	s.brokers = cluster.ListenAddrs()

	if o.kongYML == nil {
		o.kongYML = defaultKongYML
	}
	if o.kongVersion == "" {
		o.kongVersion = "3.9"
	}
	prefix := shortTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw, err := kongsim.Start(ctx, kongsim.Options{
		KongVersion: o.kongVersion,
		Prefix:      prefix,
		ProxyListen: "127.0.0.1:0",
		Declarative: []byte(o.kongYML(s.upstream.URL)),
		Conf:        pluginConf(prefix, monitorConfigFile(t, prefix, o.monitorConfig)),
		Env: append([]string{
			"GATEWATCH_KAFKA_BROKERS=" + strings.Join(s.brokers, ","),
			"GATEWATCH_SPOOL_DIR=" + filepath.Join(prefix, "spool"),
		}, o.extraEnv...),
		Stderr: testWriter{t},
	})
	require.NoError(t, err)
	s.gw = gw
	t.Cleanup(func() { _ = gw.Close() })
	return s
}

// shortTempDir keeps unix socket paths under the 108-byte limit.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/tmp", "gw")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func monitorConfigFile(t *testing.T, dir, content string) string {
	if content == "" {
		return ""
	}
	path := filepath.Join(dir, "gatewatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func pluginConf(prefix, monitorConfig string) map[string]string {
	var extra map[string]string
	if monitorConfig != "" {
		extra = map[string]string{"gatewatch": "-config " + monitorConfig}
	}
	return kongsim.PluginServerConf(binDir, prefix, extra, "gatewatch", "gatewatch-guard")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func (s *stack) get(t *testing.T, path string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.gw.URL()+path, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp
}

// readEvents reads the events topic with franz-go until n events arrived,
// then keeps reading for settle to catch events that should not exist.
func readEvents(t *testing.T, brokers []string, n int, settle time.Duration) ([]event.Event, []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := testkafka.Read(ctx, brokers, "gatewatch.events", testkafka.AtLeast(n))
	require.NoError(t, err)
	if settle > 0 {
		time.Sleep(settle)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		more, _ := testkafka.Read(ctx2, brokers, "gatewatch.events", func(rs []*kgo.Record) bool { return len(rs) > len(recs) })
		if len(more) > len(recs) {
			recs = more
		}
	}
	evs := make([]event.Event, len(recs))
	for i, r := range recs {
		require.NoError(t, json.Unmarshal(r.Value, &evs[i]), "record %d: %s", i, r.Value)
	}
	return evs, recs
}

func loadSchema(t *testing.T) *jsonschema.Schema {
	data, err := os.ReadFile("../../docs/event.schema.json")
	require.NoError(t, err)
	s, err := jsonschema.Parse(data)
	require.NoError(t, err)
	return s
}

// The walking skeleton's acceptance test: a key-auth 401 and an acl 403
// through kongsim become contract-conforming events in Kafka, read back by
// two independent clients; 200s produce nothing.
func TestKongRejectionsBecomeKafkaEvents(t *testing.T) {
	for _, version := range []string{"3.4", "3.9"} {
		t.Run("kong "+version, func(t *testing.T) {
			s := startStack(t, stackOptions{kongVersion: version})

			for i := 0; i < 3; i++ {
				resp := s.get(t, "/orders/1", map[string]string{"apikey": "alice-demo-key"})
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			resp := s.get(t, "/orders/1", map[string]string{"apikey": "not-a-key"})
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			resp = s.get(t, "/reports", map[string]string{"apikey": "alice-demo-key"})
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			require.NoError(t, s.gw.WaitIdle(context.Background()))

			evs, recs := readEvents(t, s.brokers, 2, time.Second)
			require.Len(t, evs, 2, "exactly the two rejections become events")
			schema := loadSchema(t)
			byType := map[event.Type]event.Event{}
			for i, ev := range evs {
				assert.Empty(t, schema.Validate(recs[i].Value), "event %s validates", ev.ID)
				assert.NotEqual(t, 200, ev.Response.Status, "no 200 produced an event")
				assert.Equal(t, 1, ev.SchemaVersion)
				assert.NotEmpty(t, ev.ID)
				assert.False(t, ev.Time.IsZero())
				assert.Equal(t, "127.0.0.1", ev.Client.IP)
				assert.Equal(t, "kong", ev.Response.Source)
				assert.Equal(t, []byte(ev.Client.IP), recs[i].Key, "keyed by client IP")
				headers := map[string]string{}
				for _, h := range recs[i].Headers {
					headers[h.Key] = string(h.Value)
				}
				assert.Equal(t, "1.0", headers["ce_specversion"])
				assert.Equal(t, ev.ID, headers["ce_id"])
				assert.Equal(t, string(ev.Type), headers["ce_type"])
				assert.NotEmpty(t, headers["ce_source"])
				assert.NotEmpty(t, headers["ce_time"])
				assert.Equal(t, "application/json", headers["content-type"])
				byType[ev.Type] = ev
			}
			auth, ok := byType[event.AuthFailure]
			require.True(t, ok, "an auth.failure event")
			assert.Equal(t, 401, auth.Response.Status)
			assert.Equal(t, "key-auth", auth.Detail.Mechanism)
			assert.Equal(t, "invalid_credentials", auth.Detail.Reason)
			assert.Equal(t, "orders", auth.Kong.Route.Name)
			assert.Equal(t, "demo", auth.Kong.Service.Name)
			if version >= "3.5" {
				assert.Len(t, auth.Request.ID, 32)
			}
			denied, ok := byType[event.AccessDenied]
			require.True(t, ok, "an access.denied event")
			assert.Equal(t, 403, denied.Response.Status)
			assert.Equal(t, "acl", denied.Detail.Control)
			assert.Equal(t, "alice", denied.Client.Consumer.Username)

			for _, r := range recs {
				assert.NotContains(t, string(r.Value), "not-a-key", "the API key never leaves the gateway")
				assert.NotContains(t, string(r.Value), "alice-demo-key")
			}

			// kcat (librdkafka) reads the same events.
			ids := kcatIDs(t, s.brokers[0], len(evs))
			for _, ev := range evs {
				assert.Contains(t, ids, ev.ID)
			}
		})
	}
}

// kcatIDs reads the events topic with kcat and returns the event ids.
func kcatIDs(t *testing.T, broker string, want int) []string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	require.NoError(t, err, "kcat is installed by scripts/setup.sh (make test)")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-b", broker, "-C", "-t", "gatewatch.events",
		"-o", "beginning", "-e", "-q", "-J").Output()
	require.NoError(t, err, "kcat: %s", out)
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Payload string   `json:"payload"`
			Key     string   `json:"key"`
			Headers []string `json:"headers"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "kcat line %s", sc.Text())
		var ev event.Event
		require.NoError(t, json.Unmarshal([]byte(rec.Payload), &ev))
		assert.Equal(t, ev.Client.IP, rec.Key)
		assert.Contains(t, rec.Headers, "ce_id")
		ids = append(ids, ev.ID)
	}
	require.Len(t, ids, want, "kcat sees every event")
	return ids
}

// SIGTERM with events still queued in the publisher: every one of them
// reaches Kafka before the plugin server exits.
func TestSIGTERMFlushesQueuedEvents(t *testing.T) {
	s := startStack(t, stackOptions{monitorConfig: "kafka:\n  linger: 1m\n  batch_size: 100000\n"})
	const n = 25
	for i := 0; i < n; i++ {
		resp := s.get(t, "/orders", map[string]string{"apikey": fmt.Sprintf("bad-%d", i)})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	require.NoError(t, s.gw.WaitIdle(context.Background()))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	early, _ := testkafka.Read(ctx, s.brokers, "gatewatch.events", testkafka.AtLeast(1))
	cancel()
	require.Empty(t, early, "with a one-minute linger the events are still queued")

	require.NoError(t, s.gw.Close(), "kongsim stops its plugin servers with SIGTERM")
	evs, _ := readEvents(t, s.brokers, n, 0)
	ids := map[string]bool{}
	for _, ev := range evs {
		assert.Equal(t, event.AuthFailure, ev.Type)
		ids[ev.ID] = true
	}
	assert.Len(t, ids, n, "every queued event arrived")
}

var _ = kfake.NumBrokers
