// Package spool is gatewatch's disk buffer for events that Kafka could not
// take: append-only segment files of checksummed msgpack records, read back
// in order and deleted only once every record in them was acknowledged.
//
// Guarantees:
//   - Records are read back in the order they were appended, across
//     restarts: Open finds the segments (and the read position) a previous
//     process left, whatever way it died.
//   - A torn or corrupt record never stops reading: the reader skips to the
//     next good frame and reports the skip (DropCorrupt, one per damaged
//     region, which may have held more than one record).
//   - A segment is deleted only when the reader has acknowledged all of
//     it, or when a limit (MaxBytes, MaxAge) drops it; every drop is
//     reported with its record count.
//   - What a power loss can cost depends on Config.Fsync (docs/delivery.md).
//
// A Spool has one writer and one reader (Peek/Ack); all methods are safe
// for concurrent use.
package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Reasons passed to the drop callback.
const (
	DropFull    = "spool_full"    // MaxBytes reached: the oldest segment was dropped
	DropAge     = "spool_age"     // a segment older than MaxAge was dropped
	DropCorrupt = "spool_corrupt" // a torn or corrupt region was skipped
)

const (
	segExt     = ".seg"
	cursorName = "cursor"
)

type segment struct {
	seq            uint64
	size           int64 // bytes written
	records        int64 // good records in it
	oldest, newest time.Time
}

// Cursor marks how far a Peek read; give it back to Ack once Kafka has
// acknowledged what Peek returned.
type Cursor struct {
	seq uint64
	off int64
	n   int64
}

// Stats describes what waits on disk.
type Stats struct {
	Bytes    int64     // size of all segment files
	Records  int64     // records not yet acknowledged
	Segments int       // segment files
	Oldest   time.Time // enqueue time of the oldest unacknowledged record (zero if none)
}

// Spool is an open spool directory.
type Spool struct {
	cfg    Config
	onDrop func(n int, reason string)

	mu     sync.Mutex
	closed bool
	segs   []*segment // oldest first; the last one is being written
	w      *os.File   // the last segment, opened for append
	dirty  bool       // written since the last fsync
	buf    bytes.Buffer
	enc    *msgpack.Encoder
	dec    *msgpack.Decoder
	cursor *os.File

	// The read position: segment segs[0], offset roff, racked records
	// acknowledged before roff.
	roff   int64
	racked int64
	rf     *os.File // segs[0], opened for reading
	rseq   uint64   // which segment rf is
	// lastSeq is the highest segment number ever used here, the cursor's
	// included, so that a new segment never takes a number the cursor
	// already calls acknowledged.
	lastSeq uint64

	stopSync chan struct{}
	synced   chan struct{}
}

// Open opens (creating if needed) the spool in c.Dir and finds what a
// previous process left there. onDrop (may be nil) is told about every
// record lost to a limit or to corruption; it is called with the spool's
// lock held and must not call back into the Spool.
func Open(c Config, onDrop func(n int, reason string)) (*Spool, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		return nil, errors.New("spool: Dir: required")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", c.Dir, err)
	}
	if onDrop == nil {
		onDrop = func(int, string) {}
	}
	s := &Spool{cfg: c, onDrop: onDrop, enc: msgpack.NewEncoder(nil), dec: msgpack.NewDecoder(nil)}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.rotate(); err != nil {
		return nil, err
	}
	if err := s.writeCursor(); err != nil {
		return nil, err
	}
	if c.Fsync == FsyncInterval {
		s.stopSync, s.synced = make(chan struct{}), make(chan struct{})
		go s.syncLoop()
	}
	return s, nil
}

func (s *Spool) segPath(seq uint64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d%s", seq, segExt))
}

// load scans the segments and the read position a previous process left.
func (s *Spool) load() error {
	names, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", s.cfg.Dir, err)
	}
	for _, e := range names {
		name := e.Name()
		if !strings.HasSuffix(name, segExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segExt), 10, 64)
		if err != nil {
			continue // not ours
		}
		s.segs = append(s.segs, &segment{seq: seq})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].seq < s.segs[j].seq })
	cseq, coff := s.readCursor()
	s.lastSeq = cseq
	if n := len(s.segs); n > 0 && s.segs[n-1].seq > s.lastSeq {
		s.lastSeq = s.segs[n-1].seq
	}
	kept := s.segs[:0]
	for _, sg := range s.segs {
		if len(kept) == 0 && sg.seq < cseq {
			// Fully acknowledged before the previous process stopped.
			_ = os.Remove(s.segPath(sg.seq))
			continue
		}
		before, err := s.scan(sg, coffFor(sg.seq, cseq, coff))
		if err != nil {
			return err
		}
		if len(kept) == 0 && sg.seq == cseq {
			s.roff, s.racked = coff, before
		}
		kept = append(kept, sg)
	}
	s.segs = kept
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, cursorName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open cursor: %w", err)
	}
	s.cursor = f
	return nil
}

func coffFor(seq, cseq uint64, coff int64) int64 {
	if seq == cseq {
		return coff
	}
	return -1
}

// scan counts the good records of a segment and their time span; it
// returns how many lie before the offset upto.
func (s *Spool) scan(sg *segment, upto int64) (before int64, err error) {
	data, err := os.ReadFile(s.segPath(sg.seq))
	if err != nil {
		return 0, fmt.Errorf("spool: read segment %d: %w", sg.seq, err)
	}
	sg.size = int64(len(data))
	for off := 0; off < len(data); {
		payload, n, st := parseFrame(data[off:])
		if st != frameOK {
			off += resync(data[off:])
			continue
		}
		if r, err := decodeRecord(payload, s.dec); err == nil {
			if int64(off) < upto {
				before++
			}
			sg.records++
			if !r.Time.IsZero() && (sg.oldest.IsZero() || r.Time.Before(sg.oldest)) {
				sg.oldest = r.Time
			}
			if r.Time.After(sg.newest) {
				sg.newest = r.Time
			}
		}
		off += n
	}
	return before, nil
}

// The cursor file holds the read position: segment, offset, CRC-32C of
// both. A torn cursor only means re-reading from the segment's start.
func (s *Spool) readCursor() (uint64, int64) {
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, cursorName))
	if err != nil || len(b) < 20 || crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:]) {
		return 0, 0
	}
	return binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint64(b[8:]))
}

func (s *Spool) writeCursor() error {
	var b [20]byte
	if len(s.segs) > 0 {
		binary.BigEndian.PutUint64(b[:], s.segs[0].seq)
	}
	binary.BigEndian.PutUint64(b[8:], uint64(s.roff))
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	if _, err := s.cursor.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	return nil
}

// Stats returns what waits on disk.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Segments: len(s.segs)}
	for i, sg := range s.segs {
		st.Bytes += sg.size
		st.Records += sg.records
		if i == 0 {
			st.Records -= s.racked
		}
		if st.Oldest.IsZero() && sg.records > 0 && !sg.oldest.IsZero() {
			st.Oldest = sg.oldest
		}
	}
	return st
}

// Close syncs (unless Fsync is never) and closes the files. A fully
// acknowledged segment being written is deleted.
func (s *Spool) Close() error {
	if s.stopSync != nil {
		close(s.stopSync)
		<-s.synced
		s.stopSync = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	var errs []error
	if s.cfg.Fsync != FsyncNever {
		if err := s.syncLocked(); err != nil {
			errs = append(errs, err)
		}
	}
	s.closed = true
	if err := s.w.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: close segment: %w", err))
	}
	if a := s.active(); a.size == 0 {
		_ = os.Remove(s.segPath(a.seq))
	}
	if s.rf != nil {
		_ = s.rf.Close()
	}
	if err := s.writeCursor(); err != nil {
		errs = append(errs, err)
	}
	if err := s.cursor.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: close cursor: %w", err))
	}
	return errors.Join(errs...)
}
