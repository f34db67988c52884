package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpusDir is the shared public corpus; GATEWATCH_CORPUS overrides it.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEWATCH_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	_, err := os.Stat(dir)
	require.NoError(t, err, "corpus directory missing: set GATEWATCH_CORPUS")
	return dir
}

func runDetectCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = commands["detect"].run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func decodeOutputs(t *testing.T, s string) []detectOutput {
	t.Helper()
	var outs []detectOutput
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o detectOutput
		require.NoError(t, json.Unmarshal(sc.Bytes(), &o), "output line %q", sc.Text())
		outs = append(outs, o)
	}
	return outs
}

func TestDetectCommand(t *testing.T) {
	const sqli = `{"id":"a1","method":"GET","uri":"/api/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users--","headers":{"Host":"x"},"body":""}`
	const benign = `{"id":7,"method":"GET","uri":"/api/items?page=2&sort=-created_at","headers":{"Host":"x","User-Agent":"okhttp/4.12.0"},"body":""}`
	const jsonBody = `{"id":"b","method":"POST","uri":"/api/comments","headers":{"Host":"x","Content-Type":"application/json"},"body":"{\"comment\":\"<script>alert(document.cookie)</script>\"}"}`
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantIDs    []string
		wantAttack []bool
		wantErr    []string
	}{
		{
			name:  "an attack and a benign request each get one verdict line in input order",
			stdin: sqli + "\n" + benign + "\n", args: []string{"-"}, wantCode: 0,
			wantIDs: []string{`"a1"`, `7`}, wantAttack: []bool{true, false},
		},
		{
			name:  "a JSON body is inspected and the finding names the body location",
			stdin: jsonBody + "\n", wantCode: 0,
			wantIDs: []string{`"b"`}, wantAttack: []bool{true},
		},
		{
			name:  "a malformed line is reported with its line number, skipped, and makes the exit code 1",
			stdin: sqli + "\n{not json\n" + benign + "\n", wantCode: 1,
			wantIDs: []string{`"a1"`, `7`}, wantAttack: []bool{true, false},
			wantErr: []string{"line 2:", "1 malformed"},
		},
		{
			name:  "a record without a uri is malformed",
			stdin: `{"id":"x","method":"GET"}` + "\n" + benign, wantCode: 1,
			wantIDs: []string{`7`}, wantAttack: []bool{false},
			wantErr: []string{`line 1: field "uri": missing`},
		},
		{
			name:  "blank lines and a missing final newline are accepted",
			stdin: "\n" + benign + "\n\n" + sqli, wantCode: 0,
			wantIDs: []string{`7`, `"a1"`}, wantAttack: []bool{false, true},
		},
		{
			name:  "an out-of-range paranoia level is a usage error",
			stdin: benign, args: []string{"-paranoia", "9"}, wantCode: 2,
			wantErr: []string{"-paranoia"},
		},
		{
			name:  "a missing rule file is a usage error",
			stdin: benign, args: []string{"-rules", filepath.Join(t.TempDir(), "nope.yaml")}, wantCode: 2,
			wantErr: []string{"-rules"},
		},
		{
			name:  "a rule file that does not parse is a usage error naming the flag",
			stdin: benign, args: []string{"-rules", writeTemp(t, "rules: [[[")}, wantCode: 2,
			wantErr: []string{"-rules"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDetectCmd(t, tt.stdin, tt.args...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", errOut)
			for _, w := range tt.wantErr {
				assert.Contains(t, errOut, w)
			}
			outs := decodeOutputs(t, out)
			require.Len(t, outs, len(tt.wantIDs))
			for i, o := range outs {
				assert.JSONEq(t, tt.wantIDs[i], string(o.ID))
				assert.Equal(t, tt.wantAttack[i], o.Attack, "record %s", o.ID)
				assert.Equal(t, o.Attack, len(o.Findings) > 0)
				for _, f := range o.Findings {
					assert.NotEmpty(t, f.RuleID)
					assert.Contains(t, []string{"sqli", "xss", "traversal", "cmdi", "ssrf", "jndi", "scanner", "other"}, f.Class)
					assert.Contains(t, []string{"low", "medium", "high", "critical"}, f.Severity)
					assert.Regexp(t, `^(path|(query|header|cookie|body):.*)$`, f.Location)
				}
			}
		})
	}
}

func TestDetectFindingsCarryTheBodyLocation(t *testing.T) {
	const in = `{"id":"b","method":"POST","uri":"/api/comments","headers":{"Host":"x","Content-Type":"application/json"},"body":"{\"comment\":\"<script>alert(document.cookie)</script>\"}"}`
	code, out, _ := runDetectCmd(t, in)
	require.Equal(t, 0, code)
	outs := decodeOutputs(t, out)
	require.Len(t, outs, 1)
	require.NotEmpty(t, outs[0].Findings)
	assert.Equal(t, "xss", outs[0].Findings[0].Class)
	assert.True(t, strings.HasPrefix(outs[0].Findings[0].Location, "body:"), outs[0].Findings[0].Location)
}

func TestDetectReadsAFileArgument(t *testing.T) {
	p := writeTemp(t, `{"id":"f","method":"GET","uri":"/download?file=..%2F..%2F..%2Fetc%2Fpasswd","headers":{"Host":"x"},"body":""}`+"\n")
	code, out, errOut := runDetectCmd(t, "", p)
	require.Equal(t, 0, code, errOut)
	outs := decodeOutputs(t, out)
	require.Len(t, outs, 1)
	assert.True(t, outs[0].Attack)
}

func TestDetectRejectsAnOverlongLineWithBoundedMemory(t *testing.T) {
	long := `{"id":"big","method":"GET","uri":"/x?q=` + strings.Repeat("a", maxDetectLine) + `"}`
	code, out, errOut := runDetectCmd(t, long+"\n"+`{"id":2,"method":"GET","uri":"/"}`+"\n")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "line 1: longer than")
	outs := decodeOutputs(t, out)
	require.Len(t, outs, 1)
	assert.JSONEq(t, `2`, string(outs[0].ID))
}

// TestDetectOnEveryCorpusFile runs the command over every shared corpus file
// and checks that each record yields exactly one well-formed verdict line
// with its id, and that the attack files are mostly flagged and the benign
// ones mostly not (loose bounds: the benchmark measures the exact rates).
func TestDetectOnEveryCorpusFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir(t), "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			if testing.Short() && len(lines) > 400 {
				lines = lines[:400]
			}
			code, out, errOut := runDetectCmd(t, strings.Join(lines, "\n")+"\n", "-paranoia", "1")
			require.Equal(t, 0, code, errOut)
			outs := decodeOutputs(t, out)
			require.Len(t, outs, len(lines))
			flagged := 0
			for i, o := range outs {
				var rec struct {
					ID json.RawMessage `json:"id"`
				}
				require.NoError(t, json.Unmarshal([]byte(lines[i]), &rec))
				assert.JSONEq(t, string(rec.ID), string(o.ID))
				if o.Attack {
					flagged++
				}
			}
			rate := float64(flagged) / float64(len(outs))
			if strings.HasPrefix(filepath.Base(path), "benign") {
				assert.Less(t, rate, 0.25, "benign file flagged too often")
			} else {
				assert.Greater(t, rate, 0.25, "attack file flagged too rarely")
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
