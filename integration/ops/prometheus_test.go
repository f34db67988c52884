package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/integration/kongsim"
	"github.com/gatewatch/gatewatch/internal/testkafka"
)

// TestPrometheusScrapesBothPluginServers starts the real plugin servers
// behind kongsim (as integration/e2e does), each with its own metrics
// listener, and Debian's Prometheus with gatewatch-rules.yml loaded,
// scraping both; then drives authentication failures through Kong and
// asks Prometheus for the security-event rate.
func TestPrometheusScrapesBothPluginServers(t *testing.T) {
	t.Parallel()
	promBin := tool(t, "prometheus", "prometheus")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(upstream.Close)
	cluster := testkafka.Start(t)

	prefix, err := os.MkdirTemp("/tmp", "gwops") // unix socket paths stay short
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(prefix) })
	monitorPort, guardPort := freePort(t, "tcp"), freePort(t, "tcp")
	conf := map[string]string{
		"plugins":            "bundled,gatewatch,gatewatch-guard",
		"pluginserver_names": "gatewatch,gatewatch-guard",
	}
	for name, port := range map[string]int{"gatewatch": monitorPort, "gatewatch-guard": guardPort} {
		cfg := filepath.Join(prefix, name+".yaml")
		require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("metrics:\n  addr: \"127.0.0.1:%d\"\n", port)), 0o600))
		key := "pluginserver_" + strings.ReplaceAll(name, "-", "_")
		conf[key+"_socket"] = filepath.Join(prefix, name+".socket")
		conf[key+"_start_cmd"] = filepath.Join(binDir, name) + " -kong-prefix " + prefix + " -config " + cfg
		conf[key+"_query_cmd"] = filepath.Join(binDir, name) + " -dump"
	}
	kongYML, err := os.ReadFile("../../kong-conf/kong.yml")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw, err := kongsim.Start(ctx, kongsim.Options{
		KongVersion: "3.9",
		Prefix:      prefix,
		ProxyListen: "127.0.0.1:0",
		Declarative: []byte(strings.ReplaceAll(string(kongYML), "http://127.0.0.1:9000", upstream.URL)),
		Conf:        conf,
		Env: []string{
			"GATEWATCH_KAFKA_BROKERS=" + strings.Join(cluster.ListenAddrs(), ","),
			"GATEWATCH_SPOOL_DIR=" + filepath.Join(prefix, "spool"),
		},
		Stderr: logWriter{t},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })

	// Prometheus, scraping every second, with the shipped rules.
	promDirTmp := t.TempDir()
	rules, err := filepath.Abs(filepath.Join(promDir, "gatewatch-rules.yml"))
	require.NoError(t, err)
	promConf := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: gatewatch
    static_configs: [{targets: ["127.0.0.1:%d"]}]
  - job_name: gatewatch-guard
    static_configs: [{targets: ["127.0.0.1:%d"]}]
`, rules, monitorPort, guardPort)
	require.NoError(t, os.WriteFile(filepath.Join(promDirTmp, "prometheus.yml"), []byte(promConf), 0o644))
	webPort := freePort(t, "tcp")
	prom := exec.Command(promBin, "--config.file="+filepath.Join(promDirTmp, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDirTmp, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(webPort), "--log.level=warn")
	prom.Stdout, prom.Stderr = logWriter{t}, logWriter{t}
	require.NoError(t, prom.Start())
	t.Cleanup(func() {
		_ = prom.Process.Signal(syscall.SIGTERM)
		_, _ = prom.Process.Wait()
	})
	promURL := "http://127.0.0.1:" + strconv.Itoa(webPort)

	query := func(q string) (float64, bool) {
		resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" || len(r.Data.Result) == 0 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}

	// Both plugin servers are up as Prometheus targets.
	require.Eventually(t, func() bool {
		v, ok := query(`sum(up{job=~"gatewatch|gatewatch-guard"})`)
		return ok && v == 2
	}, 30*time.Second, 250*time.Millisecond, "Prometheus scrapes both plugin servers")

	// Authentication failures through Kong, spread over a few scrapes.
	deadline := time.Now().Add(40 * time.Second)
	for {
		for range 5 {
			resp, err := http.Get(gw.URL() + "/orders")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			resp, err = http.Get(gw.URL() + "/public") // passes the guard
			require.NoError(t, err)
			resp.Body.Close()
		}
		if v, ok := query(`sum(rate(gatewatch_events_total{type="auth.failure"}[15s]))`); ok && v > 0 {
			t.Logf("auth.failure rate seen by Prometheus: %.3f/s", v)
			break
		}
		require.True(t, time.Now().Before(deadline), "Prometheus never saw a non-zero auth.failure rate")
		time.Sleep(500 * time.Millisecond)
	}
	// The guard's own series reach Prometheus too.
	require.Eventually(t, func() bool {
		v, ok := query(`sum(gatewatch_guard_requests_total)`)
		return ok && v > 0
	}, 10*time.Second, 250*time.Millisecond, "the guard's inspected requests")
	// And the real Prometheus loaded the shipped rules (their first
	// evaluation is up to a group interval away; promtool tests them).
	resp, err := http.Get(promURL + "/api/v1/rules")
	require.NoError(t, err)
	defer resp.Body.Close()
	var rl struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rl))
	loaded := 0
	for _, g := range rl.Data.Groups {
		for _, r := range g.Rules {
			require.NotEqual(t, "err", r.Health, r.Name)
			loaded++
		}
	}
	require.Equal(t, len(loadPromRules(t).all()), loaded, "every rule of gatewatch-rules.yml is loaded")
}

// logWriter sends a child's output to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
