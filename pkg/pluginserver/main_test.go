package pluginserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/config"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema/metaschematest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func noEnv(string) string { return "" }

func TestDumpMatchesGolden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-dump"}, testPlugin(&observed{}), Hooks{}, &stdout, &stderr, noEnv)
	require.Equal(t, 0, code, stderr.String())

	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, stdout.Bytes(), "", "  "))
	golden := filepath.Join("testdata", "dump.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), pretty.String())

	// What Kong reads (kong-reference §1.2), checked field by field.
	var info struct {
		Protocol string
		Plugins  []struct {
			Name     string
			Priority float64
			Version  string
			Phases   []string
			Schema   map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &info))
	assert.Equal(t, "ProtoBuf:1", info.Protocol)
	require.Len(t, info.Plugins, 1)
	assert.Equal(t, "test-plugin", info.Plugins[0].Name)
	assert.Equal(t, float64(1010), info.Plugins[0].Priority)
	assert.Equal(t, "1.2.3", info.Plugins[0].Version)
	assert.Equal(t, []string{"access"}, info.Plugins[0].Phases)
	assert.Equal(t, "test-plugin", info.Plugins[0].Schema["name"])
	assert.NotContains(t, stdout.String(), "omitempty", "json options must not leak into field names")
	schema, err := json.Marshal(info.Plugins[0].Schema)
	require.NoError(t, err)
	require.NoError(t, metaschematest.Check(schema))
}

type badTagConfig struct {
	Mode string `json:"mode" kong:"default=fast;one_of=monitor|block"`
}

func (*badTagConfig) Access(*pdk.PDK) {}

func TestRunRefuses(t *testing.T) {
	dir := shortTempDir(t)
	badYAML := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badYAML, []byte("kafka:\n  topic: events\n  batch_sise: 10\n"), 0o600))

	cases := []struct {
		name     string
		args     []string
		plugin   Plugin
		hooks    Hooks
		wantCode int
		wantErr  []string
	}{
		{"an unknown key in the settings file is refused with its name and line",
			[]string{"-config", badYAML, "-kong-prefix", dir}, testPlugin(&observed{}), Hooks{}, 1,
			[]string{"line 3", `"kafka.batch_sise"`}},
		{"a missing settings file is refused",
			[]string{"-config", filepath.Join(dir, "missing.yaml"), "-kong-prefix", dir}, testPlugin(&observed{}), Hooks{}, 1,
			[]string{"missing.yaml"}},
		{"an unknown flag is a usage error",
			[]string{"-verbose"}, testPlugin(&observed{}), Hooks{}, 2,
			[]string{"flag provided but not defined: -verbose"}},
		{"a stray argument is a usage error",
			[]string{"serve"}, testPlugin(&observed{}), Hooks{}, 2,
			[]string{`unexpected argument "serve"`}},
		{"a default outside one_of fails the dump",
			[]string{"-dump"}, Plugin{Name: "bad", Version: "1.0.0", New: func() any { return &badTagConfig{} }}, Hooks{}, 1,
			[]string{"Mode", "default", "one of"}},
		{"a version Kong cannot parse fails the dump",
			[]string{"-dump"}, Plugin{Name: "bad", Version: "1.0.0.0", New: func() any { return &testConfig{} }}, Hooks{}, 1,
			[]string{"x.y.z"}},
		{"a start hook error stops the process before it listens",
			[]string{"-kong-prefix", dir}, testPlugin(&observed{}),
			Hooks{Start: func(context.Context, *config.Process, *slog.Logger) (func(context.Context) error, error) {
				return nil, errors.New("no brokers reachable")
			}}, 1,
			[]string{"start: no brokers reachable"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, tc.plugin, tc.hooks, &stdout, &stderr, noEnv)
			assert.Equal(t, tc.wantCode, code)
			for _, s := range tc.wantErr {
				assert.Contains(t, stderr.String(), s)
			}
			assert.Empty(t, stdout.String())
			_, err := os.Stat(filepath.Join(dir, "test-plugin.socket"))
			assert.True(t, os.IsNotExist(err), "nothing may listen after a refusal")
		})
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	dir := shortTempDir(t)
	socket := filepath.Join(dir, "test-plugin.socket")
	var stopped atomic.Bool
	gotTopic := make(chan string, 1)
	hooks := Hooks{Start: func(_ context.Context, proc *config.Process, _ *slog.Logger) (func(context.Context) error, error) {
		gotTopic <- proc.Kafka.Topic
		return func(ctx context.Context) error {
			_, hasDeadline := ctx.Deadline()
			if !hasDeadline {
				return errors.New("stop needs a deadline")
			}
			stopped.Store(true)
			return nil
		}, nil
	}}
	env := func(k string) string {
		if k == config.EnvKafkaTopic {
			return "from.env"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	errOut := &syncWriter{w: &stderr}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-kong-prefix", dir}, testPlugin(&observed{}), hooks, &bytes.Buffer{}, errOut, env)
	}()
	// The socket file appears only once it accepts (Listen renames it into
	// place), so connecting right away must work, as Kong does.
	waitFor(t, func() bool { _, err := os.Stat(socket); return err == nil })
	assert.Equal(t, "from.env", <-gotTopic, "the environment must reach the start hook")

	k := dialKong(t, socket)
	st, err := k.start(`{"__seq__":5}`)
	require.NoError(t, err)
	_, err = k.event(st.InstanceId, "access", hostBridge)
	require.NoError(t, err)

	cancel() // what SIGTERM does through signal.NotifyContext
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancellation")
	}
	assert.True(t, stopped.Load(), "the stop hook must run")
	_, err = os.Stat(socket)
	assert.True(t, os.IsNotExist(err), "the socket file must be removed")
	errOut.mu.Lock()
	assert.True(t, strings.Contains(stderr.String(), "stopped"))
	errOut.mu.Unlock()
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
