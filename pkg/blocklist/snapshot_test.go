package blocklist

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshotRoundTripsEveryKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocklist.json")
	in := []Entry{
		entry(t, "ip:203.0.113.7", time.Hour),
		entry(t, "cidr:2001:db8::/32", time.Hour),
		entry(t, "consumer:c0ffee", time.Hour),
		entry(t, "apikey-fp:9f86d081884c7d65", time.Hour),
	}
	in[0].Status, in[0].Message, in[0].AlertID = 429, "slow down", "3f2a"
	require.NoError(t, SaveSnapshot(path, DefaultTopic, in, t0))

	out, ok, err := LoadSnapshot(path, DefaultTopic)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, in, out)

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the list names clients: not world-readable")
	left, err := filepath.Glob(path + ".tmp-*")
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file is left behind")
}

func TestSnapshotReplacesTheOldFileWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocklist.json")
	require.NoError(t, SaveSnapshot(path, DefaultTopic, []Entry{entry(t, "ip:203.0.113.7", time.Hour), entry(t, "ip:203.0.113.8", time.Hour)}, t0))
	require.NoError(t, SaveSnapshot(path, DefaultTopic, []Entry{entry(t, "consumer:c", time.Hour)}, t0))
	out, _, err := LoadSnapshot(path, DefaultTopic)
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, "consumer:c", out[0].Subject)
}

func TestLoadSnapshot(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantOK  bool
		wantErr string
	}{
		{name: "a missing file is no snapshot and no error", path: filepath.Join(dir, "missing.json")},
		{name: "an empty list loads", path: write("empty.json", `{"version":1,"topic":"gatewatch.blocklist","entries":[]}`), wantOK: true},
		{name: "another version is refused", path: write("v2.json", `{"version":2,"topic":"gatewatch.blocklist","entries":[]}`), wantErr: "version 2"},
		{name: "another topic's snapshot is refused", path: write("other.json", `{"version":1,"topic":"other","entries":[]}`), wantErr: `topic "other"`},
		{name: "a truncated file is refused", path: write("cut.json", `{"version":1,"topic":"gatewatch.blocklist","entr`), wantErr: "cut.json"},
		{name: "an entry that is not a record is refused", path: write("bad.json", `{"version":1,"topic":"gatewatch.blocklist","entries":[{"subject":"ip:1.2.3.4","until":"soon"}]}`), wantErr: "entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := LoadSnapshot(tt.path, DefaultTopic)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok)
		})
	}
}

func TestSaveSnapshotReportsAnUnwritableDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "blocklist.json")
	err := SaveSnapshot(path, DefaultTopic, nil, t0)
	assert.ErrorContains(t, err, path)
}
