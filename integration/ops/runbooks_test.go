package ops

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/event"
)

const (
	runbookDir     = "../../docs/runbooks"
	runbookURLBase = "https://github.com/gatewatch/gatewatch/blob/main/docs/runbooks/"
)

// kebab turns an alert name (GatewatchPluginServerDown) into its runbook
// file name (gatewatch-plugin-server-down).
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		upper := r >= 'A' && r <= 'Z'
		if upper && i > 0 {
			prevLower := s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= '0' && s[i-1] <= '9'
			nextLower := i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z'
			if prevLower || nextLower && s[i-1] >= 'A' && s[i-1] <= 'Z' {
				b.WriteByte('-')
			}
		}
		if upper {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestEveryAlertHasARunbook(t *testing.T) {
	want := map[string]bool{}
	t.Run("every Prometheus alert links its runbook, which exists", func(t *testing.T) {
		for _, a := range loadPromRules(t).alerts() {
			name := kebab(a.Alert)
			want[name] = true
			assert.Equal(t, runbookURLBase+name+".md", a.Annotations["runbook_url"], a.Alert)
			assert.FileExists(t, filepath.Join(runbookDir, name+".md"), a.Alert)
			for _, k := range []string{"summary", "description"} {
				assert.NotEmpty(t, a.Annotations[k], "%s: annotation %s", a.Alert, k)
			}
			assert.Contains(t, []string{"critical", "warning", "info"}, a.Labels["severity"], a.Alert)
			assert.Contains(t, []string{"security", "platform"}, a.Labels["team"], a.Alert)
		}
	})
	t.Run("every gwctl alert rule links its runbook, which exists", func(t *testing.T) {
		var f struct {
			Rules []struct {
				Name        string            `yaml:"name"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		}
		loadYAML(t, "../../kong-conf/alert-rules.yaml", &f)
		require.NotEmpty(t, f.Rules)
		for _, r := range f.Rules {
			want[r.Name] = true
			url := r.Annotations["runbook_url"]
			assert.Equal(t, "docs/runbooks/"+r.Name+".md", url, r.Name)
			assert.FileExists(t, filepath.Join("../..", url), r.Name)
		}
	})
	t.Run("every runbook belongs to an alert", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(runbookDir, "*.md"))
		require.NoError(t, err)
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".md")
			assert.True(t, want[name], "%s names no alert", f)
		}
	})
	t.Run("the kebab case of alert names", func(t *testing.T) {
		assert.Equal(t, "gatewatch-route-latency-p99-high", kebab("GatewatchRouteLatencyP99High"))
		assert.Equal(t, "kong-nginx-connections-high", kebab("KongNginxConnectionsHigh"))
	})
}

// gwctlCommands returns the gwctl command lines of a Markdown file: lines
// of ```sh blocks, and inline code spans with flags.
func gwctlCommands(t *testing.T, path string) []string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []string
	inline := regexp.MustCompile("`(gwctl [^`]* -[^`]*)`")
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock && strings.TrimPrefix(line, "```") == "sh"
		case inBlock:
			if strings.HasPrefix(line, "gwctl ") {
				out = append(out, line)
			}
		default:
			for _, m := range inline.FindAllStringSubmatch(line, -1) {
				out = append(out, m[1])
			}
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// runbookEvents are realistic events of every type the runbooks filter on.
func runbookEvents(now time.Time) []event.Event {
	base := func(typ event.Type, sev event.Severity, ip string) event.Event {
		e := event.Event{SchemaVersion: 1, Time: now.Add(-10 * time.Minute), Type: typ, Severity: sev}
		e.Client.IP, e.Client.UserAgent = ip, "python-requests/2.31"
		e.Kong.Route.Name, e.Kong.Service.Name = "login", "accounts"
		e.Request.Method, e.Request.Path = "POST", "/login"
		return e
	}
	var evs []event.Event
	add := func(e event.Event) { e.ID = fmt.Sprintf("rb-%02d", len(evs)); evs = append(evs, e) }
	for i := range 3 {
		e := base(event.AuthFailure, event.Medium, "203.0.113.7")
		e.Response.Status = 401
		e.Detail.Mechanism, e.Detail.Reason = "basic-auth", "invalid_credentials"
		e.Detail.Identity = &event.Identity{Kind: "username", Value: fmt.Sprintf("user%d", i)}
		add(e)
	}
	e := base(event.AttackDetected, event.Critical, "203.0.113.7")
	e.Detail.Action, e.Detail.Engine = "blocked", "guard"
	e.Detail.Findings = []event.Finding{{RuleID: "sqli-001", Class: "sqli", Severity: event.Critical, Location: "query:id"}}
	add(e)
	e = base(event.AccessDenied, event.Medium, "198.51.100.4")
	e.Client.Consumer = event.Consumer{ID: "8f1c2f8e-0000-4000-8000-000000000001", Username: "alice"}
	e.Detail.Control = "acl"
	add(e)
	add(base(event.RateLimited, event.Low, "203.0.113.7"))
	add(base(event.RouteNotFound, event.Low, "203.0.113.7"))
	e = base(event.ConfigChange, event.High, "10.0.0.2")
	e.Detail.Actor, e.Detail.EntityPath = "admin", "/consumers"
	add(e)
	e = base(event.UpstreamError, event.Medium, "198.51.100.4")
	e.Response.Status = 502
	add(e)
	e = base(event.GatewayError, event.High, "198.51.100.4")
	e.Response.Status = 500
	add(e)
	e = base(event.LatencySlow, event.Low, "198.51.100.4")
	e.Response.Latency = event.Latency{KongMS: 2, UpstreamMS: 3200, TotalMS: 3202}
	add(e)
	e = base(event.Dropped, event.High, "")
	e.Detail.Dropped, e.Detail.Reason = 12, "spool_full"
	add(e)
	e = base(event.KongError, event.High, "")
	e.Detail = event.Detail{Level: "error", Category: "upstream_connect", Message: "connect() failed", Count: 4}
	add(e)
	return evs
}

// TestRunbookCommandsRunAgainstGatewatch runs every gwctl command of every
// runbook, as written, against a broker holding realistic events, with
// the variables the runbooks ask the responder to set.
func TestRunbookCommandsRunAgainstGatewatch(t *testing.T) {
	tool(t, "jq", "jq")
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("gatewatch.events"))
	require.NoError(t, err)
	for _, e := range runbookEvents(time.Now()) {
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(e.Client.IP), Value: e.AppendJSON(nil)}).FirstErr())
	}
	cl.Close()

	errorLog := filepath.Join(t.TempDir(), "error.log")
	var logData []byte
	for _, f := range []string{"nginx.log", "kong.log"} {
		b, err := os.ReadFile(filepath.Join("../../pkg/errlog/testdata", f))
		require.NoError(t, err)
		logData = append(logData, b...)
	}
	require.NoError(t, os.WriteFile(errorLog, logData, 0o644))

	files, err := filepath.Glob(filepath.Join(runbookDir, "*.md"))
	require.NoError(t, err)
	files = append(files, "../../docs/incident-response.md", "../../docs/operations.md")
	workDir := t.TempDir() // commands that save evidence write here
	ran := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".md")
		for _, cmdline := range gwctlCommands(t, file) {
			t.Run(name+": "+cmdline, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", cmdline)
				cmd.Dir = workDir
				cmd.Env = append(os.Environ(),
					"PATH="+binDir+":"+os.Getenv("PATH"),
					"BROKERS="+strings.Join(brokers, ","),
					"IP=203.0.113.7",
					"CONSUMER=alice",
					"CONSUMER_ID=8f1c2f8e-0000-4000-8000-000000000001",
					"ROUTE=login",
					"ALERT="+name,
					"KONG_ERROR_LOG="+errorLog,
				)
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s\n%s", cmdline, out)
				if !strings.Contains(cmdline, ">") { // not saving to a file
					assert.NotEmpty(t, strings.TrimSpace(string(out)), "the fixture events and error log answer this command")
				}
			})
			ran++
		}
	}
	assert.Greater(t, ran, 50, "the runbooks' gwctl commands were found")
}
