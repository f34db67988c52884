package blocklist

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRecord(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "value-full.json"))
	require.NoError(t, err)
	full = bytes.TrimSpace(full)
	plain := `{"subject":"ip:203.0.113.7","until":"2026-11-25T22:15:00Z","reason":"r","source":"operator","created_by":"alice","created_at":"2026-11-25T21:00:00+01:00"}`
	tests := []struct {
		name       string
		key, value string
		null       bool   // a tombstone
		want       Change // when wantErr is empty
		wantErr    string
	}{
		{
			name: "a record with status and message keeps both", key: "cidr:198.51.100.0/24", value: string(full),
			want: Change{Subject: "cidr:198.51.100.0/24", Entry: Entry{
				Subject: "cidr:198.51.100.0/24", Kind: KindCIDR, Until: time.Date(2026, 11, 25, 22, 15, 0, 0, time.UTC),
				Reason: "scanner: 400 404s in 1m", Source: "alert", CreatedBy: "gwctl alert", AlertID: "3f2a9c1d0b7e6a54",
				CreatedAt: time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC), Status: 429, Message: "slow down",
			}},
		},
		{
			name: "a record without status answers 403 and times come out in UTC", key: "ip:203.0.113.7", value: plain,
			want: Change{Subject: "ip:203.0.113.7", Entry: Entry{
				Subject: "ip:203.0.113.7", Kind: KindIP, Until: time.Date(2026, 11, 25, 22, 15, 0, 0, time.UTC),
				Reason: "r", Source: "operator", CreatedBy: "alice", CreatedAt: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC),
				Status: 403,
			}},
		},
		{name: "a nil value is a tombstone", key: "consumer:c0ffee", null: true, want: Change{Subject: "consumer:c0ffee", Deleted: true}},
		{name: "a tombstone with a bad key is refused", key: "ip:203.0.113.999", null: true, wantErr: "203.0.113.999"},
		{name: "a status that is not an error is refused", key: "ip:203.0.113.7", value: strings.Replace(plain, `"r"`, `"r","status":200`, 1), wantErr: "status: 200"},
		{name: "a status that is not a number is refused", key: "ip:203.0.113.7", value: strings.Replace(plain, `"r"`, `"r","status":"403"`, 1), wantErr: "ip:203.0.113.7"},
		{name: "a message past 512 bytes is refused", key: "ip:203.0.113.7", value: strings.Replace(plain, `"r"`, `"r","message":"`+strings.Repeat("x", 513)+`"`, 1), wantErr: "message"},
		{name: "a value for another subject is refused", key: "ip:203.0.113.8", value: plain, wantErr: "subject"},
		{name: "an unknown kind is refused", key: "host:example.com", value: plain, wantErr: "unknown kind"},
		{name: "a bad until is refused", key: "ip:203.0.113.7", value: strings.Replace(plain, "2026-11-25T22:15:00Z", "tomorrow", 1), wantErr: "until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var value []byte
			if !tt.null {
				value = []byte(tt.value)
			}
			got, err := DecodeRecord([]byte(tt.key), value)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEncodeValueWritesTheContract(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "value-full.json"))
	require.NoError(t, err)
	c, err := DecodeRecord([]byte("cidr:198.51.100.0/24"), bytes.TrimSpace(want))
	require.NoError(t, err)
	got, err := EncodeValue(c.Entry)
	require.NoError(t, err)
	assert.Equal(t, string(bytes.TrimSpace(want)), string(got), "field order and formats are the contract's")

	c.Entry.Status, c.Entry.Message = DefaultStatus, ""
	got, err = EncodeValue(c.Entry)
	require.NoError(t, err)
	assert.NotContains(t, string(got), "status", "the default status is left implicit")
	assert.NotContains(t, string(got), "message")
}

func FuzzDecodeRecord(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "value-full.json"))
	require.NoError(f, err)
	f.Add([]byte("cidr:198.51.100.0/24"), bytes.TrimSpace(full), false)
	f.Add([]byte("ip:203.0.113.7"), []byte(`{"subject":"ip:203.0.113.7","until":"2026-11-25T22:15:00Z","created_at":"2026-11-25T21:00:00Z","status":451}`), false)
	f.Add([]byte("ip:::ffff:203.0.113.7"), []byte(nil), true)
	f.Add([]byte("apikey-fp:abc"), []byte(`{"subject":"apikey-fp:abc","until":"2026-11-25T22:15:00Z","created_at":"x"}`), false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		c, err := DecodeRecord(key, value)
		if err != nil {
			return
		}
		require.Equal(t, string(key), c.Subject)
		if c.Deleted {
			require.Nil(t, value)
			return
		}
		e := c.Entry
		require.Equal(t, c.Subject, e.Subject)
		require.True(t, e.Status >= 400 && e.Status <= 599, "status %d", e.Status)
		require.LessOrEqual(t, len(e.Message), maxMessage)
		// A decoded entry must build into a matcher and survive the
		// snapshot's encode/decode unchanged.
		_, err = NewMatcher([]Entry{e})
		require.NoError(t, err)
		v, err := EncodeValue(e)
		require.NoError(t, err)
		again, err := DecodeRecord(key, v)
		require.NoError(t, err)
		require.Equal(t, c, again)
	})
}
