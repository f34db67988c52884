// Package testalertmanager runs the real Prometheus Alertmanager (Debian
// package prometheus-alertmanager) on 127.0.0.1 for tests, with a config
// that routes every alert to a receiver that does nothing, and reads its
// alerts back through API v2.
package testalertmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Bin is where Debian installs Alertmanager.
const Bin = "/usr/bin/prometheus-alertmanager"

// Start runs Alertmanager for the duration of the test and returns its
// base URL. A missing binary fails the test, naming the setup script.
func Start(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		t.Fatalf("%s not found: run scripts/setup.sh (Debian package prometheus-alertmanager)", Bin)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(Bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager did not become ready on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alert is an alert as API v2 returns it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds (active ones, by the API's
// defaults).
func Alerts(t testing.TB, url string) []Alert {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("alertmanager: %v", err)
	}
	defer resp.Body.Close()
	var out []Alert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("alertmanager: decode alerts: %v", err)
	}
	return out
}

// Describe is for failure messages.
func Describe(as []Alert) string {
	var b bytes.Buffer
	for _, a := range as {
		fmt.Fprintf(&b, "%v ends %s; ", a.Labels, a.EndsAt.Format(time.RFC3339))
	}
	return b.String()
}
