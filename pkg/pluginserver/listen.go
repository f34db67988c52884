package pluginserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is
// 108 bytes including the terminating NUL).
const maxSocketPath = 107

// Listen listens on a unix socket at path, replacing a stale socket file
// there (a server killed without cleanup leaves one, and Kong then gets
// "connection refused"). The socket is bound under a temporary name and
// renamed into place once it accepts connections, because Kong does not
// wait for readiness: a path that exists but does not yet listen would
// fail Kong's first calls. Closing the returned listener removes the
// socket file, but only if it is still the one this listener created:
// during a Kong reload the next server may already listen at the same path.
func Listen(path string) (net.Listener, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	if len(tmp) > maxSocketPath {
		return nil, fmt.Errorf("pluginserver: socket path %s is too long: unix sockets allow %d bytes and this one needs %d with its temporary name (use a shorter -kong-prefix)", path, maxSocketPath, len(tmp))
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("pluginserver: %s exists and is not a socket; refusing to replace it", path)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pluginserver: checking socket path: %w", err)
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pluginserver: removing leftover %s: %w", tmp, err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("pluginserver: listening: %w", err)
	}
	l.SetUnlinkOnClose(false)
	// rename(2) is atomic and replaces a stale socket file in one step.
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("pluginserver: moving socket into place: %w", err)
	}
	ours, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("pluginserver: checking new socket: %w", err)
	}
	return &socketListener{UnixListener: l, path: path, ours: ours}, nil
}

type socketListener struct {
	*net.UnixListener
	path string
	ours fs.FileInfo
	once sync.Once
	err  error
}

func (l *socketListener) Close() error {
	l.once.Do(func() {
		l.err = l.UnixListener.Close()
		if now, err := os.Lstat(l.path); err == nil && os.SameFile(now, l.ours) {
			if err := os.Remove(l.path); err != nil && l.err == nil {
				l.err = fmt.Errorf("pluginserver: removing socket: %w", err)
			}
		}
	})
	return l.err
}
