package ops

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const promDir = "../../kong-conf/prometheus"

func runTool(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", bin, strings.Join(args, " "), out)
	return string(out)
}

func TestPrometheusRulesPassPromtool(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	t.Run("the rule file is valid", func(t *testing.T) {
		out := runTool(t, promDir, promtool, "check", "rules", "gatewatch-rules.yml")
		assert.Contains(t, out, "SUCCESS")
	})
	t.Run("every alert's unit tests pass", func(t *testing.T) {
		out := runTool(t, promDir, promtool, "test", "rules", "gatewatch-rules.test.yml")
		assert.Contains(t, out, "SUCCESS")
	})
	t.Run("the scrape configuration and the rules it loads are valid", func(t *testing.T) {
		out := runTool(t, promDir, promtool, "check", "config", "prometheus.yml")
		assert.Contains(t, out, "SUCCESS")
	})
}

func TestEveryAlertHasAFiringAndAQuietUnitTest(t *testing.T) {
	rules := loadPromRules(t)
	tests := loadPromTests(t)
	for _, a := range rules.alerts() {
		assert.True(t, tests.fires[a.Alert], "%s: no promtool test where it fires", a.Alert)
		assert.True(t, tests.quiet[a.Alert], "%s: no promtool test where it stays quiet", a.Alert)
	}
}

func TestAlertmanagerConfigRoutes(t *testing.T) {
	amtool := tool(t, "amtool", "prometheus-alertmanager")
	const file = "../../kong-conf/alertmanager/alertmanager.yml"
	out := runTool(t, ".", amtool, "check-config", file)
	assert.Contains(t, out, "SUCCESS")
	tests := []struct {
		name   string
		labels []string
		want   string
	}{
		{"a critical security alert pages security", []string{"team=security", "severity=critical", "alertname=GatewatchEventsLost"}, "security-pager"},
		{"a security warning goes to the security channel", []string{"team=security", "severity=warning", "alertname=GatewatchAttackRateHigh"}, "security-chat"},
		{"a gwctl alert rule's high alert goes to the security channel", []string{"team=security", "severity=high", "alertname=auth-brute-force"}, "security-chat"},
		{"a critical platform alert pages platform", []string{"team=platform", "severity=critical", "alertname=GatewatchKafkaUnreachable"}, "platform-pager"},
		{"a platform warning goes to the platform channel", []string{"team=platform", "severity=warning"}, "platform-chat"},
		{"an alert without a team goes to the default", []string{"severity=info"}, "platform-chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file", file}, tt.labels...)
			out := runTool(t, ".", amtool, args...)
			assert.Equal(t, tt.want, strings.TrimSpace(lastLine(out)))
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "Warning:") {
			return lines[i]
		}
	}
	return ""
}
