package spool

import (
	"fmt"
	"os"
	"time"
)

// rotate closes the segment being written and starts the next one.
func (s *Spool) rotate() error {
	if s.w != nil {
		if s.cfg.Fsync != FsyncNever && s.dirty {
			if err := s.w.Sync(); err != nil {
				return fmt.Errorf("spool: sync %s: %w", s.w.Name(), err)
			}
		}
		s.dirty = false
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("spool: close %s: %w", s.w.Name(), err)
		}
		s.w = nil
	}
	s.lastSeq++
	seq := s.lastSeq
	f, err := os.OpenFile(s.segPath(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if s.cfg.Fsync != FsyncNever {
		// The new name must survive a power loss too.
		if d, err := os.Open(s.cfg.Dir); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	s.w = f
	s.segs = append(s.segs, &segment{seq: seq})
	return nil
}

func (s *Spool) active() *segment { return s.segs[len(s.segs)-1] }

// Append writes recs at the end of the spool, after making room under
// MaxBytes by dropping the oldest segments.
func (s *Spool) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.buf.Reset()
	oldest, newest := recs[0].Time, recs[0].Time
	for i := range recs {
		if err := appendFrame(&s.buf, s.enc, &recs[i]); err != nil {
			return err
		}
		if t := recs[i].Time; t.Before(oldest) {
			oldest = t
		} else if t.After(newest) {
			newest = t
		}
	}
	n := int64(s.buf.Len())
	if n > s.cfg.MaxBytes {
		s.onDrop(len(recs), DropFull)
		return nil
	}
	for s.bytes()+n > s.cfg.MaxBytes {
		if err := s.dropOldest(DropFull); err != nil {
			return err
		}
	}
	a := s.active()
	if a.size > 0 && a.size+n > s.cfg.SegmentBytes {
		if err := s.rotate(); err != nil {
			return err
		}
		a = s.active()
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		// Cut a partial write off, so that the segment stays well framed.
		_ = s.w.Truncate(a.size)
		return fmt.Errorf("spool: write segment %d: %w", a.seq, err)
	}
	a.size += n
	a.records += int64(len(recs))
	if a.oldest.IsZero() || oldest.Before(a.oldest) {
		a.oldest = oldest
	}
	if newest.After(a.newest) {
		a.newest = newest
	}
	s.dirty = true
	if s.cfg.Fsync == FsyncAlways {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("spool: sync segment %d: %w", a.seq, err)
		}
		s.dirty = false
	}
	return nil
}

func (s *Spool) bytes() int64 {
	var n int64
	for _, sg := range s.segs {
		n += sg.size
	}
	return n
}

// dropOldest deletes the oldest segment (rotating first if it is the one
// being written) and reports its unacknowledged records.
func (s *Spool) dropOldest(reason string) error {
	if len(s.segs) == 1 {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	sg := s.segs[0]
	lost := sg.records - s.racked
	s.removeFirst()
	if lost > 0 {
		s.onDrop(int(lost), reason)
	}
	return s.writeCursor()
}

// removeFirst deletes segs[0] and moves the read position to the next.
func (s *Spool) removeFirst() {
	sg := s.segs[0]
	if s.rf != nil {
		_ = s.rf.Close()
		s.rf = nil
	}
	_ = os.Remove(s.segPath(sg.seq))
	s.segs = s.segs[1:]
	s.roff, s.racked = 0, 0
}

// Enforce drops the segments whose newest record is older than MaxAge.
func (s *Spool) Enforce(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	limit := now.Add(-s.cfg.MaxAge)
	for len(s.segs) > 0 {
		sg := s.segs[0]
		if sg.records == 0 || sg.newest.IsZero() || !sg.newest.Before(limit) {
			return
		}
		if err := s.dropOldest(DropAge); err != nil {
			return
		}
	}
}

// Sync forces appended records to stable storage now.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked()
}

func (s *Spool) syncLocked() error {
	if s.closed || !s.dirty {
		return nil
	}
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: sync: %w", err)
	}
	s.dirty = false
	return nil
}

func (s *Spool) syncLoop() {
	defer close(s.synced)
	t := time.NewTicker(s.cfg.FsyncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = s.Sync() // a failing disk shows again at the next Append
		case <-s.stopSync:
			return
		}
	}
}
