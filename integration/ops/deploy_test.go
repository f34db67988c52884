package ops

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/gatewatch/gatewatch/integration/kongsim"
	"github.com/gatewatch/gatewatch/pkg/config"
	"github.com/gatewatch/gatewatch/plugins/guard"
	"github.com/gatewatch/gatewatch/plugins/monitor"
)

// The deployment files cannot run here (no container engine, no Kong, no
// Kubernetes). These tests check what can be checked offline: that they
// parse, that every file they mount exists, that the kong.conf they
// express is the one kongsim and the end-to-end tests run with, that the
// process and plugin configs decode with gatewatch's own types, and that
// every gwctl command line they start is accepted by gwctl.

const deployDir = "../../kong-conf/deploy"

func repoKongConf(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../kong-conf/kong.conf")
	require.NoError(t, err)
	conf, err := kongsim.ParseKongConf(bytes.NewReader(b))
	require.NoError(t, err)
	require.NotEmpty(t, conf["pluginserver_names"])
	return conf
}

// dockerfileEnv returns the KONG_* variables of the Dockerfile's ENV
// instructions as kong.conf properties.
func dockerfileEnv(t *testing.T, text string) map[string]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	props := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ENV ")
		if !ok {
			continue
		}
		for _, kv := range splitQuoted(t, rest) {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, "ENV %q", kv)
			if name, ok := strings.CutPrefix(k, "KONG_"); ok {
				props[strings.ToLower(name)] = v
			}
		}
	}
	return props
}

// splitQuoted splits on spaces outside double quotes and drops the quotes.
func splitQuoted(t *testing.T, s string) []string {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, have = !inQ, true
		case (r == ' ' || r == '\t') && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	require.False(t, inQ, "unbalanced quote in %q", s)
	if have {
		out = append(out, cur.String())
	}
	return out
}

func TestDockerfileCarriesTheKongConfLines(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	require.NoError(t, err)
	text := string(b)
	assert.Regexp(t, `(?m)^FROM kong:3\.\d+`, text, "the official Kong 3.x image")
	env := dockerfileEnv(t, text)
	var lines []string
	for k, v := range env {
		lines = append(lines, k+" = "+v)
	}
	conf, err := kongsim.ParseKongConf(strings.NewReader(strings.Join(lines, "\n")))
	require.NoError(t, err, "kongsim accepts the ENV lines as kong.conf")
	assert.Equal(t, repoKongConf(t), conf, "the image sets exactly kong-conf/kong.conf")
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "COPY kong-conf/"); ok {
			for _, src := range strings.Fields("kong-conf/" + rest) {
				if strings.HasPrefix(src, "kong-conf/") {
					assert.FileExists(t, filepath.Join("../..", src))
				}
			}
		}
	}
	for _, pkg := range []string{"./pluginserver/gatewatch", "./pluginserver/gatewatch-guard", "./cmd/gwctl"} {
		assert.Contains(t, text, pkg, "the image builds what the tests build")
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string                                `yaml:"image"`
		Build       *struct{ Context, Dockerfile string } `yaml:"build"`
		Entrypoint  []string                              `yaml:"entrypoint"`
		Environment map[string]string                     `yaml:"environment"`
		Volumes     []string                              `yaml:"volumes"`
		NetworkMode string                                `yaml:"network_mode"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFileIsConsistent(t *testing.T) {
	var c composeFile
	loadYAML(t, filepath.Join(deployDir, "compose.yaml"), &c)
	for _, s := range []string{"kafka", "kafka-topics", "kong", "gatewatch-alert", "gatewatch-errlog", "prometheus", "alertmanager", "grafana"} {
		assert.Contains(t, c.Services, s)
	}
	kong := c.Services["kong"]
	assert.Equal(t, "off", kong.Environment["KONG_DATABASE"], "Kong runs DB-less")
	require.NotNil(t, kong.Build)
	assert.FileExists(t, filepath.Join(deployDir, kong.Build.Context, kong.Build.Dockerfile))
	assert.Contains(t, c.Services["kafka"].Environment["KAFKA_PROCESS_ROLES"], "controller", "Kafka runs in KRaft mode")
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				_, err := os.Stat(filepath.Join(deployDir, src))
				assert.NoError(t, err, "service %s mounts %s", name, src)
			} else {
				assert.Contains(t, c.Volumes, src, "service %s: named volume %s is declared", name, src)
			}
		}
		if strings.HasPrefix(s.NetworkMode, "service:") {
			assert.Contains(t, c.Services, strings.TrimPrefix(s.NetworkMode, "service:"))
		}
		// gwctl command lines: the subcommand exists and takes the flags.
		if len(s.Entrypoint) > 1 && filepath.Base(s.Entrypoint[0]) == "gwctl" {
			args := append(append([]string(nil), s.Entrypoint[1:]...), "-h")
			out, err := exec.Command(filepath.Join(binDir, "gwctl"), args...).CombinedOutput()
			assert.NoError(t, err, "service %s: gwctl %s\n%s", name, strings.Join(args, " "), out)
		}
	}
}

func TestDeployProcessConfigsLoad(t *testing.T) {
	for _, tt := range []struct{ file, addr string }{
		{"gatewatch.yaml", "0.0.0.0:9542"},
		{"gatewatch-guard.yaml", "0.0.0.0:9543"},
	} {
		t.Run(tt.file+" loads with gatewatch's config package", func(t *testing.T) {
			p, err := config.Load(filepath.Join(deployDir, tt.file), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.addr, p.Metrics.Addr)
		})
	}
}

func TestKubernetesExamples(t *testing.T) {
	t.Run("the Helm values set the kong.conf lines", func(t *testing.T) {
		var v struct {
			Env map[string]string `yaml:"env"`
		}
		loadYAML(t, filepath.Join(deployDir, "k8s", "helm-values.yaml"), &v)
		for k, want := range repoKongConf(t) {
			got := v.Env[k]
			// The chart's image keeps the binaries where the Dockerfile puts them.
			assert.Equal(t, want, got, "env.%s", k)
		}
	})
	t.Run("the KongPlugin configs decode with the plugins' config types", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(deployDir, "k8s", "kong-plugins.yaml"))
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		n := 0
		for {
			var doc struct {
				APIVersion string         `yaml:"apiVersion"`
				Kind       string         `yaml:"kind"`
				Plugin     string         `yaml:"plugin"`
				Config     map[string]any `yaml:"config"`
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			n++
			assert.Equal(t, "configuration.konghq.com/v1", doc.APIVersion)
			assert.Contains(t, []string{"KongPlugin", "KongClusterPlugin"}, doc.Kind)
			js, err := json.Marshal(doc.Config)
			require.NoError(t, err)
			jd := json.NewDecoder(bytes.NewReader(js))
			jd.DisallowUnknownFields()
			switch doc.Plugin {
			case "gatewatch":
				var c monitor.Config
				assert.NoError(t, jd.Decode(&c), "gatewatch config %s", js)
			case "gatewatch-guard":
				var c guard.Config
				assert.NoError(t, jd.Decode(&c), "gatewatch-guard config %s", js)
			default:
				t.Errorf("unknown plugin %q", doc.Plugin)
			}
		}
		assert.Equal(t, 3, n)
	})
}
