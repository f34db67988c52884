package soak

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWrkSummary(t *testing.T) {
	out := "Running 1m test\nSOAK requests=1200 duration_us=2000000 connect=1 read=2 write=0 status=7 timeout=3\nSOAK p50=640\nSOAK p90=1000\nSOAK p99=6920\nSOAK p99.9=9000\nSOAK max=12000 mean=800\n"
	r, err := parseWrk(out)
	require.NoError(t, err)
	assert.Equal(t, 1200, r.Requests)
	assert.Equal(t, 2*time.Second, r.Duration)
	assert.Equal(t, 640*time.Microsecond, r.P50)
	assert.Equal(t, 6920*time.Microsecond, r.P99)
	assert.Equal(t, 9*time.Millisecond, r.P999)
	assert.Equal(t, 3, r.Errors["timeout"])
	_, err = parseWrk("wrk: connection refused\n")
	assert.Error(t, err, "no summary is an error, not zeros")
}

func TestLuaStringEscapesEveryNonPrintableByte(t *testing.T) {
	assert.Equal(t, `"/a?b=1"`, luaString("/a?b=1"))
	assert.Equal(t, `"\034\092\010\255"`, luaString("\"\\\n\xff"))
}

func TestExpectedTypesFollowStatusAndDetection(t *testing.T) {
	assert.Empty(t, expectedTypes(200, false))
	assert.Equal(t, []string{"attack.detected"}, expectedTypes(200, true))
	assert.Equal(t, []string{"attack.detected", "access.denied"}, expectedTypes(403, true))
	assert.Equal(t, []string{"auth.failure"}, expectedTypes(401, false))
	assert.Equal(t, []string{"rate.limited"}, expectedTypes(429, false))
	assert.Equal(t, []string{"route.not_found"}, expectedTypes(404, false))
	assert.Equal(t, []string{"gateway.error"}, expectedTypes(502, false))
}

func TestReadProcOfSelf(t *testing.T) {
	rss, ticks, err := readProc(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, rss)
	assert.GreaterOrEqual(t, ticks, int64(0))
	_, _, err = readProc(0)
	assert.Error(t, err)
}

func TestQuotaDropsMatch(t *testing.T) {
	r := &Report{Config: Config{QuotaOutage: 4 * time.Second}, QuotaLost: 4000, QuotaMetricDropped: 4005}
	r.Recon.DroppedEvents = 1
	ok, _ := r.QuotaDropsMatch()
	assert.True(t, ok)
	r.QuotaMetricDropped = 3999 // fewer counted than lost: a silent loss
	ok, _ = r.QuotaDropsMatch()
	assert.False(t, ok)
	r.QuotaMetricDropped = 4000 + quotaBatchBound + 100
	ok, _ = r.QuotaDropsMatch()
	assert.False(t, ok)
}

func TestKongYMLAddsTheRateLimitedRouteAndGuardMode(t *testing.T) {
	root, err := RepoRoot(".")
	require.NoError(t, err)
	y, err := kongYML(root, "http://127.0.0.1:1", "block")
	require.NoError(t, err)
	assert.Contains(t, string(y), "name: limited")
	assert.Contains(t, string(y), "mode: block")
	assert.NotContains(t, string(bareKongYML(y)), "- name: gatewatch")
}
