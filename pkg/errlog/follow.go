package errlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Position is where reading stopped: the file, by device and inode (its
// name changes on rotation), and the offset just past the last complete
// line handed out.
type Position struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
}

// Follower reads complete lines from a file that logrotate may rename
// (nginx reopens the name on USR1) or truncate (copytruncate), and which
// may be missing for a while. Poll returns what has been appended since
// the last call. Not safe for concurrent use.
type Follower struct {
	path string
	f    *os.File
	dev  uint64
	ino  uint64
	off  int64  // offset just past the last complete line returned
	rd   int64  // offset up to which f has been read into buf
	buf  []byte // bytes read past off: an incomplete last line
	// Rotations and Truncations count what the follower noticed.
	Rotations, Truncations int
}

// Open starts following path at pos (from a saved state): at pos.Offset
// if path is still that file; in the renamed file (path.1, path-2026…,
// any name in path's directory that starts with path's base name) if it
// was rotated, whose rest is read before path; at 0 if it was truncated
// or cannot be found. With a zero pos it starts at the end of path, or,
// with fromStart, at its beginning.
func Open(path string, pos Position, fromStart bool) (*Follower, error) {
	fl := &Follower{path: path}
	if pos.Ino == 0 {
		if err := fl.open(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fl, nil // appears later
			}
			return nil, err
		}
		if !fromStart {
			st, err := fl.f.Stat()
			if err != nil {
				return nil, fmt.Errorf("errlog: stat %s: %w", path, err)
			}
			fl.off, fl.rd = st.Size(), st.Size()
		}
		return fl, nil
	}
	name := path
	if dev, ino, err := fileID(path); err != nil || dev != pos.Dev || ino != pos.Ino {
		name = findRotated(path, pos.Dev, pos.Ino)
	}
	if name == "" { // gone: start with what is at path now
		if err := fl.open(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return fl, nil
	}
	if err := fl.open(name); err != nil {
		return nil, err
	}
	st, err := fl.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("errlog: stat %s: %w", name, err)
	}
	if st.Size() >= pos.Offset {
		fl.off, fl.rd = pos.Offset, pos.Offset
	} else {
		fl.Truncations++
	}
	return fl, nil
}

func findRotated(path string, dev, ino uint64) string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), base) || e.Name() == base {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if d, i, err := fileID(p); err == nil && d == dev && i == ino {
			return p
		}
	}
	return ""
}

func fileID(name string) (dev, ino uint64, err error) {
	st, err := os.Stat(name)
	if err != nil {
		return 0, 0, err
	}
	return statID(st)
}

func statID(st os.FileInfo) (dev, ino uint64, err error) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, errors.New("errlog: file identity needs a Unix stat")
	}
	return uint64(sys.Dev), sys.Ino, nil
}

func (fl *Follower) open(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("errlog: open %s: %w", name, err)
	}
	st, err := f.Stat()
	if err == nil {
		fl.dev, fl.ino, err = statID(st)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("errlog: stat %s: %w", name, err)
	}
	fl.f, fl.off, fl.rd, fl.buf = f, 0, 0, fl.buf[:0]
	return nil
}

// Position is the current read position; every line before it has been
// returned by Poll.
func (fl *Follower) Position() Position {
	return Position{Path: fl.path, Dev: fl.dev, Ino: fl.ino, Offset: fl.off}
}

// maxLine bounds a line held in memory; a longer one is cut.
const maxLine = 64 << 10

// Poll returns the complete lines appended since the last call, without
// their newlines, following a rotation or truncation it notices. It never
// blocks waiting for data.
func (fl *Follower) Poll() ([]string, error) {
	var lines []string
	for range 4 { // at most a few rotations per poll
		if fl.f == nil {
			if err := fl.open(fl.path); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return lines, nil
				}
				return lines, err
			}
		}
		st, err := fl.f.Stat()
		if err != nil {
			return lines, fmt.Errorf("errlog: stat %s: %w", fl.path, err)
		}
		if st.Size() < fl.rd { // copytruncate
			fl.Truncations++
			fl.off, fl.rd, fl.buf = 0, 0, fl.buf[:0]
		}
		got, err := fl.readAll()
		lines = append(lines, got...)
		if err != nil {
			return lines, err
		}
		// At the end of this file: is path still it?
		dev, ino, err := fileID(fl.path)
		if err != nil || dev == fl.dev && ino == fl.ino {
			return lines, nil // same file, or the new one is not there yet
		}
		// Rotated by rename: the old file is complete (nginx reopened
		// path, or is about to, so a last write can still land; the read
		// above already took everything up to now).
		if len(fl.buf) > 0 { // a last line without newline
			lines = append(lines, string(fl.buf))
		}
		fl.f.Close()
		fl.f = nil
		fl.Rotations++
	}
	return lines, nil
}

func (fl *Follower) readAll() ([]string, error) {
	var lines []string
	chunk := make([]byte, 32<<10)
	for {
		n, err := fl.f.ReadAt(chunk, fl.rd)
		if n > 0 {
			fl.rd += int64(n)
			fl.buf = append(fl.buf, chunk[:n]...)
			for {
				i := indexNL(fl.buf)
				if i < 0 {
					if len(fl.buf) > maxLine {
						lines = append(lines, string(fl.buf[:maxLine]))
						fl.off += int64(len(fl.buf))
						fl.buf = fl.buf[:0]
					}
					break
				}
				line := fl.buf[:i]
				if len(line) > maxLine {
					line = line[:maxLine]
				}
				lines = append(lines, strings.TrimSuffix(string(line), "\r"))
				fl.off += int64(i + 1)
				fl.buf = fl.buf[i+1:]
			}
		}
		if errors.Is(err, io.EOF) {
			fl.buf = append([]byte(nil), fl.buf...) // drop the consumed prefix
			return lines, nil
		}
		if err != nil {
			return lines, fmt.Errorf("errlog: read %s: %w", fl.path, err)
		}
	}
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// Close releases the file.
func (fl *Follower) Close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f = nil
	return err
}

// LoadPosition reads a position saved by SavePosition; a missing file is
// the zero Position.
func LoadPosition(name string) (Position, error) {
	var p Position
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("errlog: state %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("errlog: state %s: %w", name, err)
	}
	if p.Offset < 0 {
		return p, fmt.Errorf("errlog: state %s: offset %d is negative", name, p.Offset)
	}
	return p, nil
}

// SavePosition writes p atomically (temporary file, fsync, rename), so a
// crash leaves the old position or the new one, never half of either.
func SavePosition(name string, p Position) error {
	b, _ := json.Marshal(p)
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("errlog: state %s: %w", name, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		return fmt.Errorf("errlog: state %s: %w", name, err)
	}
	return nil
}
