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
