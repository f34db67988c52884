package syslogtest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/syslog"
)

// Collector accepts octet-counted syslog over TCP (or TLS) on 127.0.0.1
// and keeps every message it read. Stop drops its connections the way a
// crashing collector does, discarding what it had not read; Start listens
// again on the same port.
type Collector struct {
	t    testing.TB
	tls  *tls.Config
	Addr string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	msgs  [][]byte
	gate  chan struct{} // closed while reading is allowed
	wg    sync.WaitGroup
}

// NewCollector starts a collector; tlsCfg nil means plain TCP.
func NewCollector(t testing.TB, tlsCfg *tls.Config) *Collector {
	c := &Collector{t: t, tls: tlsCfg, Addr: "127.0.0.1:0", gate: make(chan struct{})}
	close(c.gate)
	c.Start()
	t.Cleanup(c.Stop)
	return c
}

// Start listens (again) on the collector's address.
func (c *Collector) Start() {
	c.t.Helper()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		c.t.Fatalf("syslogtest: listen %s: %v", c.Addr, err)
	}
	if c.tls != nil {
		ln = tls.NewListener(ln, c.tls)
	}
	c.mu.Lock()
	c.ln = ln
	c.Addr = ln.Addr().String()
	c.mu.Unlock()
	c.wg.Add(1)
	go c.accept(ln)
}

func (c *Collector) accept(ln net.Listener) {
	defer c.wg.Done()
	for {
		cn, err := ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.conns = append(c.conns, cn)
		c.mu.Unlock()
		c.wg.Add(1)
		go c.read(cn)
	}
}

func (c *Collector) read(cn net.Conn) {
	defer c.wg.Done()
	r := bufio.NewReaderSize(gatedConn{c, cn}, 16)
	for {
		m, err := syslog.ReadFrame(r, 1<<20)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}
}

// gatedConn reads only while the collector is not paused. Pause interrupts
// a blocked read with a deadline; the read then waits and resumes, so the
// frame reader above never sees the interruption.
type gatedConn struct {
	c  *Collector
	cn net.Conn
}

func (g gatedConn) Read(p []byte) (int, error) {
	for {
		g.c.mu.Lock()
		gate := g.c.gate
		g.c.mu.Unlock()
		<-gate
		n, err := g.cn.Read(p)
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			_ = g.cn.SetReadDeadline(time.Time{})
			continue
		}
		return n, err
	}
}

// Pause stops reading: what senders write stays in the kernel's receive
// buffer, acknowledged by TCP but unread, as with a collector that is busy
// or about to crash. Start or Resume reads again.
func (c *Collector) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.gate:
		c.gate = make(chan struct{})
	default:
	}
	for _, cn := range c.conns {
		_ = cn.SetReadDeadline(time.Now())
	}
}

// Resume undoes Pause.
func (c *Collector) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.gate:
	default:
		close(c.gate)
	}
}

// Stop closes the listener and every connection, resetting those with
// unread data, and waits for the readers to end.
func (c *Collector) Stop() {
	c.mu.Lock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, cn := range c.conns {
		if tc, ok := cn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		cn.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.Resume() // let paused readers see their closed connections
	c.wg.Wait()
}

// Messages returns a copy of every message read so far.
func (c *Collector) Messages() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.msgs...)
}
