package pluginserver

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"github.com/Kong/go-pdk"
)

// maxCallFrame bounds the frames the server itself reads (RpcCall, whose
// largest member is a plugin config); larger lengths are garbage.
const maxCallFrame = 16 << 20

// bridgeConn is the net.Conn handed to pdk.Init. Writes go to a buffer that
// is flushed before every read, so go-pdk's bridge, which writes a length
// and a payload for each of its two frames and then reads, costs one write
// system call per PDK call. It also records what the server needs to know
// after a handler returned or panicked: whether the handler closed the
// connection (go-pdk's Response.Exit does) and whether the stream is still
// consistent.
//
// Only the goroutine serving the connection uses it, except closeNow, which
// the shutdown path may call from elsewhere.
type bridgeConn struct {
	net.Conn
	r *bufio.Reader
	w *bufio.Writer

	kong   *pdk.PDK    // the PDK over this connection, made on first use
	exited atomic.Bool // Close was called through the PDK
	err    error       // first read or write error
	// unread counts bytes written since the last read; if more than what
	// is still buffered, part of an unfinished PDK call reached Kong.
	unread int
}

func newBridgeConn(c net.Conn) *bridgeConn {
	return &bridgeConn{Conn: c, r: bufio.NewReaderSize(c, 8<<10), w: bufio.NewWriterSize(c, 8<<10)}
}

// pdk returns the PDK for handlers on this connection. One per connection
// rather than per event: it only wraps the connection, and Kong runs the
// events of a connection one after another.
func (b *bridgeConn) pdk() *pdk.PDK {
	if b.kong == nil {
		b.kong = pdk.Init(b)
	}
	return b.kong
}

func (b *bridgeConn) Read(p []byte) (int, error) {
	if err := b.flush(); err != nil {
		return 0, err
	}
	b.unread = 0
	n, err := b.r.Read(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *bridgeConn) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.w.Write(p)
	b.unread += n
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close is what go-pdk's Response.Exit calls after kong.response.exit: the
// request is over for this plugin and the connection with it.
func (b *bridgeConn) Close() error {
	b.exited.Store(true)
	return b.Conn.Close()
}

func (b *bridgeConn) flush() error {
	if b.err != nil {
		return b.err
	}
	if b.w.Buffered() == 0 {
		return nil
	}
	if err := b.w.Flush(); err != nil {
		b.err = err
		return err
	}
	return nil
}

// recoverable reports whether the stream is at a frame boundary Kong
// agrees with, dropping a half-written PDK call that never left the buffer.
func (b *bridgeConn) recoverable() bool {
	if b.err != nil || b.exited.Load() {
		return false
	}
	if b.unread > b.w.Buffered() {
		return false // part of an unfinished call is already on the wire
	}
	b.w.Reset(b.Conn)
	b.unread = 0
	return true
}

func readFrameBody(r io.Reader, n uint32, limit int) ([]byte, error) {
	if int64(n) > int64(limit) {
		return nil, fmt.Errorf("frame of %d bytes exceeds the %d-byte limit", n, limit)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("frame of %d bytes: %w", n, err)
	}
	return data, nil
}

// writeFrame buffers one frame; the next read (or flush) sends it.
func (b *bridgeConn) writeFrame(data []byte) error {
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(data)))
	if _, err := b.Write(hdr[:]); err != nil {
		return err
	}
	_, err := b.Write(data)
	return err
}

// ReadFrame reads one protocol frame (4-byte little-endian length, then the
// payload) of at most limit bytes. It is the parser of what arrives on the
// socket, exported for tests and tools such as a Kong emulator.
func ReadFrame(r io.Reader, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	return readFrameBody(r, binary.LittleEndian.Uint32(hdr[:]), limit)
}

// AppendFrame appends one protocol frame holding data to dst.
func AppendFrame(dst, data []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
}
