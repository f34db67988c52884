package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// readChunk is how much of a segment one Peek reads at least.
const readChunk = 1 << 20

// Peek returns up to max records (and about maxBytes of them) from the
// read position, without moving it. Corrupt regions at the read position
// are skipped (and reported) first; a fully read segment other than the
// one being written is deleted on the way.
func (s *Spool) Peek(max, maxBytes int) ([]Record, Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, Cursor{}, ErrClosed
	}
	for {
		sg := s.segs[0]
		if s.roff >= sg.size {
			if len(s.segs) == 1 {
				return nil, Cursor{}, nil
			}
			s.removeFirst()
			if err := s.writeCursor(); err != nil {
				return nil, Cursor{}, err
			}
			continue
		}
		data, err := s.read(sg, maxBytes)
		if err != nil {
			return nil, Cursor{}, err
		}
		var recs []Record
		off := 0
		for off < len(data) && len(recs) < max && off < maxBytes {
			payload, n, st := parseFrame(data[off:])
			if st == frameShort && s.roff+int64(off)+int64(len(data)-off) < sg.size {
				break // the chunk ends inside the frame: the next Peek reads it
			}
			if st == frameOK {
				r, err := decodeRecord(payload, s.dec)
				if err == nil {
					recs = append(recs, r)
					off += n
					continue
				}
			}
			if len(recs) > 0 {
				break // skip and report it at the start of the next Peek
			}
			// Torn or corrupt at the read position: skip it, report it once.
			if st == frameOK {
				off += n
			} else {
				off += resync(data[off:])
			}
			s.roff += int64(off)
			data, off = data[off:], 0
			s.onDrop(1, DropCorrupt)
			if err := s.writeCursor(); err != nil {
				return nil, Cursor{}, err
			}
		}
		if len(recs) == 0 {
			continue
		}
		return recs, Cursor{seq: sg.seq, off: s.roff + int64(off), n: int64(len(recs))}, nil
	}
}

// read returns the segment's bytes from the read position, at least one
// frame's worth when there is one.
func (s *Spool) read(sg *segment, maxBytes int) ([]byte, error) {
	if s.rf == nil || s.rseq != sg.seq {
		if s.rf != nil {
			_ = s.rf.Close()
		}
		f, err := os.Open(s.segPath(sg.seq))
		if err != nil {
			return nil, fmt.Errorf("spool: open segment %d: %w", sg.seq, err)
		}
		s.rf, s.rseq = f, sg.seq
	}
	want := int64(maxBytes) + frameHeader
	if want < readChunk {
		want = readChunk
	}
	for {
		if rem := sg.size - s.roff; want > rem {
			want = rem
		}
		data := make([]byte, want)
		n, err := s.rf.ReadAt(data, s.roff)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("spool: read segment %d: %w", sg.seq, err)
		}
		data = data[:n]
		// Make sure a whole first frame is in the chunk, however long.
		if _, _, st := parseFrame(data); st == frameShort && len(data) >= frameHeader {
			need := int64(frameHeader) + int64(binary.BigEndian.Uint32(data[2:]))
			if need > int64(len(data)) && need <= sg.size-s.roff {
				want = need
				continue
			}
		}
		return data, nil
	}
}

// Ack records that everything Peek returned with c reached Kafka. A fully
// acknowledged segment is deleted, and a fully acknowledged active segment
// truncated, so that the spool's disk use falls back to zero.
func (s *Spool) Ack(c Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.segs) == 0 || s.segs[0].seq != c.seq || c.off < s.roff {
		return nil // a limit dropped that segment meanwhile
	}
	s.roff, s.racked = c.off, s.racked+c.n
	sg := s.segs[0]
	if s.roff >= sg.size {
		if len(s.segs) > 1 {
			s.removeFirst()
		} else if err := s.w.Truncate(0); err == nil {
			sg.size, sg.records, sg.oldest, sg.newest = 0, 0, time.Time{}, time.Time{}
			s.roff, s.racked = 0, 0
		}
	}
	return s.writeCursor()
}
