package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one spooled event: everything needed to produce it again.
// Its fields match publish.Message one for one.
type Record struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
	ID      string
	Time    time.Time
}

// On disk a record is a frame:
//
//	magic "GW" | length uint32 BE | CRC-32C of payload uint32 BE | payload
//
// and the payload is a msgpack array [version, topic, key, value,
// [[hkey, hvalue]…], id, unix nanoseconds]. The magic lets the reader find
// the next frame after a corrupt one; the checksum tells a torn or damaged
// record from a good one.
const (
	frameHeader   = 10
	recordVersion = 1
	// maxPayload bounds the length field, so that a corrupt one cannot make
	// the reader allocate gigabytes.
	maxPayload = 64 << 20
)

var (
	magic      = [2]byte{'G', 'W'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// appendFrame appends r, framed, to buf.
func appendFrame(buf *bytes.Buffer, enc *msgpack.Encoder, r *Record) error {
	start := buf.Len()
	buf.Write(make([]byte, frameHeader))
	enc.Reset(buf)
	if err := encodeRecord(enc, r); err != nil {
		buf.Truncate(start)
		return fmt.Errorf("spool: encode record %s: %w", r.ID, err)
	}
	b := buf.Bytes()[start:]
	payload := b[frameHeader:]
	if len(payload) > maxPayload {
		buf.Truncate(start)
		return fmt.Errorf("spool: record %s: %d bytes, more than %d", r.ID, len(payload), maxPayload)
	}
	b[0], b[1] = magic[0], magic[1]
	binary.BigEndian.PutUint32(b[2:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[6:], crc32.Checksum(payload, castagnoli))
	return nil
}

func encodeRecord(enc *msgpack.Encoder, r *Record) error {
	if err := enc.EncodeArrayLen(7); err != nil {
		return err
	}
	for _, err := range []error{
		enc.EncodeUint(recordVersion),
		enc.EncodeString(r.Topic),
		enc.EncodeBytes(r.Key),
		enc.EncodeBytes(r.Value),
		enc.EncodeArrayLen(len(r.Headers)),
	} {
		if err != nil {
			return err
		}
	}
	for _, h := range r.Headers {
		if err := enc.EncodeArrayLen(2); err != nil {
			return err
		}
		if err := enc.EncodeString(h.Key); err != nil {
			return err
		}
		if err := enc.EncodeBytes(h.Value); err != nil {
			return err
		}
	}
	if err := enc.EncodeString(r.ID); err != nil {
		return err
	}
	var ns int64
	if !r.Time.IsZero() {
		ns = r.Time.UnixNano()
	}
	return enc.EncodeInt(ns)
}

// frameStatus is what parseFrame found at the start of a buffer.
type frameStatus int

const (
	frameOK    frameStatus = iota
	frameShort             // the buffer ends inside the frame
	frameBad               // not a frame, or its checksum does not match
)

// parseFrame looks at the frame at the start of b and returns its payload
// and total length when it is good.
func parseFrame(b []byte) (payload []byte, n int, st frameStatus) {
	if len(b) < frameHeader {
		if len(b) >= 2 && (b[0] != magic[0] || b[1] != magic[1]) {
			return nil, 0, frameBad
		}
		return nil, 0, frameShort
	}
	if b[0] != magic[0] || b[1] != magic[1] {
		return nil, 0, frameBad
	}
	size := binary.BigEndian.Uint32(b[2:])
	if size > maxPayload {
		return nil, 0, frameBad
	}
	n = frameHeader + int(size)
	if len(b) < n {
		return nil, 0, frameShort
	}
	payload = b[frameHeader:n]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[6:]) {
		return nil, 0, frameBad
	}
	return payload, n, frameOK
}

// resync returns the offset of the next place in b (after its first byte)
// where a frame could start: a good frame, or one that b cuts short.
// It returns len(b) when there is none.
func resync(b []byte) int {
	for i := 1; i < len(b); i++ {
		if b[i] != magic[0] {
			continue
		}
		if _, _, st := parseFrame(b[i:]); st != frameBad {
			return i
		}
	}
	return len(b)
}

var errRecord = errors.New("spool: malformed record")

// decodeRecord reads a payload written by encodeRecord. A payload that
// passed its checksum can still be malformed (a bug, a foreign file): it
// is an error, never a panic.
func decodeRecord(payload []byte, dec *msgpack.Decoder) (Record, error) {
	var r Record
	dec.Reset(bytes.NewReader(payload))
	n, err := dec.DecodeArrayLen()
	if err != nil || n != 7 {
		return r, fmt.Errorf("%w: %d fields (%v)", errRecord, n, err)
	}
	v, err := dec.DecodeUint()
	if err != nil || v != recordVersion {
		return r, fmt.Errorf("%w: version %d (%v)", errRecord, v, err)
	}
	if r.Topic, err = dec.DecodeString(); err != nil {
		return r, fmt.Errorf("%w: topic: %v", errRecord, err)
	}
	if r.Key, err = dec.DecodeBytes(); err != nil {
		return r, fmt.Errorf("%w: key: %v", errRecord, err)
	}
	if r.Value, err = dec.DecodeBytes(); err != nil {
		return r, fmt.Errorf("%w: value: %v", errRecord, err)
	}
	nh, err := dec.DecodeArrayLen()
	if err != nil || nh < 0 || nh > len(payload) {
		return r, fmt.Errorf("%w: headers: %d (%v)", errRecord, nh, err)
	}
	if nh > 0 {
		r.Headers = make([]Header, nh)
	}
	for i := range r.Headers {
		if k, err := dec.DecodeArrayLen(); err != nil || k != 2 {
			return r, fmt.Errorf("%w: header %d: %d fields (%v)", errRecord, i, k, err)
		}
		if r.Headers[i].Key, err = dec.DecodeString(); err != nil {
			return r, fmt.Errorf("%w: header %d key: %v", errRecord, i, err)
		}
		if r.Headers[i].Value, err = dec.DecodeBytes(); err != nil {
			return r, fmt.Errorf("%w: header %d value: %v", errRecord, i, err)
		}
	}
	if r.ID, err = dec.DecodeString(); err != nil {
		return r, fmt.Errorf("%w: id: %v", errRecord, err)
	}
	ns, err := dec.DecodeInt64()
	if err != nil {
		return r, fmt.Errorf("%w: time: %v", errRecord, err)
	}
	if ns != 0 {
		r.Time = time.Unix(0, ns)
	}
	return r, nil
}
