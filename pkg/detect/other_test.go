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
