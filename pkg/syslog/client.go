package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config is a collector connection. Only Addr is required; every default is
// written beside its field.
type Config struct {
	Addr         string        // host:port of the collector's TCP or TLS input
	TLS          *tls.Config   // nil: plain TCP (RFC 6587); else TLS (RFC 5425)
	DialTimeout  time.Duration // default 10s, including the TLS handshake
	WriteTimeout time.Duration // default 30s: a collector that reads nothing for this long is treated as gone
	MinBackoff   time.Duration // default 100ms, doubling per failed attempt
	MaxBackoff   time.Duration // default 30s
	// Settle is how long a written batch must stay on a live connection,
	// with every byte acknowledged by the collector's TCP, before it counts
	// as accepted. It exists because a collector that closes with unread
	// data in its socket resets the connection only after the
	// acknowledgement. Default 1s.
	Settle time.Duration
	// MaxPending bounds the bytes written but not yet accepted; Send blocks
	// (backpressure) while it is reached. Default 8 MiB.
	MaxPending int
	// Logf reports connection changes; default discards them.
	Logf func(format string, args ...any)
}

func (c *Config) setDefaults() {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.Settle <= 0 {
		c.Settle = time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 8 << 20
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Client sends batches of framed messages to one collector, at least once.
// It is not safe for concurrent use: one forwarding loop owns it.
type Client struct {
	cfg     Config
	conn    *conn
	pending []*batch // written (or to be rewritten), not yet accepted, in order
	bytes   int      // sum of len(frames) over pending
	done    []any    // tokens of accepted batches not yet handed out
	// Reconnects counts connections made after the first.
	Reconnects atomic.Int64
	dials      int
}

type batch struct {
	frames  []byte
	token   any
	gen     int       // connection it was last written on
	end     int64     // raw bytes written on that connection after it
	written time.Time // when the write completed
}

// NewClient returns a client; it connects on first use.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("syslog: Config.Addr is required")
	}
	cfg.setDefaults()
	return &Client{cfg: cfg}, nil
}

// Send writes one batch of framed messages and remembers token until the
// collector accepted the batch (see Accepted). If the connection fails, it
// reconnects with backoff and rewrites every unaccepted batch in order,
// then this one; it returns an error only when ctx ends. It blocks while
// MaxPending bytes are unaccepted.
func (c *Client) Send(ctx context.Context, frames []byte, token any) error {
	for c.bytes >= c.cfg.MaxPending {
		c.settle()
		if c.bytes < c.cfg.MaxPending {
			break
		}
		if err := c.ensure(ctx); err != nil {
			return err
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	b := &batch{frames: frames, token: token}
	c.pending = append(c.pending, b)
	c.bytes += len(frames)
	for {
		if err := c.ensure(ctx); err != nil {
			return err
		}
		if c.conn.gen == b.gen && b.end > 0 {
			return nil // written while replaying after a reconnect
		}
		if err := c.write(b); err == nil {
			return nil
		}
	}
}

// Accepted returns the tokens of batches the collector has accepted since
// the last call, oldest first, reconnecting and rewriting first if the
// connection died with batches outstanding. Acceptance means: the batch
// was written and flushed, the collector's TCP acknowledged every byte of
// it, and the connection was still up Settle after the write.
func (c *Client) Accepted(ctx context.Context) ([]any, error) {
	c.settle()
	if len(c.pending) > 0 && (c.conn == nil || c.conn.isDead()) {
		if err := c.ensure(ctx); err != nil {
			return c.take(), err
		}
	}
	return c.take(), nil
}

// Drain waits until every batch is accepted or ctx ends, and returns the
// tokens accepted meanwhile.
func (c *Client) Drain(ctx context.Context) ([]any, error) {
	var out []any
	for len(c.pending) > 0 {
		got, err := c.Accepted(ctx)
		out = append(out, got...)
		if err != nil {
			return out, err
		}
		if len(c.pending) == 0 {
			break
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return out, err
		}
	}
	got, err := c.Accepted(ctx)
	return append(out, got...), err
}

// Pending is the number of batches written but not yet accepted.
func (c *Client) Pending() int { return len(c.pending) }

// Close closes the connection; unaccepted batches are forgotten (their
// offsets were never committed, so they will be read again).
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.close()
	c.conn = nil
	return err
}

func (c *Client) take() []any {
	out := c.done
	c.done = nil
	return out
}

// settle moves batches that meet the acceptance rule from pending to done.
func (c *Client) settle() {
	if c.conn == nil || c.conn.isDead() || len(c.pending) == 0 {
		return
	}
	acked, err := c.conn.acked()
	if err != nil {
		c.conn.fail(err)
		return
	}
	now := time.Now()
	n := 0
	for _, b := range c.pending {
		if b.gen != c.conn.gen || b.end == 0 || b.end > acked || now.Sub(b.written) < c.cfg.Settle {
			break
		}
		c.done = append(c.done, b.token)
		c.bytes -= len(b.frames)
		n++
	}
	if n > 0 {
		clear(c.pending[:n])
		c.pending = c.pending[n:]
	}
}

// ensure returns with a live connection on which every pending batch has
// been written, dialling and rewriting as often as it takes.
func (c *Client) ensure(ctx context.Context) error {
	backoff := c.cfg.MinBackoff
	for {
		if c.conn != nil && !c.conn.isDead() {
			return nil
		}
		if c.conn != nil {
			c.cfg.Logf("syslog: connection to %s lost: %v; %d batches to resend", c.cfg.Addr, c.conn.err(), len(c.pending))
			c.conn.close()
			c.conn = nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		cn, err := c.dial(ctx)
		if err == nil {
			c.conn = cn
			if c.dials > 1 {
				c.Reconnects.Add(1)
			}
			for _, b := range c.pending {
				if err = c.write(b); err != nil {
					break
				}
			}
			if err == nil {
				return nil
			}
		}
		c.cfg.Logf("syslog: %s: %v; retrying in %v", c.cfg.Addr, err, backoff)
		// Jitter spreads the reconnects of many forwarders after one
		// collector restart.
		if err := sleep(ctx, backoff/2+rand.N(backoff/2+1)); err != nil {
			return err
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

func (c *Client) write(b *batch) error {
	cn := c.conn
	if err := cn.raw.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		cn.fail(err)
		return err
	}
	if _, err := cn.bw.Write(b.frames); err != nil {
		cn.fail(err)
		return err
	}
	if err := cn.bw.Flush(); err != nil {
		cn.fail(err)
		return err
	}
	b.gen = cn.gen
	b.end = cn.sent.Load()
	b.written = time.Now()
	return nil
}

func (c *Client) dial(ctx context.Context) (*conn, error) {
	c.dials++
	d := net.Dialer{Timeout: c.cfg.DialTimeout, KeepAlive: 15 * time.Second}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	tcp, ok := raw.(*net.TCPConn)
	if !ok {
		raw.Close()
		return nil, fmt.Errorf("dial: %T is not TCP", raw)
	}
	cn := &conn{tcp: tcp, gen: c.dials}
	cn.raw = &countingConn{Conn: tcp, n: &cn.sent}
	var rw io.ReadWriter = cn.raw
	if c.cfg.TLS != nil {
		tc := tls.Client(cn.raw, c.cfg.TLS)
		if err := tc.HandshakeContext(dctx); err != nil {
			tcp.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		rw = tc
		cn.closer = tc
	} else {
		cn.closer = tcp
	}
	cn.bw = bufio.NewWriterSize(rw, 64<<10)
	cn.dead = make(chan struct{})
	// A syslog collector never sends; any read result means the
	// connection is closed or reset, which is how a restart is noticed
	// even when nothing is being written.
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := rw.Read(buf); err != nil {
				cn.fail(fmt.Errorf("read: %w", err))
				return
			}
		}
	}()
	c.cfg.Logf("syslog: connected to %s", c.cfg.Addr)
	return cn, nil
}

// conn is one connection and what is known about its health.
type conn struct {
	tcp    *net.TCPConn
	raw    *countingConn
	closer io.Closer
	bw     *bufio.Writer
	gen    int
	sent   atomic.Int64 // bytes handed to the kernel, TLS records included

	once    sync.Once
	dead    chan struct{}
	failErr atomic.Value
}

func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.failErr.Store(err)
		close(c.dead)
	})
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *conn) err() error {
	if e, ok := c.failErr.Load().(error); ok {
		return e
	}
	return nil
}

func (c *conn) close() error {
	c.fail(errors.New("closed"))
	return c.closer.Close()
}

// acked is how many bytes written on this connection the peer's TCP has
// acknowledged: those sent minus those still queued in the kernel.
func (c *conn) acked() (int64, error) {
	q, err := outq(c.tcp)
	if err != nil {
		return 0, err
	}
	return c.sent.Load() - int64(q), nil
}

// countingConn counts the bytes written to the TCP connection, below TLS,
// so that they compare with the kernel's send queue.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
