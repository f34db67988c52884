package ecs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/sample"
)

var enc = Encoder{ProductVersion: "1.2.3"}

// ecsField is one entry of ECS's generated ecs_flat.yml.
type ecsField struct {
	Type          string   `yaml:"type"`
	Normalize     []string `yaml:"normalize"`
	AllowedValues []struct {
		Name               string   `yaml:"name"`
		ExpectedEventTypes []string `yaml:"expected_event_types"`
	} `yaml:"allowed_values"`
}

// loadECS reads the field definitions that ship with ECS 8.17.0
// (testdata/ecs-8.17.0, Apache License 2.0).
func loadECS(t *testing.T) map[string]ecsField {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ecs-8.17.0", "ecs_flat.yml"))
	require.NoError(t, err)
	var fields map[string]ecsField
	require.NoError(t, yaml.Unmarshal(b, &fields))
	return fields
}

// flatten turns a document into ECS's dotted leaf names.
func flatten(prefix string, v any, out map[string]any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, x, out)
		}
		return
	}
	out[prefix] = v
}

// validateECS returns every way doc departs from the ECS definitions:
// unknown fields outside the gatewatch namespace, wrong JSON types, values
// outside allowed_values, and event.type values that no event.category
// expects.
func validateECS(fields map[string]ecsField, doc []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	flat := map[string]any{}
	flatten("", m, flat)
	var errs []string
	names := make([]string, 0, len(flat))
	for n := range flat {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := flat[name]
		if strings.HasPrefix(name, "gatewatch.") {
			continue
		}
		f, ok := fields[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: not an ECS field", name))
			continue
		}
		vals := []any{v}
		if arr, isArr := v.([]any); isArr {
			if !slices.Contains(f.Normalize, "array") {
				errs = append(errs, fmt.Sprintf("%s: an array where ECS expects one value", name))
			}
			vals = arr
		}
		for _, x := range vals {
			switch f.Type {
			case "keyword", "ip", "date", "wildcard", "match_only_text", "constant_keyword", "text":
				if _, ok := x.(string); !ok {
					errs = append(errs, fmt.Sprintf("%s: %s wants a string, got %T", name, f.Type, x))
				}
			case "long", "float", "scaled_float", "integer":
				if _, ok := x.(float64); !ok {
					errs = append(errs, fmt.Sprintf("%s: %s wants a number, got %T", name, f.Type, x))
				}
			default:
				errs = append(errs, fmt.Sprintf("%s: the test does not know ECS type %s", name, f.Type))
			}
			if len(f.AllowedValues) > 0 {
				ok := false
				for _, a := range f.AllowedValues {
					ok = ok || a.Name == x
				}
				if !ok {
					errs = append(errs, fmt.Sprintf("%s: %v is not an allowed value", name, x))
				}
			}
		}
	}
	cats, _ := flat["event.category"].([]any)
	types, _ := flat["event.type"].([]any)
	for _, ty := range types {
		expected := false
		for _, c := range cats {
			for _, a := range fields["event.category"].AllowedValues {
				if a.Name == c && slices.Contains(a.ExpectedEventTypes, ty.(string)) {
					expected = true
				}
			}
		}
		if !expected {
			errs = append(errs, fmt.Sprintf("event.type %v is expected by none of event.category %v", ty, cats))
		}
	}
	for _, req := range []string{"@timestamp", "ecs.version", "event.kind", "event.id", "event.action", "event.outcome"} {
		if _, ok := flat[req]; !ok {
			errs = append(errs, "missing "+req)
		}
	}
	return errs
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

func TestEveryTypeConformsToTheECSFieldDefinitions(t *testing.T) {
	fields := loadECS(t)
	for _, ev := range append(sample.Events(), sample.Hostile()) {
		t.Run(string(ev.Type)+"/"+ev.ID, func(t *testing.T) {
			out, err := enc.Append(nil, &ev)
			require.NoError(t, err)
			assert.Empty(t, validateECS(fields, out))
		})
	}
}

func TestTheECSValidatorRejectsBrokenDocuments(t *testing.T) {
	fields := loadECS(t)
	ev := sample.ForType(5, event.AttackDetected)
	good, err := enc.Append(nil, &ev)
	require.NoError(t, err)
	cases := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"an unknown top-level field", func(m map[string]any) { m["kong"] = map[string]any{"route": "x"} }},
		{"a category outside the allowed values", func(m map[string]any) { m["event"].(map[string]any)["category"] = []any{"firewall"} }},
		{"a type the category does not expect", func(m map[string]any) { m["event"].(map[string]any)["type"] = []any{"installation"} }},
		{"a number where ECS wants a keyword", func(m map[string]any) { m["rule"].(map[string]any)["id"] = 942100 }},
		{"a missing event.kind", func(m map[string]any) { delete(m["event"].(map[string]any), "kind") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(good, &m))
			c.mutate(m)
			bad, err := json.Marshal(m)
			require.NoError(t, err)
			assert.NotEmpty(t, validateECS(fields, bad))
		})
	}
}

func TestCategorizationFollowsTheMapping(t *testing.T) {
	cases := []struct {
		typ      event.Type
		kind     string
		category []string
		typ0     string
		outcome  string
	}{
		{event.AuthFailure, "event", []string{"authentication"}, "start", "failure"},
		{event.AccessDenied, "event", []string{"api", "web"}, "access", "failure"},
		{event.RateLimited, "event", []string{"api", "web"}, "access", "failure"},
		{event.RequestRejected, "event", []string{"api", "web"}, "access", "failure"},
		{event.AttackDetected, "alert", []string{"intrusion_detection", "web"}, "denied", "failure"},
		{event.RouteNotFound, "event", []string{"web"}, "access", "failure"},
		{event.UpstreamError, "event", []string{"web"}, "error", "failure"},
		{event.GatewayError, "event", []string{"web"}, "error", "failure"},
		{event.LatencySlow, "event", []string{"web"}, "access", "success"},
		{event.ConfigChange, "event", []string{"configuration", "web"}, "creation", "success"},
		{event.RequestLogged, "event", []string{"web"}, "access", "success"},
		{event.KongError, "event", []string{"web"}, "error", "success"},
		{event.Dropped, "pipeline_error", nil, "", "failure"},
	}
	require.Len(t, cases, len(event.Types), "every event type needs a row")
	for i, c := range cases {
		t.Run(string(c.typ)+" is "+c.kind, func(t *testing.T) {
			ev := sample.ForType(i+1, c.typ)
			out, err := enc.Append(nil, &ev)
			require.NoError(t, err)
			var m struct {
				Event struct {
					Kind, Outcome, Action, ID string
					Category, Type            []string
					Severity                  int
				}
			}
			require.NoError(t, json.Unmarshal(out, &m))
			assert.Equal(t, c.kind, m.Event.Kind)
			assert.Equal(t, c.category, m.Event.Category)
			if c.typ0 != "" {
				require.NotEmpty(t, m.Event.Type)
				assert.Equal(t, c.typ0, m.Event.Type[0])
			}
			assert.Equal(t, c.outcome, m.Event.Outcome)
			assert.Equal(t, string(c.typ), m.Event.Action)
			assert.Equal(t, ev.ID, m.Event.ID)
			assert.Equal(t, ev.Severity.Rank()+1, m.Event.Severity)
		})
	}
}

func TestFindingsBecomeRuleAndATTACKTechniques(t *testing.T) {
	ev := sample.ForType(5, event.AttackDetected)
	out, err := enc.Append(nil, &ev)
	require.NoError(t, err)
	var m struct {
		Rule   struct{ ID, Category string }
		Threat struct {
			Framework string
			Technique struct{ ID, Reference []string }
		}
	}
	require.NoError(t, json.Unmarshal(out, &m))
	assert.Equal(t, "gw-sqli-001", m.Rule.ID)
	assert.Equal(t, "sqli", m.Rule.Category)
	assert.Equal(t, "MITRE ATT&CK", m.Threat.Framework)
	assert.Equal(t, []string{"T1190", "T1595.002"}, m.Threat.Technique.ID)
	assert.Equal(t, []string{"https://attack.mitre.org/techniques/T1190/", "https://attack.mitre.org/techniques/T1595/002/"}, m.Threat.Technique.Reference)
}

func TestANilEventIsAnError(t *testing.T) {
	_, err := enc.Append(nil, nil)
	assert.Error(t, err)
}

// docs/siem.md's ECS table must give each type the kind the encoder writes.
func TestTheDocumentedCategorizationTableMatchesTheEncoder(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "siem.md"))
	require.NoError(t, err)
	section := string(doc)
	start := strings.Index(section, "## ECS")
	end := strings.Index(section, "## CEF")
	require.True(t, start >= 0 && end > start, "docs/siem.md has an ECS section before the CEF one")
	section = firstTable(section[start:end])
	for i, typ := range event.Types {
		ev := sample.ForType(i+1, typ)
		c := Categorize(&ev)
		found := false
		for _, line := range strings.Split(section, "\n") {
			if !strings.HasPrefix(line, "|") || !strings.Contains(line, "`"+string(typ)+"`") {
				continue
			}
			if typ == event.AttackDetected && !strings.Contains(line, "blocked") {
				continue // the sample attack is blocked
			}
			found = true
			cells := strings.Split(line, "|")
			require.GreaterOrEqual(t, len(cells), 5, line)
			assert.Equal(t, c.Kind, strings.TrimSpace(cells[2]), "kind of %s", typ)
			for _, cat := range c.Category {
				assert.Contains(t, cells[3], cat, "category of %s", typ)
			}
		}
		assert.True(t, found, "docs/siem.md has no ECS row for %s", typ)
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
