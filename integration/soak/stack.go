package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gatewatch/gatewatch/integration/kongsim"
)

// Topics seeded in the soak's cluster.
var topics = []string{"gatewatch.events", "gatewatch.alerts", "gatewatch.blocklist"}

// RepoRoot finds the gatewatch checkout from dir upwards (the directory
// holding go.mod of module github.com/gatewatch/gatewatch).
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for i := 0; i < 10; i++ {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/gatewatch/gatewatch\n")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("soak: no gatewatch checkout (go.mod) at or above %s", dir)
}

// CorpusDir is ../shared/corpus beside the checkout; it fails loudly when
// it is absent.
func CorpusDir(root string) (string, error) {
	d := filepath.Join(filepath.Dir(root), "shared", "corpus")
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", fmt.Errorf("soak: attack corpus not found at %s (CI checks out ../shared/corpus beside the repository): %v", d, err)
	}
	return d, nil
}

// BuildBinaries builds bin/gatewatch, bin/gatewatch-guard and gwctl into
// dir (without -race: the soak measures, and must fit in make test).
func BuildBinaries(root, dir string) error {
	for name, pkg := range map[string]string{
		"gatewatch":       "./pluginserver/gatewatch",
		"gatewatch-guard": "./pluginserver/gatewatch-guard",
		"gwctl":           "./cmd/gwctl",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("soak: go build %s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// kongYML is kong-conf/kong.yml with the soak's upstream, a rate-limited
// route, and the guard in mode (monitor or block).
func kongYML(root, upstream, guardMode string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(root, "kong-conf", "kong.yml"))
	if err != nil {
		return nil, err
	}
	s := strings.ReplaceAll(string(data), "http://127.0.0.1:9000", upstream)
	const routesAnchor = "      - name: public\n"
	if !strings.Contains(s, routesAnchor) {
		return nil, errors.New("soak: kong-conf/kong.yml has no public route to anchor the rate-limited route on")
	}
	s = strings.Replace(s, routesAnchor, `      - name: limited
        paths: ["/limited"]
        plugins:
          - name: rate-limiting
            config:
              second: 20
              policy: local
              limit_by: ip
`+routesAnchor, 1)
	const guardAnchor = "  - name: gatewatch-guard\n"
	if !strings.HasSuffix(strings.TrimRight(s, "\n")+"\n", guardAnchor) {
		return nil, errors.New("soak: kong-conf/kong.yml no longer ends with the global gatewatch-guard plugin")
	}
	s = strings.TrimRight(s, "\n") + "\n    config:\n      mode: " + guardMode + "\n"
	return []byte(s), nil
}

// bareKongYML is the same routes without the gatewatch plugins: the
// latency baseline.
func bareKongYML(full []byte) []byte {
	s := string(full)
	if i := strings.Index(s, "\nplugins:\n"); i >= 0 {
		s = s[:i+1]
	}
	return []byte(s)
}

// stack is the running pipeline.
type stack struct {
	root, bin, dir string
	log            *lockedFile

	upstream *httptest.Server
	cluster  *kfake.Cluster
	brokers  []string
	outage   atomic.Bool

	gw            *kongsim.Gateway
	monitorConf   string
	monitorMetric string
	guardMetric   string
	spoolDir      string

	alertCmd  *exec.Cmd
	alertDone chan error
}

type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *lockedFile) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(b)
}

func (l *lockedFile) Printf(format string, args ...any) {
	fmt.Fprintf(l, time.Now().UTC().Format("15:04:05.000")+" [soak] "+format+"\n", args...)
}

var errOutage = errors.New("soak: broker outage")

func monitorYAML(brokers []string, spoolDir string, maxBytes int64, metrics, dir string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
spool:
  dir: %s
  max_bytes: %d
metrics:
  addr: %q
blocklist:
  snapshot_file: %s
`, strings.Join(brokers, ", "), spoolDir, maxBytes, metrics, filepath.Join(dir, "monitor-blocklist.snapshot"))
}

// startStack starts upstream, kfake (3 brokers), kongsim with both plugin
// servers and gwctl alert.
func startStack(ctx context.Context, root, bin, dir string, log *lockedFile, rulesFile string) (*stack, error) {
	s := &stack{root: root, bin: bin, dir: dir, log: log}
	s.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"path":%q}`, r.URL.Path)
	}))
	var err error
	s.cluster, err = kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		s.close()
		return nil, fmt.Errorf("soak: kfake: %w", err)
	}
	s.brokers = s.cluster.ListenAddrs()
	// The outage: while set, every produce request's connection is closed,
	// as when the brokers are unreachable for producers.
	s.cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		s.cluster.KeepControl()
		if s.outage.Load() {
			return nil, errOutage, true
		}
		return nil, nil, false
	})

	mp, err := freePort()
	if err != nil {
		s.close()
		return nil, err
	}
	gp, err := freePort()
	if err != nil {
		s.close()
		return nil, err
	}
	s.monitorMetric = "127.0.0.1:" + strconv.Itoa(mp)
	s.guardMetric = "127.0.0.1:" + strconv.Itoa(gp)
	s.spoolDir = filepath.Join(dir, "spool")
	s.monitorConf = filepath.Join(dir, "gatewatch.yaml")
	if err := os.WriteFile(s.monitorConf, []byte(monitorYAML(s.brokers, s.spoolDir, 1<<30, s.monitorMetric, dir)), 0o600); err != nil {
		s.close()
		return nil, err
	}
	guardConf := filepath.Join(dir, "gatewatch-guard.yaml")
	if err := os.WriteFile(guardConf, []byte(fmt.Sprintf("kafka:\n  brokers: [%s]\nmetrics:\n  addr: %q\nblocklist:\n  snapshot_file: %s\n",
		strings.Join(s.brokers, ", "), s.guardMetric, filepath.Join(dir, "guard-blocklist.snapshot"))), 0o600); err != nil {
		s.close()
		return nil, err
	}
	yml, err := kongYML(root, s.upstream.URL, "monitor")
	if err != nil {
		s.close()
		return nil, err
	}
	conf := map[string]string{
		"plugins":            "bundled,gatewatch,gatewatch-guard",
		"pluginserver_names": "gatewatch,gatewatch-guard",
	}
	for name, cfg := range map[string]string{"gatewatch": s.monitorConf, "gatewatch-guard": guardConf} {
		key := "pluginserver_" + strings.ReplaceAll(name, "-", "_")
		conf[key+"_socket"] = filepath.Join(dir, name+".socket")
		conf[key+"_start_cmd"] = filepath.Join(bin, name) + " -kong-prefix " + dir + " -config " + cfg
		conf[key+"_query_cmd"] = filepath.Join(bin, name) + " -dump"
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s.gw, err = kongsim.Start(sctx, kongsim.Options{
		KongVersion: "3.9", Prefix: dir, ProxyListen: "127.0.0.1:0",
		Declarative: yml, Conf: conf,
		Env:    []string{"GATEWATCH_KAFKA_BROKERS=" + strings.Join(s.brokers, ",")},
		Stderr: log,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("soak: kongsim: %w", err)
	}

	s.alertCmd = exec.Command(filepath.Join(bin, "gwctl"), "alert", "-rules", rulesFile,
		"-brokers", strings.Join(s.brokers, ","), "-group", "soak-alert", "-from-start", "-tick", "250ms")
	s.alertCmd.Stdout, s.alertCmd.Stderr = prefixWriter{log, "[gwctl alert] "}, prefixWriter{log, "[gwctl alert] "}
	if err := s.alertCmd.Start(); err != nil {
		s.close()
		return nil, fmt.Errorf("soak: gwctl alert: %w", err)
	}
	s.alertDone = make(chan error, 1)
	go func() { s.alertDone <- s.alertCmd.Wait() }()
	return s, nil
}

type prefixWriter struct {
	w      *lockedFile
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, sc.Text())
	}
	return len(b), nil
}

// stopAlert SIGTERMs gwctl alert and waits (bounded).
func (s *stack) stopAlert() error {
	if s.alertCmd == nil || s.alertCmd.Process == nil {
		return nil
	}
	_ = s.alertCmd.Process.Signal(sigterm)
	select {
	case err := <-s.alertDone:
		s.alertCmd = nil
		return err
	case <-time.After(20 * time.Second):
		_ = s.alertCmd.Process.Kill()
		<-s.alertDone
		s.alertCmd = nil
		return errors.New("soak: gwctl alert did not stop within 20s of SIGTERM")
	}
}

func (s *stack) close() {
	_ = s.stopAlert()
	if s.gw != nil {
		_ = s.gw.Close()
	}
	if s.cluster != nil {
		s.cluster.Close()
	}
	if s.upstream != nil {
		s.upstream.Close()
	}
}

// pid of a plugin server, waiting (bounded) until it is running and its
// socket accepts.
func (s *stack) waitServer(name string, notPID int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		pid := s.gw.PluginServerPIDs()[name]
		if pid != 0 && pid != notPID {
			c, err := net.Dial("unix", filepath.Join(s.dir, name+".socket"))
			if err == nil {
				c.Close()
				return pid, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("soak: %s not back within %s", name, timeout)
}

// metrics scrapes a Prometheus text endpoint into name{labels} → value.
func scrape(addr string) (map[string]float64, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// waitDrained waits until the monitor's spool and buffer are empty.
func (s *stack) waitDrained(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last map[string]float64
	for time.Now().Before(deadline) {
		m, err := scrape(s.monitorMetric)
		if err == nil {
			last = m
			if m["gatewatch_spool_records"] == 0 && m["gatewatch_publish_buffer_depth"] == 0 && m["gatewatch_publish_broker_up"] == 1 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("soak: monitor not drained within %s: spool_records=%v buffer_depth=%v broker_up=%v",
		timeout, last["gatewatch_spool_records"], last["gatewatch_publish_buffer_depth"], last["gatewatch_publish_broker_up"])
}
