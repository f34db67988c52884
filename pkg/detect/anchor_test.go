package detect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/detect/corpus"
)

// TestShortcutsFindWhatFullRulesFind holds the promises of anchored rules
// (every match begins with a trigger) and of required literals (every match
// contains one): over every corpus record, the engine must report exactly
// what the same rules report without those shortcuts, their patterns tried
// at every position of every value.
func TestShortcutsFindWhatFullRulesFind(t *testing.T) {
	rules := DefaultRules()
	require.Contains(t, string(rules), "anchor: true", "the default rules use anchoring")
	require.Contains(t, string(rules), "requires:", "the default rules use required literals")
	anchored, err := New(rules)
	require.NoError(t, err)
	full := bytes.ReplaceAll(rules, []byte("anchor: true"), []byte("anchor: false"))
	full = regexp.MustCompile(`(?m)^\s*requires:.*\n`).ReplaceAll(full, nil)
	require.NotContains(t, string(full), "requires:")
	plain, err := New(full)
	require.NoError(t, err)
	for _, pl := range []int{1, 4} {
		pa, err := anchored.Profile(Policy{Paranoia: pl})
		require.NoError(t, err)
		pp, err := plain.Profile(Policy{Paranoia: pl})
		require.NoError(t, err)
		files, err := filepath.Glob(filepath.Join(corpusDir, "*.jsonl"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, file := range files {
			f, err := os.Open(file)
			require.NoError(t, err)
			var a, b []Finding
			err = corpus.Read(f, func(_ int, rec *corpus.Record) error {
				req := NewRequest(rec.Method, rec.URI, rec.Headers, rec.Body)
				a, b = pa.Inspect(&req, a[:0]), pp.Inspect(&req, b[:0])
				if !assert.Equal(t, summary(b), summary(a), "PL%d %s %s", pl, filepath.Base(file), rec.ID) {
					return fmt.Errorf("stop at the first difference")
				}
				return nil
			}, func(e *corpus.LineError) { t.Error(e) })
			f.Close()
			require.NoError(t, err)
		}
	}
}

func summary(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.RuleID + "@" + f.Location
	}
	return out
}

func TestAnAnchoredPatternIsTriedAtEachTriggerWithItsLeftContext(t *testing.T) {
	e, err := New([]byte(`rules:
  - id: t-call
    class: other
    severity: low
    paranoia: 1
    locations: [query]
    triggers: [foo]
    anchor: true
    pattern: '\bfoo\s*\(\d'
`))
	require.NoError(t, err)
	p, err := e.Profile(Policy{})
	require.NoError(t, err)
	for v, want := range map[string]bool{
		"foo(1":           true,  // at the start of the value
		"x%20foo%20(2":    true,  // after a space
		"foo%20foo(3":     true,  // at the second occurrence
		"xfoo(1":          false, // \b sees the byte before the trigger
		"foo(x%20foo(":    false,
		"food(1)":         false,
		"bar(1)%20foo%20": false,
		// Past the anchored attempts' bound the value is searched whole.
		strings.Repeat("foo%20", 3*maxAnchorTries) + "foo(1":  true,
		strings.Repeat("foo%20", 3*maxAnchorTries) + "xfoo(1": false,
	} {
		got := len(p.Inspect(&Request{Method: "GET", Path: "/", RawQuery: "q=" + v}, nil)) > 0
		assert.Equal(t, want, got, "%q", v)
	}
}

func TestAnchorNeedsAPatternAndTriggers(t *testing.T) {
	_, err := New([]byte(`rules:
  - id: t-bad
    class: other
    severity: low
    paranoia: 1
    locations: [query]
    anchor: true
    check: null-byte
`))
	require.ErrorContains(t, err, "field anchor")
}

func TestAnchoredDefaultRulesStillFire(t *testing.T) {
	p := defaultProfile(t, Policy{})
	for _, tt := range []struct{ q, class string }{
		{"c=shell_exec(%27id%27)", "other"},
		{"t=%7B%7B7*7%7D%7D", "other"},
		{"t=Hi%20%7B%7B7*7%7D%7D", "other"},
		{"t=%3C%23assign%20ex%3D%22freemarker.template.utility.Execute%22%3Fnew()%3E", "other"},
	} {
		fs := p.Inspect(&Request{Method: "GET", Path: "/", RawQuery: tt.q}, nil)
		if assert.NotEmpty(t, fs, tt.q) {
			assert.Equal(t, tt.class, fs[0].Class, tt.q)
		}
	}
	for _, q := range []string{"q=the%20filesystem(ext4)%20and%20its%20system%20settings", "q=we%20include%20(for%20free)%20a%20manual"} {
		assert.Empty(t, p.Inspect(&Request{Method: "GET", Path: "/", RawQuery: q}, nil), q)
	}
}
