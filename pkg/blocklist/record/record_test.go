package record

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() Record {
	return Record{
		Subject:   IP(netip.MustParseAddr("203.0.113.7")),
		Until:     time.Date(2026, 11, 25, 22, 15, 0, 0, time.UTC),
		Reason:    "auth-brute-force: 25 auth.failure in 1m",
		Source:    SourceAlert,
		CreatedBy: "gwctl alert",
		AlertID:   "3f2a9c1d0b7e6a54",
		CreatedAt: time.Date(2026, 11, 25, 22, 0, 0, 0, time.FixedZone("CET", 3600)),
	}
}

func TestEncodeMatchesTheContractGolden(t *testing.T) {
	key, value, err := Encode(sample())
	require.NoError(t, err)
	assert.Equal(t, "ip:203.0.113.7", string(key))
	golden := filepath.Join("testdata", "ip-record.json")
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(value))
	assert.Equal(t, string(want), string(value)+"\n", "field order and time format are part of the contract")
}

func TestDecodeRoundTripsEncode(t *testing.T) {
	in := sample()
	key, value, err := Encode(in)
	require.NoError(t, err)
	out, deleted, err := Decode(key, value)
	require.NoError(t, err)
	assert.False(t, deleted)
	assert.Equal(t, in.Subject, out.Subject)
	assert.True(t, in.Until.Equal(out.Until))
	assert.True(t, in.CreatedAt.Equal(out.CreatedAt))
	assert.Equal(t, time.UTC, out.CreatedAt.Location())
	assert.Equal(t, in.AlertID, out.AlertID)
	assert.True(t, out.Active(in.Until.Add(-time.Second)))
	assert.False(t, out.Active(in.Until))
}

func TestSubjectsAreCanonical(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"an IPv4-mapped IPv6 address is its IPv4 form", IP(netip.MustParseAddr("::ffff:198.51.100.9")), "ip:198.51.100.9"},
		{"an IPv6 address is compressed", IP(netip.MustParseAddr("2001:db8:0:0::1")), "ip:2001:db8::1"},
		{"a network is masked to its prefix", CIDR(netip.MustParsePrefix("203.0.113.77/24")), "cidr:203.0.113.0/24"},
		{"a mapped network becomes an IPv4 network", CIDR(netip.MustParsePrefix("::ffff:203.0.113.77/120")), "cidr:203.0.113.0/24"},
		{"a consumer is its id", Consumer("c0ffee"), "consumer:c0ffee"},
		{"a key is its fingerprint", APIKeyFingerprint("0123456789abcdef"), "apikey-fp:0123456789abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
			_, _, err := ParseSubject(tt.got)
			assert.NoError(t, err)
		})
	}
}

func TestDecodeRejectsWhatIsNotTheContract(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"a key without a kind", "203.0.113.7", `{}`, "want <kind>:<value>"},
		{"an unknown kind", "host:example.com", `{}`, "unknown kind"},
		{"an ip subject that is not an address", "ip:300.1.1.1", `{}`, "invalid blocklist subject"},
		{"a consumer with a space", "consumer:a b", `{}`, "spaces"},
		{"a value that is not JSON", "ip:203.0.113.7", `{`, "value"},
		{"a value for another subject", "ip:203.0.113.7", `{"subject":"ip:203.0.113.8","until":"2026-01-01T00:00:00Z","created_at":"2026-01-01T00:00:00Z"}`, "subject: value says"},
		{"an until that is not RFC 3339", "ip:203.0.113.7", `{"subject":"ip:203.0.113.7","until":"tomorrow","created_at":"2026-01-01T00:00:00Z"}`, "until"},
		{"a missing created_at", "ip:203.0.113.7", `{"subject":"ip:203.0.113.7","until":"2026-01-01T00:00:00Z"}`, "created_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tt.key), []byte(tt.value))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestATombstoneRemovesItsSubject(t *testing.T) {
	key, value, err := Tombstone("cidr:203.0.113.0/24")
	require.NoError(t, err)
	assert.Nil(t, value)
	rec, deleted, err := Decode(key, value)
	require.NoError(t, err)
	assert.True(t, deleted)
	assert.Equal(t, "cidr:203.0.113.0/24", rec.Subject)
	_, _, err = Tombstone("nonsense")
	assert.Error(t, err)
}

func TestEncodeRefusesAnIncompleteRecord(t *testing.T) {
	r := sample()
	r.Until = time.Time{}
	_, _, err := Encode(r)
	assert.ErrorContains(t, err, "until")
	r = sample()
	r.Subject = "ip:"
	_, _, err = Encode(r)
	assert.ErrorIs(t, err, ErrSubject)
}

func FuzzDecode(f *testing.F) {
	_, v, _ := Encode(sample())
	f.Add([]byte("ip:203.0.113.7"), v)
	f.Add([]byte("cidr:10.0.0.0/8"), []byte(nil))
	f.Add([]byte("consumer:x"), []byte(`{"subject":"consumer:x"}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		rec, deleted, err := Decode(key, value)
		if err != nil || deleted {
			return
		}
		// Whatever decodes must encode again to a record that decodes to
		// the same subject and times.
		k2, v2, err := Encode(rec)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		rec2, _, err := Decode(k2, v2)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if rec2.Subject != rec.Subject || !rec2.Until.Equal(rec.Until) {
			t.Fatalf("round trip changed the record: %+v vs %+v", rec, rec2)
		}
	})
}
