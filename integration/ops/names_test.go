package ops

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kongMetrics are the series of Kong's bundled prometheus plugin (Kong
// 3.x) that the rules and the dashboard may use.
var kongMetrics = []string{
	"kong_datastore_reachable",
	"kong_nginx_connections_total",
	"kong_memory_lua_shared_dict_bytes",
	"kong_memory_lua_shared_dict_total_bytes",
	"kong_upstream_target_health",
	"kong_http_requests_total",
	"kong_request_latency_ms",
	"kong_upstream_latency_ms",
	"kong_kong_latency_ms",
	"kong_bandwidth_bytes",
	"kong_nginx_timers",
	"kong_memory_workers_lua_vms_bytes",
}

// exportedMetrics is every series name the gatewatch binaries can export:
// the "gatewatch_…" literals of the Go sources (the registries name them
// in several shapes: Name: fields, NewDesc calls, tables), and what the Go
// and process collectors both plugin servers register actually gather.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"up": true}
	lit := regexp.MustCompile(`"(gatewatch_[a-z0-9_]+)"`)
	for _, root := range []string{"../../pkg", "../../plugins", "../../pluginserver"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
				names[m[1]] = true
			}
			return nil
		})
		require.NoError(t, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, k := range kongMetrics {
		names[k] = true
	}
	return names
}

var (
	promStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promBraces  = regexp.MustCompile(`\{[^{}]*\}|\[[^\[\]]*\]`)
	promLists   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promIdent   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValues = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	promWords   = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "inf": true, "nan": true}
)

// metricNames returns the series names a PromQL expression reads.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promBraces.ReplaceAllString(s, " ")
	s = promLists.ReplaceAllString(s, " ")
	var out []string
	for _, m := range promIdent.FindAllStringIndex(s, -1) {
		if m[0] > 0 && strings.ContainsAny(s[m[0]-1:m[0]], "0123456789.$") {
			continue // a number's exponent or unit (1e6, 15m), a variable
		}
		name := s[m[0]:m[1]]
		if strings.HasPrefix(strings.TrimLeft(s[m[1]:], " \t\n"), "(") || promWords[strings.ToLower(name)] {
			continue // a function call or a keyword
		}
		out = append(out, name)
	}
	return out
}

// known reports whether name is exported, directly or as one of a
// histogram's or summary's series.
func known(exported map[string]bool, name string) bool {
	if exported[name] {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok && exported[base] {
			return true
		}
	}
	return false
}

func TestMetricNameExtraction(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"functions, label matchers and ranges are not names", `sum by (route) (rate(a_total{x="y",z=~"b_c"}[5m]))`, []string{"a_total"}},
		{"offsets and numbers are not names", `a < 0.5 * (b:c offset 15m) and d > 1e6`, []string{"a", "b:c", "d"}},
		{"label lists of vector matching are not names", `a / on (instance) group_left (job) b`, []string{"a", "b"}},
		{"label_values names its metric", `label_values(gatewatch_requests_total, route)`, []string{"gatewatch_requests_total"}},
		{"Grafana variables are not names", `rate(x_total{route=~"$route"}[$__rate_interval])`, []string{"x_total"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, metricNames(tt.expr)) })
	}
}

func TestRulesAndDashboardNameOnlyExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	rules := loadPromRules(t)
	recorded := map[string]bool{}
	for _, r := range rules.all() {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	check := func(where, expr string) {
		names := metricNames(expr)
		assert.NotEmpty(t, names, "%s: no metric in %q", where, expr)
		for _, n := range names {
			assert.True(t, known(exported, n) || recorded[n], "%s: %q is neither exported by gatewatch, a listed Kong metric, nor a recording rule (in %q)", where, n, expr)
		}
	}
	for _, r := range rules.all() {
		check("gatewatch-rules.yml "+r.Record+r.Alert, r.Expr)
	}
	for where, expr := range dashboardExprs(t) {
		check(where, expr)
	}
	// The extraction must see the names, or the test above proves nothing.
	var used []string
	for _, r := range rules.all() {
		used = append(used, metricNames(r.Expr)...)
	}
	sort.Strings(used)
	assert.Contains(t, used, "gatewatch_publish_broker_up")
	assert.Contains(t, used, "kong_datastore_reachable")
}

// dashboardExprs returns every PromQL expression of the dashboard, keyed
// by where it is.
func dashboardExprs(t *testing.T) map[string]string {
	d := loadDashboard(t)
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out["panel "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out["variable "+v.Name] = queryString(v.Query)
		}
	}
	for _, a := range d.Annotations.List {
		out["annotation "+a.Name] = a.Expr
	}
	return out
}

func queryString(q any) string {
	switch v := q.(type) {
	case string:
		return v
	case map[string]any:
		s, _ := v["query"].(string)
		return s
	}
	b, _ := json.Marshal(q)
	return string(b)
}
