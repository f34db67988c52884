package errlog

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func appendTo(t *testing.T, name string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	for _, l := range lines {
		_, err = f.WriteString(l + "\n")
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
}

func numbered(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, "line "+strconv.Itoa(i))
	}
	return out
}

func pollAll(t *testing.T, fl *Follower) []string {
	t.Helper()
	got, err := fl.Poll()
	require.NoError(t, err)
	return got
}

func TestFollower(t *testing.T) {
	t.Run("it returns appended lines and holds back an incomplete one", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "error.log")
		appendTo(t, name, numbered(0, 3)...)
		fl, err := Open(name, Position{}, true)
		require.NoError(t, err)
		defer fl.Close()
		assert.Equal(t, numbered(0, 3), pollAll(t, fl))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, _ = f.WriteString("half")
		assert.Empty(t, pollAll(t, fl))
		_, _ = f.WriteString(" done\n")
		require.NoError(t, f.Close())
		assert.Equal(t, []string{"half done"}, pollAll(t, fl))
	})
	t.Run("without a position and from the end it skips what is there", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "error.log")
		appendTo(t, name, numbered(0, 3)...)
		fl, err := Open(name, Position{}, false)
		require.NoError(t, err)
		defer fl.Close()
		appendTo(t, name, "new")
		assert.Equal(t, []string{"new"}, pollAll(t, fl))
	})
	t.Run("rotation by rename reads the old file to its end, then the new one", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "error.log")
		appendTo(t, name, numbered(0, 2)...)
		fl, err := Open(name, Position{}, true)
		require.NoError(t, err)
		defer fl.Close()
		assert.Equal(t, numbered(0, 2), pollAll(t, fl))
		appendTo(t, name, numbered(2, 4)...) // written before the rename
		require.NoError(t, os.Rename(name, name+".1"))
		appendTo(t, name+".1", numbered(4, 5)...) // nginx writes the old fd until USR1
		appendTo(t, name, numbered(5, 7)...)
		assert.Equal(t, numbered(2, 7), pollAll(t, fl))
		assert.Equal(t, 1, fl.Rotations)
	})
	t.Run("truncation in place starts over at the beginning", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "error.log")
		appendTo(t, name, numbered(0, 5)...)
		fl, err := Open(name, Position{}, true)
		require.NoError(t, err)
		defer fl.Close()
		assert.Len(t, pollAll(t, fl), 5)
		require.NoError(t, os.Truncate(name, 0))
		appendTo(t, name, "after")
		assert.Equal(t, []string{"after"}, pollAll(t, fl))
		assert.Equal(t, 1, fl.Truncations)
	})
	t.Run("a missing file is waited for", func(t *testing.T) {
		name := filepath.Join(t.TempDir(), "error.log")
		fl, err := Open(name, Position{}, false)
		require.NoError(t, err)
		defer fl.Close()
		assert.Empty(t, pollAll(t, fl))
		appendTo(t, name, "first")
		assert.Equal(t, []string{"first"}, pollAll(t, fl))
	})
}

func TestResume(t *testing.T) {
	setup := func(t *testing.T) (name, state string, pos Position) {
		dir := t.TempDir()
		name, state = filepath.Join(dir, "error.log"), filepath.Join(dir, "state.json")
		appendTo(t, name, numbered(0, 3)...)
		fl, err := Open(name, Position{}, true)
		require.NoError(t, err)
		require.Equal(t, numbered(0, 3), pollAll(t, fl))
		require.NoError(t, SavePosition(state, fl.Position()))
		require.NoError(t, fl.Close())
		pos, err = LoadPosition(state)
		require.NoError(t, err)
		return name, state, pos
	}
	t.Run("a saved position resumes after the last line read", func(t *testing.T) {
		name, _, pos := setup(t)
		appendTo(t, name, numbered(3, 5)...)
		fl, err := Open(name, pos, false)
		require.NoError(t, err)
		defer fl.Close()
		assert.Equal(t, numbered(3, 5), pollAll(t, fl))
	})
	t.Run("a file rotated while stopped is finished before the new one", func(t *testing.T) {
		name, _, pos := setup(t)
		appendTo(t, name, numbered(3, 5)...)
		require.NoError(t, os.Rename(name, name+".1"))
		appendTo(t, name, numbered(5, 6)...)
		fl, err := Open(name, pos, false)
		require.NoError(t, err)
		defer fl.Close()
		assert.Equal(t, numbered(3, 6), pollAll(t, fl))
	})
	t.Run("a file truncated while stopped is read from its start", func(t *testing.T) {
		name, _, pos := setup(t)
		require.NoError(t, os.Truncate(name, 0))
		appendTo(t, name, "x")
		fl, err := Open(name, pos, false)
		require.NoError(t, err)
		defer fl.Close()
		assert.Equal(t, []string{"x"}, pollAll(t, fl))
	})
	t.Run("a missing state file is the zero position", func(t *testing.T) {
		pos, err := LoadPosition(filepath.Join(t.TempDir(), "none"))
		require.NoError(t, err)
		assert.Zero(t, pos)
	})
	t.Run("a corrupt state file is an error naming it", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state.json")
		require.NoError(t, os.WriteFile(state, []byte("{"), 0o600))
		_, err := LoadPosition(state)
		require.ErrorContains(t, err, state)
	})
}
