package corpus

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadReportsMalformedLinesAndContinues(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"a","method":"GET","uri":"/x?q=1","headers":{"Host":"h","Content-Type":"text/plain","Accept":"*/*"},"body":"hi","label":"attack","class":"sqli","meta":{"subclass":"s"}}`,
		`{not json`,
		``,
		`{"id":"","uri":"/"}`,
		`{"id":"b","method":"POST","uri":"/y","headers":{},"body":"","label":"benign"}`,
	}, "\n")
	var ids []string
	var bad []int
	err := Read(strings.NewReader(in), func(line int, r *Record) error {
		ids = append(ids, r.ID)
		return nil
	}, func(e *LineError) { bad = append(bad, e.Line) })
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ids)
	assert.Equal(t, []int{2, 4}, bad)
}

func TestPartsSplitsTheRequestLine(t *testing.T) {
	r := Record{URI: "/p/a?x=1&y=2", Headers: map[string]string{"User-Agent": "u", "content-type": "application/json", "Accept": "a"}, Body: "{}", Label: "attack", Meta: map[string]any{"subclass": "ssti"}}
	path, q, hs, body, ct := r.Parts()
	assert.Equal(t, "/p/a", path)
	assert.Equal(t, "x=1&y=2", q)
	assert.Equal(t, []Header{{"Accept", "a"}, {"User-Agent", "u"}, {"content-type", "application/json"}}, hs)
	assert.Equal(t, []byte("{}"), body)
	assert.Equal(t, "application/json", ct)
	assert.True(t, r.Attack())
	assert.Equal(t, "ssti", r.Subclass())
}
