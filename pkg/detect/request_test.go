package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestToken68Credentials(t *testing.T) {
	for v, want := range map[string]bool{
		"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln-_bmF0dXJl":  true,
		"Basic dXNlcjpwYXNzd29yZA==":                                     true,
		"Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqG": true,
		"token abc~def+ghi/jkl":                                          true,
		"Bearer":                                                         false,
		"Bearer ":                                                        false,
		"eyJhbGciOiJSUzI1NiJ9":                                           false, // no scheme
		"Basic ' or 1=1--":                                               false,
		"Bearer ${jndi:ldap://x/a}":                                      false,
		"Bearer <script>":                                                false,
		"Bearer ../../etc/passwd":                                        false,
		"Digest username=\"a\", realm=\"b\"":                             false,
		"Bearer a=b":                                                     false, // '=' only as padding
		"Be@rer abc":                                                     false,
	} {
		assert.Equal(t, want, token68Credentials(v), "%q", v)
	}
}

func TestNewRequestSplitsTheRequestLine(t *testing.T) {
	r := NewRequest("POST", "/p/a?x=1&y=2", map[string]string{"User-Agent": "u", "content-type": "application/json", "Accept": "a"}, "{}")
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "/p/a", r.Path)
	assert.Equal(t, "x=1&y=2", r.RawQuery)
	assert.Equal(t, []Header{{"Accept", "a"}, {"User-Agent", "u"}, {"content-type", "application/json"}}, r.Headers)
	assert.Equal(t, []byte("{}"), r.Body)
	assert.Equal(t, "application/json", r.ContentType)
	assert.Nil(t, NewRequest("GET", "/", nil, "").Body)
}
