package ocsf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/sample"
)

var enc = Encoder{ProductVersion: "1.2.3"}

func encodeMap(t *testing.T, ev *event.Event) map[string]any {
	t.Helper()
	out, err := enc.Append(nil, ev)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m), "%s", out)
	return m
}

func TestEveryTypeMatchesItsGoldenFile(t *testing.T) {
	for _, ev := range sample.Events() {
		t.Run(string(ev.Type), func(t *testing.T) {
			out, err := enc.Append(nil, &ev)
			require.NoError(t, err)
			sample.Golden(t, string(ev.Type)+".json", out)
		})
	}
}

func TestEveryTypeConformsToTheOCSFSchema(t *testing.T) {
	s := loadSchema(t)
	events := append(sample.Events(), sample.Hostile())
	for _, ev := range events {
		t.Run(string(ev.Type)+"/"+ev.ID, func(t *testing.T) {
			out, err := enc.Append(nil, &ev)
			require.NoError(t, err)
			assert.Empty(t, s.validateEvent(t, out))
		})
	}
}

// The validator must be able to fail, or the test above proves nothing.
func TestTheSchemaValidatorRejectsBrokenEvents(t *testing.T) {
	s := loadSchema(t)
	ev := sample.ForType(1, event.AuthFailure)
	good, err := enc.Append(nil, &ev)
	require.NoError(t, err)
	cases := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"a missing required attribute", func(m map[string]any) { delete(m, "user") }},
		{"an id outside its enumeration", func(m map[string]any) { m["severity_id"] = 7 }},
		{"a caption that disagrees with its id", func(m map[string]any) { m["severity"] = "High" }},
		{"an attribute the class does not define", func(m map[string]any) { m["web_resources"] = []any{} }},
		{"a wrong type in a nested object", func(m map[string]any) { m["metadata"].(map[string]any)["version"] = 1 }},
		{"an unknown class", func(m map[string]any) { m["class_uid"] = 9999 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(good, &m))
			c.mutate(m)
			bad, err := json.Marshal(m)
			require.NoError(t, err)
			assert.NotEmpty(t, s.validateEvent(t, bad))
		})
	}
}

func TestClassesAndEnumerationsFollowTheMapping(t *testing.T) {
	cases := []struct {
		typ                  event.Type
		class, category, act int
		severity, status     int
		action, disposition  int
	}{
		{event.AuthFailure, 3002, 3, 1, 2, 2, 2, 26},
		{event.AccessDenied, 6004, 6, 2, 3, 2, 2, 2},
		{event.RateLimited, 4002, 4, 3, 2, 2, 2, 2},
		{event.RequestRejected, 4002, 4, 6, 2, 2, 2, 25},
		{event.AttackDetected, 2004, 2, 1, 4, 1, 2, 2},
		{event.RouteNotFound, 4002, 4, 3, 2, 2, 0, 0},
		{event.UpstreamError, 4002, 4, 3, 2, 2, 0, 0},
		{event.GatewayError, 4002, 4, 3, 3, 2, 0, 0},
		{event.LatencySlow, 4002, 4, 3, 2, 1, 0, 0},
		{event.ConfigChange, 4002, 4, 6, 4, 1, 0, 0},
		{event.RequestLogged, 4002, 4, 3, 1, 1, 0, 0},
		{event.KongError, 6008, 6, 1, 3, 1, 0, 0},
		{event.Dropped, 6008, 6, 1, 4, 2, 0, 0},
	}
	require.Len(t, cases, len(event.Types), "every event type needs a row")
	for i, c := range cases {
		t.Run(string(c.typ)+" is class "+itoa(c.class), func(t *testing.T) {
			ev := sample.ForType(i+1, c.typ)
			m := encodeMap(t, &ev)
			assert.EqualValues(t, c.class, m["class_uid"])
			assert.EqualValues(t, c.category, m["category_uid"])
			assert.EqualValues(t, c.act, m["activity_id"])
			assert.EqualValues(t, c.class*100+c.act, m["type_uid"])
			assert.EqualValues(t, c.severity, m["severity_id"])
			assert.EqualValues(t, c.status, m["status_id"])
			if c.action == 0 {
				assert.NotContains(t, m, "action_id")
				assert.NotContains(t, m, "disposition_id")
			} else {
				assert.EqualValues(t, c.action, m["action_id"])
				assert.EqualValues(t, c.disposition, m["disposition_id"])
			}
			md := m["metadata"].(map[string]any)
			assert.Equal(t, SchemaVersion, md["version"])
			assert.Equal(t, ev.ID, md["uid"])
			assert.Equal(t, map[string]any{"name": "gatewatch", "vendor_name": "gatewatch", "version": "1.2.3"}, md["product"])
			assert.EqualValues(t, ev.Time.UnixMilli(), m["time"])
		})
	}
}

func TestAnAttackThatWasOnlyLoggedIsAllowedAndDetected(t *testing.T) {
	ev := sample.ForType(5, event.AttackDetected)
	ev.Detail.Action = "logged"
	m := encodeMap(t, &ev)
	assert.EqualValues(t, 1, m["action_id"])
	assert.EqualValues(t, 15, m["disposition_id"])
	fi := m["finding_info"].(map[string]any)
	assert.Equal(t, "gw-sqli-001", fi["analytic"].(map[string]any)["uid"], "the analytic is the most severe finding's rule")
	attacks := fi["attacks"].([]any)
	require.Len(t, attacks, 2)
	assert.Equal(t, "T1190", attacks[0].(map[string]any)["technique"].(map[string]any)["uid"])
}

func TestHTTPActivityIsNamedByMethod(t *testing.T) {
	for method, id := range map[string]int{"GET": 3, "POST": 6, "DELETE": 2, "PATCH": 9, "PROPFIND": 99} {
		ev := sample.ForType(11, event.RequestLogged)
		ev.Request.Method = method
		m := encodeMap(t, &ev)
		assert.EqualValues(t, id, m["activity_id"], method)
		assert.EqualValues(t, 400200+id, m["type_uid"], method)
	}
}

func TestANilEventIsAnError(t *testing.T) {
	_, err := enc.Append(nil, nil)
	assert.Error(t, err)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// docs/siem.md's OCSF table must name the class each type is written as.
func TestTheDocumentedClassTableMatchesTheEncoder(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "siem.md"))
	require.NoError(t, err)
	section := string(doc)
	start := strings.Index(section, "## OCSF")
	end := strings.Index(section, "## ECS")
	require.True(t, start >= 0 && end > start, "docs/siem.md has an OCSF section before the ECS one")
	section = firstTable(section[start:end])
	for _, typ := range event.Types {
		c := ClassOf(typ)
		found := false
		for _, line := range strings.Split(section, "\n") {
			if strings.HasPrefix(line, "|") && strings.Contains(line, "`"+string(typ)+"`") {
				found = true
				assert.Contains(t, line, fmt.Sprintf("%s (%d)", c.Name, c.UID), "row for %s", typ)
			}
		}
		assert.True(t, found, "docs/siem.md has no OCSF row for %s", typ)
	}
}

// firstTable returns the lines of the first table starting with a
// "| gatewatch type" header.
func firstTable(s string) string {
	var out []string
	in := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "| gatewatch type") {
			in = true
		}
		if in && !strings.HasPrefix(line, "|") {
			break
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
