package ops

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type promRule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type promRuleFile struct {
	Groups []struct {
		Name  string     `yaml:"name"`
		Rules []promRule `yaml:"rules"`
	} `yaml:"groups"`
}

func (f *promRuleFile) alerts() []promRule {
	var out []promRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

func (f *promRuleFile) all() []promRule {
	var out []promRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func loadYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

func loadPromRules(t *testing.T) *promRuleFile {
	var f promRuleFile
	loadYAML(t, filepath.Join(promDir, "gatewatch-rules.yml"), &f)
	require.NotEmpty(t, f.alerts())
	return &f
}

type promTests struct{ fires, quiet map[string]bool }

func loadPromTests(t *testing.T) promTests {
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	loadYAML(t, filepath.Join(promDir, "gatewatch-rules.test.yml"), &f)
	pt := promTests{fires: map[string]bool{}, quiet: map[string]bool{}}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				pt.fires[a.Alertname] = true
			} else {
				pt.quiet[a.Alertname] = true
			}
		}
	}
	return pt
}
