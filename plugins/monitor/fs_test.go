package monitor

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func mkdir(dir string) error     { return os.MkdirAll(dir, 0o700) }
func removeAll(dir string) error { return os.RemoveAll(dir) }

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
