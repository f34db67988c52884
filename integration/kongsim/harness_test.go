package kongsim

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// pluginBin holds the test plugin servers, built once with go-pdk's own
// embedded server (testdata/gohello, testdata/probe).
var pluginBin string

// testPluginModule is the go.mod of the throwaway module the test plugins
// build in. go-pdk's server package needs github.com/ugorji/go/codec, which
// the main module does not require, so the build may fetch it through the
// module proxy on a fresh machine.
const testPluginModule = `module kongsimtestplugins

go 1.26

require (
	github.com/Kong/go-pdk v0.11.2
	github.com/stretchr/testify v1.12.1
	github.com/ugorji/go/codec v1.2.14
	google.golang.org/protobuf v1.36.12
)
`

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		// Fuzz workers run only fuzz targets, which need no plugin servers.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kongsim-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildTestPlugins(dir); err != nil {
		fmt.Fprintln(os.Stderr, "kongsim tests: building test plugins:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	pluginBin = filepath.Join(dir, "bin")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildTestPlugins(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(testPluginModule), 0o644); err != nil {
		return err
	}
	for _, name := range []string{"gohello", "probe"} {
		src, err := os.ReadFile(filepath.Join("testdata", name, "main.go"))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name, "main.go"), src, 0o644); err != nil {
			return err
		}
	}
	// One build for both plugins; probe-b is a copy (the binary's name is
	// the plugin's name).
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin")+"/", "./gohello", "./probe")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(dir, "bin", "gohello"), filepath.Join(dir, "bin", "go-hello")); err != nil {
		return err
	}
	probe, err := os.ReadFile(filepath.Join(dir, "bin", "probe"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bin", "probe-b"), probe, 0o755)
}

// env is one test gateway with an upstream and its plugin servers.
type env struct {
	gw       *Gateway
	upstream *httptest.Server
	prefix   string
	log      *syncbuf.Buffer
	hits     chan *http.Request
}

type envOptions struct {
	version   string
	servers   []string // plugin server binaries to load (go-hello, probe, probe-b)
	serverEnv map[string]string
	yml       string // kong.yml with UPSTREAM in place of the upstream URL
	// conf, when set, replaces the generated kong.conf properties.
	conf func(prefix string) map[string]string
	// before runs after the prefix exists and before Start.
	before func(prefix string)
}

func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("/tmp", "ks")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serverConfFor builds the kong.conf properties for the given servers.
func serverConfFor(prefix string, servers []string, serverEnv map[string]string) map[string]string {
	conf := map[string]string{"plugins": "bundled"}
	if len(servers) > 0 {
		conf["plugins"] += "," + strings.Join(servers, ",")
		conf["pluginserver_names"] = strings.Join(servers, ",")
	}
	for _, s := range servers {
		key := "pluginserver_" + strings.ReplaceAll(s, "-", "_")
		envPrefix := serverEnv[s]
		conf[key+"_start_cmd"] = envPrefix + filepath.Join(pluginBin, s) + " -kong-prefix " + prefix
		conf[key+"_query_cmd"] = envPrefix + filepath.Join(pluginBin, s) + " -dump"
	}
	return conf
}

func startEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{log: &syncbuf.Buffer{}, hits: make(chan *http.Request, 1000)}
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case e.hits <- r:
		default:
		}
		w.Header().Set("Server", "mock-upstream/1.0.0")
		w.Header().Set("X-Powered-By", "mock_upstream")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"query":%q}`, r.URL.Path, r.URL.RawQuery)
	}))
	t.Cleanup(e.upstream.Close)
	e.prefix = shortTempDir(t)
	conf := serverConfFor(e.prefix, o.servers, o.serverEnv)
	if o.conf != nil {
		conf = o.conf(e.prefix)
	}
	if o.before != nil {
		o.before(e.prefix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw, err := Start(ctx, Options{
		KongVersion: o.version,
		Prefix:      e.prefix,
		ProxyListen: "127.0.0.1:0",
		Declarative: []byte(strings.ReplaceAll(o.yml, "UPSTREAM", e.upstream.URL)),
		Conf:        conf,
		Stderr:      e.log,
	})
	require.NoError(t, err)
	e.gw = gw
	t.Cleanup(func() {
		require.NoError(t, gw.Close())
		if t.Failed() {
			t.Logf("kongsim log:\n%s", e.log.String())
		}
	})
	return e
}

// response is what a test client saw.
type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(t testing.TB, method, path string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.gw.URL()+path, nil)
	require.NoError(t, err)
	for k, v := range headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) get(t testing.TB, path string, headers map[string]string) response {
	return e.do(t, http.MethodGet, path, headers)
}

func (e *env) idle(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, e.gw.WaitIdle(ctx))
}

// probeResult is one line the probe plugin wrote.
type probeResult struct {
	Phase  string `json:"phase"`
	Action string `json:"action"`
	Value  any    `json:"value"`
	Err    string `json:"err"`
}

func readProbe(t testing.TB, path string) []probeResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []probeResult
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var r probeResult
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		out = append(out, r)
	}
	return out
}

func findProbe(rs []probeResult, phase, action string) (probeResult, bool) {
	for _, r := range rs {
		if r.Phase == phase && r.Action == action {
			return r, true
		}
	}
	return probeResult{}, false
}

// waitProbe polls the probe's output until phase/action appears: after
// kongsim aborts an event the plugin keeps running on its own.
func waitProbe(t testing.TB, path, phase, action string) []probeResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs := readProbe(t, path)
		if _, ok := findProbe(rs, phase, action); ok || time.Now().After(deadline) {
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ioCopy(dst io.Writer, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(dst, resp.Body)
}
