package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const miniAttacks = `{"id":"a1","method":"GET","uri":"/api/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users--","headers":{"Host":"x"},"body":"","label":"attack","class":"sqli"}
{"id":"a2","method":"POST","uri":"/c","headers":{"Host":"x","Content-Type":"application/json"},"body":"{\"c\":\"<script>alert(1)</script>\"}","label":"attack","class":"xss"}
`

const miniBenign = `{"id":"b1","method":"GET","uri":"/api/items?page=2&sort=-created_at","headers":{"Host":"x","User-Agent":"okhttp/4.12.0"},"body":"","label":"benign","class":""}
`

func miniCorpus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "attacks_mini.jsonl"), []byte(miniAttacks), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "benign_mini.jsonl"), []byte(miniBenign), 0o600))
	return dir
}

func TestBenchPrintsOneRowPerFileAndClassForEveryEngine(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-corpus", miniCorpus(t), "-rounds", "1"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	table := out.String()
	for _, want := range []string{"gatewatch PL1", "gatewatch PL2", "Coraza+CRS PL1", "Coraza+CRS PL2",
		"attacks_mini", "  sqli", "  xss", "benign_mini", "median", "p99", "speed-up"} {
		assert.Contains(t, table, want)
	}
	// Both engines catch a textbook UNION SELECT and a <script> tag, and
	// leave a plain paged listing alone.
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "attacks_mini") {
			assert.Equal(t, 4, strings.Count(line, "100.0%"), line)
		}
		if strings.HasPrefix(line, "benign_mini") {
			assert.Equal(t, 4, strings.Count(line, "0.0%"), line)
		}
	}
}

func TestBenchRejectsAMissingCorpus(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-corpus", filepath.Join(t.TempDir(), "none"), "-quick"}, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "no *.jsonl files")
}

func TestPercentilePicksTheRankedValue(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	assert.Equal(t, time.Duration(3), percentile(d, 0.5))
	assert.Equal(t, time.Duration(5), percentile(d, 1))
	assert.Equal(t, time.Duration(0), percentile(nil, 0.5))
}
