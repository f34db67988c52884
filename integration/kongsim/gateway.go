// Package kongsim is a Kong 3.x stand-in for tests, demos and benchmarks:
// an HTTP gateway that loads a DB-less kong.yml, routes and proxies real
// HTTP, runs the bundled plugins gatewatch meets (key-auth, acl, …) the way
// Kong does, and drives external Go plugin servers over Kong's ProtoBuf:1
// plugin-server protocol exactly as kong-reference.md describes (dump
// query, start/restart/stop, instances, sequence numbers, the PDK bridge,
// the log phase after the response with saved data).
//
// Guarantees: every behaviour kongsim models follows kong-reference.md for
// the selected Kong version (3.4 to 3.10; default 3.9); what it does not
// model is listed in integration/README.md. It never panics on outside
// input (kong.yml, dumps, plugin-server frames).
package kongsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Gateway. The zero value plus Prefix works.
type Options struct {
	// KongVersion is the modelled release, "3.4" … "3.10"; default "3.9".
	KongVersion string
	// Prefix is Kong's prefix directory; default plugin-server sockets
	// are <Prefix>/<server name>.socket. Required when plugin servers are
	// configured.
	Prefix string
	// ProxyListen is the proxy address; default "127.0.0.1:8000";
	// "127.0.0.1:0" picks a free port.
	ProxyListen string
	// Declarative is the kong.yml content (_format_version "3.0").
	Declarative []byte
	// DeclarativeFile is read when Declarative is empty.
	DeclarativeFile string
	// Conf holds kong.conf properties: plugins, pluginserver_names,
	// pluginserver_<name>_socket/_start_cmd/_query_cmd (§1.1).
	Conf map[string]string
	// Env is added to the environment of plugin-server processes.
	Env []string
	// Stderr receives Kong's error-log lines: plugin-server output as
	// "[<name>:<pid>] line" and kongsim's own "[pluginserver] …" lines.
	// nil discards them.
	Stderr io.Writer
}

// Gateway is a running kongsim.
type Gateway struct {
	version kongVersion
	opts    Options
	nodeID  string
	wsID    string

	defs    map[string]*pluginDef
	enabled map[string]bool
	servers []serverConf
	procs   []*process
	exts    []*extPlugin
	cfg     atomic.Pointer[loaded]
	seq     atomic.Int64 // plugins_iterator:__seq__
	stats   *statsBook

	ln        net.Listener
	srv       *http.Server
	transport *http.Transport
	idle      idleTracker
	logMu     sync.Mutex
	closeOnce sync.Once
	closeErr  error
}

// pluginDef is one loaded plugin, bundled or external.
type pluginDef struct {
	name     string
	priority int
	config   *field
	bundled  *bundledPlugin
	ext      *extPlugin
}

// Start loads the configuration, queries every plugin server (-dump),
// validates the dumped schemas and kong.yml against them, starts the plugin
// servers and listens. Unlike Kong, Start waits (bounded by ctx) until
// each started plugin server accepts connections, so that a test's first
// request does not race the server's startup; restarts after a crash are
// not waited for, as in Kong.
func Start(ctx context.Context, o Options) (*Gateway, error) {
	v, err := parseKongVersion(o.KongVersion)
	if err != nil {
		return nil, err
	}
	g := &Gateway{version: v, opts: o, nodeID: newUUID(), wsID: newUUID(), stats: newStatsBook(), defs: map[string]*pluginDef{}}
	g.idle.init()
	for name, b := range bundledPlugins(v) {
		rec, err := compileBundledSchema(b)
		if err != nil {
			return nil, err
		}
		g.defs[name] = &pluginDef{name: name, priority: b.priority, config: rec, bundled: b}
	}
	for _, name := range bundledNames {
		if g.defs[name] == nil {
			g.defs[name] = &pluginDef{name: name, priority: unmodelledPriorities[name], config: openSchema}
		}
	}
	if o.Prefix == "" {
		o.Prefix = "/usr/local/kong" // Kong's default prefix
		g.opts.Prefix = o.Prefix
	}
	conf := o.Conf
	if conf == nil {
		conf = map[string]string{}
	}
	if g.servers, err = parseServerConf(conf, o.Prefix, g.logf); err != nil {
		return nil, err
	}
	for _, s := range g.servers {
		info, err := queryPlugin(ctx, s)
		if err != nil {
			return nil, err
		}
		ext := newExtPlugin(info, s, g.stats, g.logf)
		g.exts = append(g.exts, ext)
		if _, lua := g.defs[info.Name]; !lua {
			g.defs[info.Name] = &pluginDef{name: info.Name, priority: info.Priority, config: info.config, ext: ext}
		}
	}
	enabled, err := g.enabledPlugins(conf["plugins"])
	if err != nil {
		return nil, err
	}
	data := o.Declarative
	if len(data) == 0 && o.DeclarativeFile != "" {
		if data, err = os.ReadFile(o.DeclarativeFile); err != nil {
			return nil, fmt.Errorf("declarative_config: %w", err)
		}
	}
	if len(data) == 0 {
		data = []byte(`_format_version: "3.0"`)
	}
	cfg, err := g.load(data, enabled)
	if err != nil {
		return nil, err
	}
	g.cfg.Store(cfg)
	g.enabled = enabled

	listen := o.ProxyListen
	if listen == "" {
		listen = "127.0.0.1:8000"
	}
	for _, s := range g.servers {
		if s.startCmd != "" {
			g.procs = append(g.procs, startProcess(s, o.Env, g.opts.Stderr, g.logf))
		}
	}
	if err := g.waitServers(ctx); err != nil {
		g.stopProcesses()
		return nil, err
	}
	if g.ln, err = net.Listen("tcp", listen); err != nil {
		g.stopProcesses()
		return nil, fmt.Errorf("proxy_listen %s: %w", listen, err)
	}
	g.transport = &http.Transport{
		Proxy: nil, MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 60 * time.Second,
		DisableCompression: true,
	}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 60 * time.Second}
	go func() { _ = g.srv.Serve(g.ln) }()
	return g, nil
}

func (g *Gateway) enabledPlugins(prop string) (map[string]bool, error) {
	if strings.TrimSpace(prop) == "" {
		prop = "bundled"
	}
	out := map[string]bool{}
	for _, n := range strings.Split(prop, ",") {
		n = strings.TrimSpace(n)
		switch n {
		case "", "off":
		case "bundled":
			for _, b := range bundledNames {
				out[b] = true
			}
		default:
			if g.defs[n] == nil {
				return nil, fmt.Errorf("kong.conf: plugins: %s plugin is enabled but not installed", n)
			}
			out[n] = true
		}
	}
	return out, nil
}

// waitServers waits until every started server's socket accepts. A server
// that exits three times before listening fails Start rather than letting
// the caller wait for its deadline.
func (g *Gateway) waitServers(ctx context.Context) error {
	for _, p := range g.procs {
		s := p.conf
		for {
			if n, last := p.failures(); n >= 3 {
				return fmt.Errorf("pluginserver %s: exited %d times before listening on %s (last: %s); see its output in Stderr", s.name, n, s.socket, last)
			}
			c, err := net.Dial("unix", s.socket)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("pluginserver %s: socket %s not ready: %w (last: %v)", s.name, s.socket, ctx.Err(), err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// URL is the proxy's base URL, e.g. http://127.0.0.1:8000.
func (g *Gateway) URL() string { return "http://" + g.ln.Addr().String() }

// Addr is the proxy's listen address.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

// Stats returns a copy of the PDK and RPC counters.
func (g *Gateway) Stats() Stats { return g.stats.snapshot() }

// WaitIdle returns once no request, log handler or plugin RPC is in
// flight, or when ctx ends.
func (g *Gateway) WaitIdle(ctx context.Context) error { return g.idle.wait(ctx) }

// Reload applies a new kong.yml: every plugin config gets a new __seq__,
// so the next event of each external plugin starts a new instance and
// closes the old one (§2.6). In-flight requests finish on the old config.
func (g *Gateway) Reload(kongYML []byte) error {
	cfg, err := g.load(kongYML, g.enabled)
	if err != nil {
		return err
	}
	g.cfg.Store(cfg)
	g.logf("[kong] declarative config reloaded")
	return nil
}

// PluginServerPIDs returns the pid of each running plugin server by
// server name (0 while it is being respawned).
func (g *Gateway) PluginServerPIDs() map[string]int {
	out := map[string]int{}
	for _, p := range g.procs {
		out[p.conf.name] = p.pid()
	}
	return out
}

// Close stops listening, waits for in-flight requests and log handlers,
// then SIGTERMs the plugin servers and waits for them.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := g.srv.Shutdown(ctx); err != nil {
			g.closeErr = fmt.Errorf("kongsim: shutdown proxy: %w", err)
		}
		if err := g.idle.wait(ctx); err != nil && g.closeErr == nil {
			g.closeErr = fmt.Errorf("kongsim: waiting for log handlers: %w", err)
		}
		g.stopProcesses()
		g.transport.CloseIdleConnections()
	})
	return g.closeErr
}

func (g *Gateway) stopProcesses() {
	var wg sync.WaitGroup
	for _, p := range g.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(10 * time.Second) }()
	}
	wg.Wait()
	for _, e := range g.exts {
		e.forget()
	}
}

func (g *Gateway) logf(format string, args ...any) {
	if g.opts.Stderr == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	g.logMu.Lock()
	defer g.logMu.Unlock()
	fmt.Fprintln(g.opts.Stderr, time.Now().UTC().Format("2006/01/02 15:04:05")+" "+line)
}

// idleTracker counts in-flight work and lets WaitIdle wait for zero.
type idleTracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (t *idleTracker) init() {
	t.zero = make(chan struct{})
	close(t.zero)
}

func (t *idleTracker) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.zero = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *idleTracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.zero)
	}
	t.mu.Unlock()
}

func (t *idleTracker) wait(ctx context.Context) error {
	t.mu.Lock()
	z := t.zero
	t.mu.Unlock()
	select {
	case <-z:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var errNoRoute = errors.New("no Route matched with those values")
