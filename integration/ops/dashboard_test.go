package ops

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

const dashboardFile = "../../kong-conf/grafana/gatewatch.json"

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	require.NoError(t, dec.Decode(&d), "the dashboard is valid JSON")
	return &d
}

func TestDashboardIsImportable(t *testing.T) {
	d := loadDashboard(t)
	require.NotEmpty(t, d.UID, "uid")
	require.NotEmpty(t, d.Title, "title")
	assert.GreaterOrEqual(t, d.SchemaVersion, 30, "a Grafana 10+ schema")

	vars := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	varRef := regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)`)
	ids := map[int]bool{}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Title, "panel %d has a title", p.ID)
		assert.True(t, p.GridPos.W > 0 && p.GridPos.X+p.GridPos.W <= 24 && p.GridPos.H > 0, "panel %q fits the 24-column grid", p.Title)
		if p.Type == "row" || p.Type == "text" {
			continue
		}
		titles[p.Title] = true
		require.NotNil(t, p.Datasource, "panel %q names its datasource", p.Title)
		assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q uses the datasource variable, so import asks for one", p.Title)
		require.NotEmpty(t, p.Targets, "panel %q has queries", p.Title)
		for _, tg := range p.Targets {
			for _, m := range varRef.FindAllStringSubmatch(tg.Expr, -1) {
				assert.True(t, vars[m[1]], "panel %q uses undefined variable $%s", p.Title, m[1])
			}
		}
	}
	// What the issue asks the dashboard to show.
	for _, want := range []string{"Requests/s by route", "p99 latency by route (total)", "Events/s by type",
		"Blocked requests in the last hour by control", "Events/s published, spooled, replayed", "Events lost by reason"} {
		assert.True(t, titles[want], "panel %q", want)
	}
}
