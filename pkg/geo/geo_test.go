package geo

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeDB makes a small MaxMind-format database, so tests need neither a
// download nor a licensed file.
func writeDB(t testing.TB, dbType string, records map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	require.NoError(t, err)
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(n, rec))
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = tree.WriteTo(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

func testResolver(t testing.TB) *Resolver {
	city := writeDB(t, "GeoIP2-City", map[string]mmdbtype.Map{
		"81.2.69.0/24": {
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG")}},
			"city":         mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("London")}},
		},
		"2001:db8::/32": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("SE")}},
	})
	asn := writeDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"81.2.69.0/24": {
			"autonomous_system_number":       mmdbtype.Uint32(20712),
			"autonomous_system_organization": mmdbtype.String("Andrews & Arnold Ltd"),
		},
	})
	r, err := Open(city, asn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestLookup(t *testing.T) {
	r := testResolver(t)
	cases := []struct {
		name string
		ip   string
		want Info
		ok   bool
	}{
		{"a city and an AS", "81.2.69.142", Info{Country: "GB", Region: "ENG", City: "London", ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}, true},
		{"an IPv4-mapped IPv6 address", "::ffff:81.2.69.142", Info{Country: "GB", Region: "ENG", City: "London", ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}, true},
		{"IPv6 with only a country", "2001:db8::1", Info{Country: "SE"}, true},
		{"an address the databases do not know", "203.0.113.9", Info{}, false},
		{"a private address is not looked up", "10.1.2.3", Info{}, false},
		{"loopback is not looked up", "127.0.0.1", Info{}, false},
		{"garbage", "not-an-ip", Info{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := r.Lookup(c.ip)
			assert.Equal(t, c.ok, ok)
			got.hasValue = false
			assert.Equal(t, c.want, got)
			again, ok2 := r.Lookup(c.ip) // from the cache
			assert.Equal(t, ok, ok2)
			again.hasValue = false
			assert.Equal(t, got, again)
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	r := testResolver(t)
	r.maxSize = 4
	for i := 0; i < 50; i++ {
		r.Lookup(net.IPv4(81, 2, 69, byte(i)).String())
		assert.LessOrEqual(t, len(r.cache), 4)
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	_, err := Open("/nonexistent/city.mmdb", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/nonexistent/city.mmdb")
	_, err = Open("", "")
	assert.Error(t, err)
}

func BenchmarkLookupCached(b *testing.B) {
	r := testResolver(b)
	r.Lookup("81.2.69.142")
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup("81.2.69.142")
	}
}
