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

func TestRecordAccessors(t *testing.T) {
	r := Record{Label: "attack", Meta: map[string]any{"subclass": "ssti", "crs_rule_pl": 2.0}}
	assert.True(t, r.Attack())
	assert.Equal(t, "ssti", r.Subclass())
	assert.Equal(t, 2, r.CRSRulePL())
	assert.Zero(t, (&Record{}).CRSRulePL())
}
