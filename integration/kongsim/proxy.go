package kongsim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// collected is a plugin matched for this request (kept for the log phase).
type collected struct {
	def   *pluginDef
	entry *pluginEntry
}

// hopHeaders are not forwarded in either direction.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP runs one request through Kong's phases: rewrite (global
// plugins), router, access (plugins by priority, delayed exit), proxy,
// response (buffered, when an external plugin has a response handler),
// header filter, the response to the client, then log.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.idle.add()
	defer g.idle.done()
	cfg := g.cfg.Load()
	rs := newReqState(g, cfg, r, newRequestID(), time.Now())
	rs.stats = g.stats.newRequest(rs.id, r.Method, r.RequestURI)

	plugins := g.run(rs)
	rs.matched = plugins
	g.respond(w, rs)
	g.stats.setStatus(rs.stats, rs.finalStatus)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	g.logPhase(rs, plugins)
}

// run executes every phase up to the response and returns the plugins
// collected for the log phase.
func (g *Gateway) run(rs *reqState) []collected {
	cfg := rs.cfg
	var globals []collected
	for _, def := range cfg.order {
		if e := cfg.lookup(def.name, "", "", ""); e != nil {
			globals = append(globals, collected{def, e})
		}
	}
	// rewrite: global plugin configs only, no delayed response (§3.1).
	rs.phase = "rewrite"
	for _, c := range globals {
		if c.def.ext != nil && c.def.ext.phases["rewrite"] {
			g.external(rs, c, "rewrite")
			if rs.exit != nil {
				return globals
			}
		}
	}

	m := matchRoute(cfg.routes, rs.r.Method, rs.host, rs.r.URL.Path, rs.r.Header)
	if m == nil {
		rs.fail(404, errNoRoute.Error(), nil)
		return globals
	}
	rs.route, rs.svc, rs.captures = m.route, m.route.service, m.captures
	svcPath := ""
	if rs.svc != nil {
		svcPath = rs.svc.path
		rs.upScheme = rs.svc.protocol
	}
	rs.upPath = upstreamPath(svcPath, rs.r.URL.EscapedPath(), m.matched, m.route.stripPath)
	rs.upRawQuery = rs.r.URL.RawQuery

	// access: every matching plugin in priority order; after an exit the
	// rest are only collected (§6.2).
	rs.phase = "access"
	rs.accessStart = time.Now()
	var plugins []collected
	for _, def := range cfg.order {
		consumerID := ""
		if rs.consumer != nil {
			consumerID = rs.consumer.id
		}
		serviceID := ""
		if rs.svc != nil {
			serviceID = rs.svc.id
		}
		e := cfg.lookup(def.name, rs.route.id, serviceID, consumerID)
		if e == nil {
			continue
		}
		plugins = append(plugins, collected{def, e})
		if rs.exit != nil {
			continue
		}
		switch {
		case def.bundled != nil && def.bundled.access != nil:
			def.bundled.access(rs, e.conf)
		case def.ext != nil && def.ext.phases["access"]:
			g.external(rs, collected{def, e}, "access")
		}
	}
	rs.accessEnd = time.Now()
	if rs.exit != nil {
		return plugins
	}
	if rs.svc == nil {
		rs.fail(503, "no Service found with those values", nil)
		return plugins
	}
	rs.proxied = true // KONG_PROXIED: about to proxy

	buffered := false
	for _, c := range plugins {
		if c.def.ext != nil && c.def.ext.phases["response"] {
			buffered = true
		}
	}
	g.proxy(rs)
	if buffered && rs.upResp != nil {
		rs.phase = "response"
		for _, c := range plugins {
			if c.def.ext != nil && c.def.ext.phases["response"] {
				g.external(rs, c, "response")
				if rs.exit != nil {
					break
				}
			}
		}
	}
	return plugins
}

// external runs one external plugin event and applies Kong's error rules
// for the phase (§2.7).
func (g *Gateway) external(rs *reqState, c collected, phase string) {
	br := &bridgeCall{rs: rs, plugin: c.def.name, pentry: c.entry, phase: phase}
	t0 := time.Now()
	err := c.def.ext.handleEvent(c.entry, phase, br)
	g.stats.record(rs.stats, c.def.name, phase, br.calls, time.Since(t0))
	if err == nil || errors.Is(err, errExited) {
		return
	}
	var raised *errRaised
	if errors.As(err, &raised) {
		g.logf("[error] [kong] %s [%s] %s", phase, c.def.name, err)
		if phase == "rewrite" {
			// Not caught in rewrite: nginx's 500 through Kong's error handler.
			rs.exit = rs.handlerError(500)
			return
		}
		rs.fail(500, "", nil)
		rs.unexpected = true
		return
	}
	g.logf("[error] [kong] %s [%s] pluginserver error: %s", phase, c.def.name, err)
	if g.version.atLeast(8) {
		rs.fail(500, "", nil)
	}
}

// proxy sends the request upstream and buffers the response.
func (g *Gateway) proxy(rs *reqState) {
	s := rs.svc
	target := rs.upTarget
	if target == "" {
		target = net.JoinHostPort(s.host, strconv.Itoa(s.port))
	}
	u := rs.upScheme + "://" + target + rs.upPath
	if rs.upRawQuery != "" {
		u += "?" + rs.upRawQuery
	}
	var body io.Reader = rs.r.Body
	if rs.upBodySet {
		body = bytes.NewReader(rs.upBody)
	} else if rs.bodyRead {
		body = bytes.NewReader(rs.bodyBuf)
	}
	if rs.r.ContentLength == 0 && !rs.upBodySet {
		body = nil
	}
	ctx, cancel := context.WithTimeout(rs.r.Context(), time.Duration(s.readTimeout+s.connectTimeout)*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, rs.upMethod, u, body)
	if err != nil {
		rs.upstreamFailed(502, err)
		return
	}
	req.Header = rs.upHeader.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.Header.Del("Host")
	if rs.upBodySet {
		req.ContentLength = int64(len(rs.upBody))
	} else {
		req.ContentLength = rs.r.ContentLength
	}
	if rs.route.preserveHost {
		req.Host = rs.r.Host
	} else if (s.protocol == "http" && s.port == 80) || (s.protocol == "https" && s.port == 443) {
		req.Host = s.host
	} else {
		req.Host = net.JoinHostPort(s.host, strconv.Itoa(s.port))
	}
	xff := rs.clientIP
	if prior := rs.r.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + rs.clientIP
	}
	req.Header.Set("X-Forwarded-For", xff)
	req.Header.Set("X-Forwarded-Proto", rs.scheme())
	req.Header.Set("X-Forwarded-Host", rs.host)
	req.Header.Set("X-Forwarded-Port", strconv.Itoa(rs.port))
	req.Header.Set("X-Forwarded-Path", rs.r.URL.EscapedPath())
	if rs.route.stripPath && len(rs.route.prefixes) > 0 {
		if p := strings.TrimSuffix(rs.matchedPrefix(), "/"); p != "" {
			req.Header.Set("X-Forwarded-Prefix", rs.matchedPrefix())
		}
	}
	req.Header.Set("X-Real-IP", rs.clientIP)
	if g.version.atLeast(8) {
		via := "1.1 kong/" + g.version.full
		if prior := req.Header.Get("Via"); prior != "" {
			via = prior + ", " + via
		}
		req.Header.Set("Via", via)
	}
	if g.version.atLeast(5) {
		req.Header.Set("X-Kong-Request-Id", rs.id)
	}
	rs.upStart = time.Now()
	host, portStr, _ := net.SplitHostPort(target)
	port, _ := strconv.Atoi(portStr)
	try := map[string]any{
		"balancer_start": float64(rs.upStart.UnixMilli()), "balancer_start_ns": float64(rs.upStart.UnixNano()),
		"ip": host, "port": float64(port), "balancer_latency": float64(0), "balancer_latency_ns": float64(0),
	}
	resp, err := g.transport.RoundTrip(req)
	if err != nil {
		try["state"], try["code"] = "failed", float64(502)
		rs.tries = append(rs.tries, try)
		status := 502
		if errors.Is(err, context.DeadlineExceeded) {
			status = 504
		}
		rs.upstreamFailed(status, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	rs.upEnd = time.Now()
	rs.tries = append(rs.tries, try)
	if err != nil {
		rs.upstreamFailed(502, err)
		return
	}
	h := resp.Header.Clone()
	for _, x := range hopHeaders {
		h.Del(x)
	}
	rs.upResp = &upstreamResponse{status: resp.StatusCode, header: h, body: b}
	rs.upStatusText = strconv.Itoa(resp.StatusCode)
}

func (rs *reqState) matchedPrefix() string {
	best := ""
	for _, p := range rs.route.prefixes {
		if strings.HasPrefix(rs.r.URL.Path, p) && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// upstreamFailed is nginx's 502/504 handled by Kong's error handler:
// templated body, KONG_UNEXPECTED.
func (rs *reqState) upstreamFailed(status int, err error) {
	rs.g.logf("[error] connect() to upstream failed: %v", err)
	rs.upEnd = time.Now()
	rs.upStatusText = strconv.Itoa(status)
	rs.exit = rs.handlerError(status)
}

// respond writes the response as Kong sends it, with Kong's headers.
func (g *Gateway) respond(w http.ResponseWriter, rs *reqState) {
	rs.phase = "header_filter"
	var status int
	var body []byte
	h := w.Header()
	if rs.exit != nil {
		status, body = rs.exit.status, rs.exit.body
		for k, v := range rs.respHeader {
			h[k] = append([]string(nil), v...)
		}
		for k, v := range rs.exit.header {
			h[k] = append([]string(nil), v...)
		}
		h.Set("Server", "kong/"+g.version.full)
	} else {
		up := rs.upResp
		status, body = up.status, up.body
		for k, v := range up.header {
			h[k] = append([]string(nil), v...)
		}
		for k, v := range rs.respHeader {
			h[k] = append([]string(nil), v...)
		}
	}
	if rs.respStatus != 0 && rs.exit == nil {
		status = rs.respStatus
	}
	// Bundled header_filter handlers (rate-limiting headers, …).
	for _, c := range rs.headerFilters() {
		c.def.bundled.headerFilter(rs, c.entry.conf)
		for k, v := range rs.respHeader {
			h[k] = append([]string(nil), v...)
		}
	}
	now := time.Now()
	if rs.exit != nil {
		h.Set("X-Kong-Response-Latency", strconv.FormatInt(now.Sub(rs.start).Milliseconds(), 10))
	} else {
		// 3.8 made Via RFC 7230-shaped and appends to the upstream's;
		// before, it overwrote it with the server token (Kong PR #12733).
		if g.version.atLeast(8) {
			via := "1.1 kong/" + g.version.full
			if prior := h.Get("Via"); prior != "" {
				via = prior + ", " + via
			}
			h.Set("Via", via)
			if h.Get("Server") == "" {
				h.Set("Server", "kong/"+g.version.full)
			}
		} else {
			h.Set("Via", "kong/"+g.version.full)
		}
		h.Set("X-Kong-Upstream-Latency", strconv.FormatInt(rs.upEnd.Sub(rs.upStart).Milliseconds(), 10))
		h.Set("X-Kong-Proxy-Latency", strconv.FormatInt(rs.upStart.Sub(rs.start).Milliseconds(), 10))
	}
	if g.version.atLeast(5) {
		h.Set("X-Kong-Request-Id", rs.id)
	}
	if h.Get("Content-Length") == "" || rs.exit == nil {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if h.Get("Date") == "" {
		h.Set("Date", now.UTC().Format(http.TimeFormat))
	}
	rs.finalStatus = status
	rs.finalHeader = h.Clone()
	if h.Get("Content-Type") == "" {
		// nginx sends no Content-Type here (default_type ''); stop Go
		// from sniffing one.
		h["Content-Type"] = nil
	}
	w.WriteHeader(status)
	if rs.r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	rs.sent = time.Now()
	rs.bytesSent = len(body) + headerBytes(status, h)
}

func headerBytes(status int, h http.Header) int {
	n := len("HTTP/1.1 200 OK\r\n") + 2
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// headerFilters are the matched bundled plugins with a header_filter.
func (rs *reqState) headerFilters() []collected {
	var out []collected
	for _, c := range rs.matched {
		if c.def.bundled != nil && c.def.bundled.headerFilter != nil {
			out = append(out, c)
		}
	}
	return out
}

// logPhase snapshots the saved data for each external log handler and runs
// it asynchronously, after the client has the response (§3.3).
func (g *Gateway) logPhase(rs *reqState, plugins []collected) {
	rs.phase = "log"
	for _, c := range plugins {
		if c.def.ext == nil || !c.def.ext.phases["log"] {
			continue
		}
		rs.mu.Lock()
		entry := rs.serializeEntry(copyMap(rs.serializeV))
		snap := &logSnapshot{
			ngxCtx: rs.ngxCtxView(), serializeV: copyMap(rs.serializeV),
			reqHeader: rs.requestHeadersNow().Clone(), respHeader: rs.finalHeader.Clone(),
			status: rs.finalStatus, source: rs.source(), taken: time.Now(),
		}
		rs.mu.Unlock()
		ser, err := cjsonEncode(entry)
		if err != nil {
			g.logf("[error] [kong] log [%s] serialize: %v", c.def.name, err)
			continue
		}
		snap.serialized = ser
		g.idle.add()
		go func(c collected) {
			defer g.idle.done()
			br := &bridgeCall{rs: rs, plugin: c.def.name, pentry: c.entry, phase: "log", snap: snap}
			t0 := time.Now()
			err := c.def.ext.handleEvent(c.entry, "log", br)
			g.stats.record(rs.stats, c.def.name, "log", br.calls, time.Since(t0))
			if err != nil && !errors.Is(err, errExited) {
				g.logf("[error] [kong] log [%s] pluginserver error: %s", c.def.name, err)
			}
		}(c)
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
