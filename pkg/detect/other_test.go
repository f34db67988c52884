package detect

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRemoteIncludeAgreesWithItsPattern holds checkRemoteInclude to the
// regular expression it replaces.
func TestRemoteIncludeAgreesWithItsPattern(t *testing.T) {
	re := regexp.MustCompile(`^(?:https?|ftps?)://[^\s]+(?:\?+$|\.(?:txt|php|inc|sh|pl)\??$)`)
	for _, v := range []string{
		"http://evil.example/shell.txt?", "http://evil.example/shell.txt", "https://e.example/x.php",
		"ftp://e.example/a.inc", "ftps://e/a.sh?", "http://e/a.pl", "http://e/?", "http://e/???",
		"http://?", "http://??", "http://.php", "http://x.php", "http://e/a.php??", "http://e/a.phps",
		"http://e/a b.php", "http://e/a\t.php", "https://shop.example/products?page=2", "http://e/",
		"http://", "https://", "gopher://e/a.php", "xhttp://e/a.php", "http://e/a.txt?x=1", "http:/e/a.php",
	} {
		_, _, got := checkRemoteInclude(nil, field{}, []byte(v))
		assert.Equal(t, re.MatchString(v), got, "%q", v)
	}
}

// TestHasSQLWordAgreesWithASearchPerWord holds the one-pass keyword test to
// a search for each keyword at word boundaries.
func TestHasSQLWordAgreesWithASearchPerWord(t *testing.T) {
	slow := func(v []byte) bool {
		for _, w := range sqlWords {
			if indexWord(v, w) >= 0 {
				return true
			}
		}
		return false
	}
	for _, v := range []string{
		"", "select", "xselect", "selectx", "a select b", "order by", "order  by", "order byx", "group by 1",
		"reorder by", "1 union all", "null", "nullable", "x_null", "null_x", "true.false", "my-case",
		"version2", "(char)", "like", "unlike", "select a plan", "union city", "please ORDER BY", "order",
		"group", "by", "é select", "sélect",
	} {
		assert.Equal(t, slow([]byte(v)), hasSQLWord([]byte(v)), "%q", v)
	}
}
