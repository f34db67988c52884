package pluginserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// ServeOptions tune Serve. The zero value works.
type ServeOptions struct {
	// Logger receives the server's own log lines; default slog.Default().
	Logger *slog.Logger
	// Stats, when set, is updated by the server (tests and metrics read it);
	// otherwise the server keeps its own.
	Stats *Stats
	// DrainTimeout bounds how long shutdown waits for in-flight events;
	// default 10 s. After it, connections are closed under the handlers.
	DrainTimeout time.Duration
	// Registerer, when set, receives gatewatch_plugin_panics_total and the
	// other counters of Stats, labelled with the plugin name.
	Registerer prometheus.Registerer
}

// ErrDrainTimeout is returned by Serve when in-flight events did not finish
// within ServeOptions.DrainTimeout.
var ErrDrainTimeout = errors.New("pluginserver: in-flight events did not finish before the drain timeout")

const defaultDrainTimeout = 10 * time.Second

// Serve answers Kong on l until ctx is done, then closes l, lets in-flight
// events finish (bounded by DrainTimeout), closes idle connections and
// returns nil (or ErrDrainTimeout). It returns early with an error only if
// the plugin is invalid, the metrics cannot be registered, or l is closed
// by someone else.
func Serve(ctx context.Context, l net.Listener, p Plugin, opts ServeOptions) error {
	c, err := compile(p)
	if err != nil {
		return err
	}
	s := newServer(c, opts)
	if opts.Registerer != nil {
		if err := registerMetrics(opts.Registerer, c.Name, s.stats); err != nil {
			return err
		}
	}
	return s.serve(ctx, l)
}

type connState int

const (
	connIdle connState = iota // waiting for the next RpcCall
	connBusy                  // handling one
)

type server struct {
	plugin *compiled
	log    *slog.Logger
	stats  *Stats
	drain  time.Duration

	instMu    sync.RWMutex
	instances map[int32]*instance

	connMu   sync.Mutex
	conns    map[*bridgeConn]connState
	closing  bool
	connDone sync.WaitGroup
}

func newServer(c *compiled, opts ServeOptions) *server {
	s := &server{
		plugin:    c,
		log:       opts.Logger,
		stats:     opts.Stats,
		drain:     opts.DrainTimeout,
		instances: map[int32]*instance{},
		conns:     map[*bridgeConn]connState{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.stats == nil {
		s.stats = new(Stats)
	}
	if s.drain <= 0 {
		s.drain = defaultDrainTimeout
	}
	return s
}

func (s *server) serve(ctx context.Context, l net.Listener) error {
	acceptDone := make(chan error, 1)
	go func() { acceptDone <- s.acceptLoop(l) }()

	select {
	case <-acceptDone: // only when l was closed under us
		_ = s.shutdown()
		return errors.New("pluginserver: listener closed before the context was done")
	case <-ctx.Done():
	}
	// Closing the listener stops accepting; for listeners made by Listen it
	// also removes the socket file, so Kong gets "no such file" rather than
	// connecting to a process that will not answer.
	if err := l.Close(); err != nil {
		s.log.Warn("closing listener", "err", err)
	}
	<-acceptDone
	return s.shutdown()
}

// acceptLoop accepts until the listener is closed. Other accept errors
// (EMFILE under a connection storm, say) are retried with a growing pause,
// as net/http does, rather than taking the plugin down.
func (s *server) acceptLoop(l net.Listener) error {
	var pause time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "pause", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		bc := newBridgeConn(c)
		s.connMu.Lock()
		if s.closing {
			s.connMu.Unlock()
			c.Close()
			continue
		}
		s.conns[bc] = connIdle
		s.connDone.Add(1)
		s.connMu.Unlock()
		go s.serveConn(bc)
	}
}

// shutdown closes idle connections at once, lets busy ones finish their
// call, and after the drain timeout closes whatever is left.
func (s *server) shutdown() error {
	s.connMu.Lock()
	s.closing = true
	busy := 0
	for bc, st := range s.conns {
		if st == connIdle {
			bc.Conn.Close()
		} else {
			busy++
		}
	}
	s.connMu.Unlock()
	if busy > 0 {
		s.log.Info("draining in-flight events", "count", busy)
	}

	done := make(chan struct{})
	go func() { s.connDone.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(s.drain):
	}
	s.connMu.Lock()
	left := len(s.conns)
	for bc := range s.conns {
		bc.Conn.Close()
	}
	s.connMu.Unlock()
	s.log.Warn("drain timeout: closed connections under running handlers", "count", left)
	// Handlers blocked on Kong now fail fast; one busy in Go code alone
	// cannot be stopped, so do not wait for it forever.
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return ErrDrainTimeout
}

// setState records whether a connection is waiting for a call; it returns
// false when the server is closing and the connection should end now.
func (s *server) setState(bc *bridgeConn, st connState) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closing && st == connIdle {
		return false
	}
	s.conns[bc] = st
	return true
}

func (s *server) serveConn(bc *bridgeConn) {
	defer func() {
		s.connMu.Lock()
		delete(s.conns, bc)
		s.connMu.Unlock()
		_ = bc.flush()
		bc.Conn.Close()
		s.connDone.Done()
	}()
	for {
		if !s.setState(bc, connIdle) {
			return
		}
		frame, err := ReadFrame(bc, maxCallFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("reading call", "err", err)
			}
			return
		}
		// A call that arrived is served even while closing: Kong is
		// waiting for it.
		s.setState(bc, connBusy)
		var call kpp.RpcCall
		if err := proto.Unmarshal(frame, &call); err != nil {
			s.stats.Refused.Add(1)
			s.log.Warn("undecodable call; closing the connection", "err", err)
			return
		}
		ret, keep := s.dispatch(bc, &call)
		if !keep {
			return
		}
		out, err := proto.Marshal(ret)
		if err != nil {
			s.log.Error("encoding reply", "err", err)
			return
		}
		if err := bc.writeFrame(out); err != nil {
			return
		}
	}
}

// dispatch runs one call. keep=false closes the connection without a reply,
// which is how go-pdk reports every server-side error and what Kong's retry
// path expects (kong-reference §2.2, §2.7).
func (s *server) dispatch(bc *bridgeConn, call *kpp.RpcCall) (ret *kpp.RpcReturn, keep bool) {
	seq := call.GetSequence()
	switch c := call.Call.(type) {
	case *kpp.RpcCall_CmdHandleEvent:
		if !s.handleEvent(bc, c.CmdHandleEvent) {
			return nil, false
		}
		return &kpp.RpcReturn{Sequence: seq}, true
	case *kpp.RpcCall_CmdStartInstance:
		st, err := s.startInstance(c.CmdStartInstance)
		if err != nil {
			s.stats.Refused.Add(1)
			s.log.Error("starting instance; closing the connection", "err", err)
			return nil, false
		}
		return &kpp.RpcReturn{Sequence: seq, Return: &kpp.RpcReturn_InstanceStatus{InstanceStatus: st}}, true
	case *kpp.RpcCall_CmdCloseInstance:
		st := s.closeInstance(c.CmdCloseInstance.GetInstanceId())
		return &kpp.RpcReturn{Sequence: seq, Return: &kpp.RpcReturn_InstanceStatus{InstanceStatus: st}}, true
	case *kpp.RpcCall_CmdGetInstanceStatus:
		id := c.CmdGetInstanceStatus.GetInstanceId()
		inst := s.lookup(id)
		if inst == nil {
			s.stats.Refused.Add(1)
			s.log.Warn("status of unknown instance; closing the connection", "instance", id)
			return nil, false
		}
		st := &kpp.InstanceStatus{Name: "---", InstanceId: id, StartedAt: inst.started.Unix()}
		return &kpp.RpcReturn{Sequence: seq, Return: &kpp.RpcReturn_InstanceStatus{InstanceStatus: st}}, true
	default:
		// Kong 3.x sends only start, close and handle-event.
		s.stats.Refused.Add(1)
		s.log.Warn("unsupported call; closing the connection", "call", fmt.Sprintf("%T", c))
		return nil, false
	}
}
