package kongsim

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// This file is Kong's side of the ProtoBuf:1 plugin-server RPC (§2):
// framing, one connection per call with a keepalive pool, sequence numbers,
// instance bookkeeping and the retry on closed connections.

// rpcTimeout is OpenResty's default connect/send/read timeout; Kong sets
// none for the plugin socket (§2.2).
const rpcTimeout = 60 * time.Second

// maxFrame bounds a frame kongsim accepts from a plugin server.
const maxFrame = 64 << 20

func writeFrame(w io.Writer, b []byte) error {
	buf := make([]byte, 4+len(b))
	binary.LittleEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err := w.Write(buf)
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// cosocketError renders a Go socket error as the text an OpenResty cosocket
// reports, because Kong branches on that text ("closed").
func cosocketError(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENOENT):
		return "no such file or directory"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	return err.Error()
}

// connPool keeps idle connections like nginx's keepalive pool: an idle
// connection the peer closes is noticed and dropped, so a restarted plugin
// server leads to a fresh connect rather than a write into a dead socket.
type connPool struct {
	path string
	max  int
	mu   sync.Mutex
	idle []*idleConn
}

// rpcConn is a plugin-server connection with a read buffer, so a frame
// costs one read syscall rather than two, as nginx's cosocket buffers do.
type rpcConn struct {
	net.Conn
	r *bufio.Reader
}

type idleConn struct {
	c     *rpcConn
	taken atomic.Bool
	alive chan bool
}

func (p *connPool) get() (*rpcConn, bool, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			c, err := net.DialTimeout("unix", p.path, rpcTimeout)
			if err != nil {
				return nil, false, err
			}
			return &rpcConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}, false, nil
		}
		ic := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		ic.taken.Store(true)
		_ = ic.c.SetReadDeadline(time.Now())
		if <-ic.alive {
			_ = ic.c.SetReadDeadline(time.Time{})
			return ic.c, true, nil
		}
	}
}

func (p *connPool) put(c *rpcConn) {
	if c.r.Buffered() > 0 { // bytes after RpcReturn: not a clean connection
		c.Close()
		return
	}
	ic := &idleConn{c: c, alive: make(chan bool, 1)}
	p.mu.Lock()
	if len(p.idle) >= p.max {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle = append(p.idle, ic)
	p.mu.Unlock()
	go func() {
		// Any byte here is unexpected, and EOF means the server closed
		// the idle connection. Read the socket, not the buffer: a bufio
		// reader would keep the deadline error for its next read.
		var b [1]byte
		_, err := c.Conn.Read(b[:])
		if ic.taken.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			ic.alive <- true
			return
		}
		// Peer closed (or sent unexpected bytes): drop it.
		p.mu.Lock()
		for i, x := range p.idle {
			if x == ic {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		c.Close()
		ic.alive <- false
	}()
}

func (p *connPool) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, ic := range idle {
		ic.c.Close()
	}
}

// extPlugin is Kong's Rpc object for one external plugin in one worker.
type extPlugin struct {
	info    *pluginInfo
	server  serverConf
	phases  map[string]bool
	counter atomic.Int64
	pool    *connPool
	stats   *statsBook
	logf    func(string, ...any)

	mu        sync.Mutex
	instances map[string]*instance // by plugin entity id
	starting  map[string]bool
}

type instance struct {
	id  int32
	seq int64
}

func newExtPlugin(info *pluginInfo, s serverConf, stats *statsBook, logf func(string, ...any)) *extPlugin {
	ph := map[string]bool{}
	for _, p := range info.Phases {
		ph[p] = true
	}
	return &extPlugin{
		info: info, server: s, phases: ph, stats: stats, logf: logf,
		pool:      &connPool{path: s.socket, max: 256},
		instances: map[string]*instance{}, starting: map[string]bool{},
	}
}

// nextSeq is Kong's `self.msg_id = self.msg_id + 1; seq = msg_id + 1`.
func (e *extPlugin) nextSeq() int64 { return e.counter.Add(1) + 1 }

// errRaised marks a failure Kong raises as a Lua error (start-instance
// failure, a PDK function raising) rather than returning it.
type errRaised struct{ msg string }

func (e *errRaised) Error() string { return e.msg }

// exitSignal is returned by an event whose handler called
// kong.response.exit in a phase where Kong abandons the RPC.
var errExited = errors.New("kong.response.exit")

// call runs one RpcCall on a fresh or pooled connection. For
// CmdHandleEvent, bridge drives the PDK loop.
func (e *extPlugin) call(msg *pb.RpcCall, bridge func(*rpcConn) error) (*pb.RpcReturn, error) {
	conn, _, err := e.pool.get()
	if err != nil {
		return nil, errors.New(cosocketError(err))
	}
	// OpenResty's default cosocket timeouts (60 s) bound every call.
	_ = conn.SetDeadline(time.Now().Add(rpcTimeout))
	msg.Sequence = e.nextSeq()
	data, err := proto.Marshal(msg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("encode rpc call: %w", err)
	}
	if err := writeFrame(conn, data); err != nil {
		conn.Close()
		return nil, errors.New(cosocketError(err))
	}
	if bridge != nil {
		if err := bridge(conn); err != nil {
			// Kong neither closes nor pools a socket on error paths; the
			// request's cleanup closes it, which is what we do now.
			conn.Close()
			return nil, err
		}
	}
	frame, err := readFrame(conn.r)
	if err != nil {
		conn.Close()
		return nil, errors.New(cosocketError(err))
	}
	var ret pb.RpcReturn
	if err := proto.Unmarshal(frame, &ret); err != nil {
		conn.Close()
		return nil, &errRaised{fmt.Sprintf("decoding RpcReturn: %v", err)}
	}
	if ret.Sequence != msg.Sequence {
		conn.Close()
		return nil, &errRaised{fmt.Sprintf("pluginserver sequence mismatch: sent %d, got %d", msg.Sequence, ret.Sequence)}
	}
	_ = conn.SetDeadline(time.Time{})
	e.pool.put(conn)
	return &ret, nil
}

// instanceID implements get_instance_id (§2.6).
func (e *extPlugin) instanceID(p *pluginEntry) (int32, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		old := e.instances[p.id]
		if old != nil && old.seq == p.seq {
			e.mu.Unlock()
			return old.id, nil
		}
		if e.starting[p.id] {
			e.mu.Unlock()
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("Could not claim instance_id for %s (key: %s)", e.info.Name, p.id)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		e.starting[p.id] = true
		e.mu.Unlock()

		id, err := e.startInstance(p)
		e.mu.Lock()
		delete(e.starting, p.id)
		if err != nil {
			e.mu.Unlock()
			return 0, &errRaised{"starting instance: " + err.Error()}
		}
		e.instances[p.id] = &instance{id: id, seq: p.seq}
		e.mu.Unlock()
		if old != nil {
			_, _ = e.call(&pb.RpcCall{Call: &pb.RpcCall_CmdCloseInstance{
				CmdCloseInstance: &pb.CmdCloseInstance{InstanceId: old.id}}}, nil)
		}
		return id, nil
	}
}

func (e *extPlugin) startInstance(p *pluginEntry) (int32, error) {
	ret, err := e.call(&pb.RpcCall{Call: &pb.RpcCall_CmdStartInstance{CmdStartInstance: &pb.CmdStartInstance{
		Name: e.info.Name, Config: p.confJSON}}}, nil)
	if err != nil {
		return 0, err
	}
	st := ret.GetInstanceStatus()
	if st == nil {
		return 0, errors.New("no instance status in reply")
	}
	return st.InstanceId, nil
}

// resetInstances forgets every cached instance of this plugin, as the
// plugin_server/reset_instances event does.
func (e *extPlugin) resetInstances() {
	e.mu.Lock()
	e.instances = map[string]*instance{}
	e.mu.Unlock()
}

// closeInstances sends CmdCloseInstance for every cached instance (used on
// Gateway.Close so servers see orderly shutdown), ignoring failures.
func (e *extPlugin) forget() { e.resetInstances(); e.pool.closeAll() }

// maxRetries bounds Kong's unbounded "closed" retry recursion so that a
// plugin server that closes every event connection cannot hang a request.
const maxRetries = 20

// handleEvent implements Rpc:handle_event: instance lookup, the event with
// its bridge loop, and the retry path for closed connections (§2.7).
func (e *extPlugin) handleEvent(p *pluginEntry, phase string, br *bridgeCall) error {
	for attempt := 0; ; attempt++ {
		id, err := e.instanceID(p)
		if err != nil {
			return err
		}
		msg := &pb.RpcCall{Call: &pb.RpcCall_CmdHandleEvent{CmdHandleEvent: &pb.CmdHandleEvent{
			InstanceId: id, EventName: phase}}}
		_, err = e.call(msg, br.loop)
		if err == nil || errors.Is(err, errExited) {
			return err
		}
		var raised *errRaised
		if errors.As(err, &raised) {
			return err
		}
		low := strings.ToLower(err.Error())
		if (strings.Contains(low, "no plugin instance") || strings.Contains(low, "closed")) && attempt < maxRetries {
			e.logf("[pluginserver] plugin instance %d for %s lost (%s); restarting instances and retrying", id, e.info.Name, err)
			e.resetInstances()
			continue
		}
		return err
	}
}
