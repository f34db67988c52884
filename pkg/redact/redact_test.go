package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQueryRedactsSecretValuesAndKeepsTheRest(t *testing.T) {
	r := New([]string{"X-Tenant-Secret"}, []byte("k"))
	cases := []struct{ name, in, want string }{
		{"nothing secret is untouched", "page=2&sort=asc", "page=2&sort=asc"},
		{"an API key", "apikey=abc123&page=2", "apikey=REDACTED&page=2"},
		{"tokens and passwords anywhere", "a=1&access_token=t&password=p&z=9", "a=1&access_token=REDACTED&password=REDACTED&z=9"},
		{"names in any case", "ApiKey=abc&Token=x", "ApiKey=REDACTED&Token=REDACTED"},
		{"percent-encoded names", "api%5Fkey=abc", "api%5Fkey=REDACTED"},
		{"operator-added names", "x-tenant-secret=s", "x-tenant-secret=REDACTED"},
		{"a bare flag stays", "token&x=1", "token&x=1"},
		{"empty values", "apikey=&x=1", "apikey=REDACTED&x=1"},
		{"empty query", "", ""},
		{"trailing ampersand", "password=p&", "password=REDACTED&"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, r.Query(c.in))
		})
	}
}

func TestSecretHeaders(t *testing.T) {
	r := New([]string{"X-Custom-Key"}, nil)
	for _, h := range []string{"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "apikey", "X-API-Key", "x-custom-key"} {
		assert.True(t, r.SecretHeader(h), h)
	}
	assert.False(t, r.SecretHeader("User-Agent"))
}

func TestFingerprintsAreKeyedAndStable(t *testing.T) {
	a, b := New(nil, []byte("one")), New(nil, []byte("two"))
	assert.Equal(t, a.Fingerprint("secret"), a.Fingerprint("secret"))
	assert.NotEqual(t, a.Fingerprint("secret"), a.Fingerprint("secret2"))
	assert.NotEqual(t, a.Fingerprint("secret"), b.Fingerprint("secret"), "a different key gives a different fingerprint")
	assert.Len(t, a.Fingerprint("secret"), 16)
	assert.NotContains(t, a.Fingerprint("secret"), "secret")
}

func FuzzQueryNeverLeaksASecretValue(f *testing.F) {
	f.Add("apikey", "s3cr3t", "page=1")
	f.Fuzz(func(t *testing.T, name, value, rest string) {
		r := New(nil, nil)
		if !r.SecretParam(name) || value == "" || len(value) < 4 {
			return
		}
		for _, c := range "&=%+" {
			for _, s := range []string{name, value, rest} {
				for _, x := range s {
					if x == c {
						return
					}
				}
			}
		}
		out := r.Query(rest + "&" + name + "=" + value + "&" + rest)
		if len(out) > 0 && containsValue(out, value) {
			t.Fatalf("secret %q leaked in %q", value, out)
		}
	})
}

func containsValue(q, v string) bool {
	for _, pair := range splitAmp(q) {
		if len(pair) >= len(v) && pair[len(pair)-len(v):] == v {
			name := pair[:len(pair)-len(v)]
			if len(name) > 0 && name[len(name)-1] == '=' && New(nil, nil).SecretParam(name[:len(name)-1]) {
				return true
			}
		}
	}
	return false
}

func splitAmp(q string) []string {
	var out []string
	start := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '&' {
			out = append(out, q[start:i])
			start = i + 1
		}
	}
	return append(out, q[start:])
}

func BenchmarkQueryWithoutSecrets(b *testing.B) {
	r := New(nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Query("page=2&sort=asc&filter=open&limit=50")
	}
}
