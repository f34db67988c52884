package alert

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const defaultRules = "../../kong-conf/alert-rules.yaml"

func TestTheDefaultRuleSetLoadsAndCoversTheIssueList(t *testing.T) {
	rs, err := Load(defaultRules)
	require.NoError(t, err)
	types := map[string]bool{}
	for _, r := range rs.Rules {
		for _, ty := range r.Match.Types {
			types[string(ty)] = true
		}
		assert.Equal(t, "docs/runbooks/"+r.Name+".md", r.RunbookURL, "rule %s points at its runbook", r.Name)
	}
	for _, want := range []string{"auth.failure", "access.denied", "rate.limited", "attack.detected", "route.not_found",
		"gateway.error", "upstream.error", "latency.slow", "config.change", "gatewatch.dropped"} {
		assert.True(t, types[want], "some default rule matches %s", want)
	}
	names := map[string]bool{}
	for _, r := range rs.Rules {
		names[r.Name] = true
	}
	for _, want := range []string{"auth-brute-force", "credential-stuffing", "acl-denials", "rate-limit-abuse", "attack-signature",
		"scanning-not-found", "scanning-distinct-paths", "config-change-outside-window", "config-change-unknown-actor", "events-dropped"} {
		assert.True(t, names[want], "default rule %s exists", want)
	}
}

// Every case is one broken rule file from testdata/bad; the want column is
// the whole message, so file, line and field are all checked.
func TestABrokenRuleFileIsRejectedWithFileLineAndField(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"a misspelt key in a rule", "unknown-key.yaml", "testdata/bad/unknown-key.yaml:9: rules[0](brute).threshhold: unknown field"},
		{"an unknown event type", "unknown-type.yaml", "testdata/bad/unknown-type.yaml:6: rules[0](brute).match.types: unknown event type \"auth.failed\" (docs/events.md lists them)"},
		{"a negative count", "bad-count.yaml", "testdata/bad/bad-count.yaml:8: rules[0](brute).threshold.count: expected a positive integer, got \"-3\""},
		{"a window that is not a duration", "bad-window.yaml", "testdata/bad/bad-window.yaml:7: rules[0](brute).window: expected a non-negative duration such as 30s or 5m, got \"one minute\""},
		{"a condition on a field events do not have", "bad-field.yaml", "testdata/bad/bad-field.yaml:7: rules[0](brute).match.where.client.addr: unknown event field (known: client.consumer.id, "},
		{"a CIDR that is not a network", "bad-cidr.yaml", "testdata/bad/bad-cidr.yaml:8: rules[0](brute).match.where.client.ip.not_cidr: not a network in CIDR notation: \"10.0.0.0/33\""},
		{"a notify to a receiver that does not exist", "bad-receiver.yaml", "testdata/bad/bad-receiver.yaml:17: rules[0](brute).actions.notify: no receiver named \"pager\" in receivers"},
		{"a block on a key that is not a subject", "bad-block.yaml", "testdata/bad/bad-block.yaml:14: rules[0](brute).actions.block: needs group_by to be exactly one of client.ip, client.consumer.id, detail.identity.value (the blocklist subject), got [kong.route.name]"},
		{"a rule without a runbook", "no-runbook.yaml", "testdata/bad/no-runbook.yaml:10: rules[0](brute).annotations.runbook_url: required: every alert says what to do (docs/runbooks/brute.md)"},
		{"a template naming a field that does not exist", "bad-template.yaml", "testdata/bad/bad-template.yaml:11: rules[0](brute).annotations.summary: template: template: :1:3: executing \"\" at <.Count>: can't evaluate field Count in type alert.TemplateData"},
		{"two rules with one name", "duplicate.yaml", "testdata/bad/duplicate.yaml:15: rules[1].name: duplicate rule name \"brute\""},
		{"a file that is not YAML", "not-yaml.yaml", "testdata/bad/not-yaml.yaml:1: (document): not valid YAML: yaml: line 1: did not find expected '-' indicator"},
		{"a ratio above one", "bad-ratio.yaml", "testdata/bad/bad-ratio.yaml:11: rules[0](errors).threshold.ratio.at_least: expected a share in (0, 1], got 1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", "bad", tt.file))
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "error is a *FieldError: %v", err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), "got  %s\nwant %s…", err, tt.want)
			assert.NotZero(t, fe.Line)
		})
	}
}

func TestEveryBadFileHasATestCase(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	require.NoError(t, err)
	src, err := os.ReadFile("rules_test.go")
	require.NoError(t, err)
	for _, f := range files {
		assert.Contains(t, string(src), `"`+filepath.Base(f)+`"`)
	}
}

func TestTheDocumentedFieldPathsAreTheKnownOnes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/alerting.md")
	require.NoError(t, err)
	for _, p := range FieldPaths() {
		assert.Contains(t, string(doc), "`"+p+"`", "docs/alerting.md lists field %s", p)
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range []string{defaultRules, "testdata/bad/unknown-key.yaml", "testdata/bad/bad-ratio.yaml"} {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("fuzz.yaml", data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		// A rule set that parses must also evaluate without panicking.
		e := NewEngine(rs)
		e.Observe(&testEvent, nil)
	})
}
