package kongsim

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// reqState is ngx.ctx plus the request/response data that Kong's PDK reads
// and writes for one proxied request.
type reqState struct {
	g   *Gateway
	cfg *loaded
	r   *http.Request
	id  string // $kong_request_id

	start      time.Time
	clientIP   string
	clientPort int
	host       string // Host header without port
	port       int    // the port the client connected to

	route    *route
	svc      *service
	captures *uriCaptures

	// upstream request as plugins change it (kong.service.request.*)
	upScheme, upMethod, upPath, upRawQuery string
	upHeader                               http.Header
	upBody                                 []byte
	upBodySet                              bool
	upTarget                               string // host:port from set_target/set_upstream

	consumer   *consumer
	credential *credential
	authGroups []string

	// response side
	respHeader   http.Header // set by plugins before the response is sent
	respStatus   int         // kong.response.set_status
	exit         *exitResponse
	exited       bool // KONG_EXITED
	unexpected   bool // KONG_UNEXPECTED
	proxied      bool // KONG_PROXIED
	upResp       *upstreamResponse
	upStatusText string // $upstream_status
	tries        []map[string]any

	finalStatus int
	finalHeader http.Header
	bytesSent   int

	accessStart, accessEnd time.Time
	upStart, upEnd         time.Time
	sent                   time.Time

	phase string

	mu         sync.Mutex     // guards shared and serialize values after the response
	shared     map[string]any // kong.ctx.shared
	ngxCtx     map[string]any // ngx.ctx values plugins set with kong.nginx.set_ctx
	serializeV map[string]any // kong.log.set_serialize_value

	stats   *requestRecord
	matched []collected

	bodyBuf  []byte
	bodyRead bool
}

type exitResponse struct {
	status  int
	body    []byte
	header  http.Header
	isError bool // kong.response.error: template body
}

type upstreamResponse struct {
	status int
	header http.Header
	body   []byte
}

type uriCaptures struct {
	unnamed []string
	named   map[string]string
}

func newReqState(g *Gateway, cfg *loaded, r *http.Request, id string, now time.Time) *reqState {
	rs := &reqState{
		g: g, cfg: cfg, r: r, id: id, start: now,
		respHeader: http.Header{}, shared: map[string]any{}, ngxCtx: map[string]any{},
		serializeV: map[string]any{},
	}
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	if err == nil {
		rs.clientIP = host
		rs.clientPort, _ = strconv.Atoi(port)
	} else {
		rs.clientIP = r.RemoteAddr
	}
	rs.host = r.Host
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		rs.host = h
		rs.port, _ = strconv.Atoi(p)
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			rs.port, _ = strconv.Atoi(p)
		}
	}
	rs.upHeader = r.Header.Clone()
	rs.upHeader.Set("Host", r.Host)
	rs.upMethod = r.Method
	return rs
}

// scheme is the client-facing scheme.
func (rs *reqState) scheme() string {
	if rs.r.TLS != nil {
		return "https"
	}
	return "http"
}

// requestURI is nginx's $request_uri: the original path and query.
func (rs *reqState) requestURI() string {
	return rs.r.RequestURI
}

// requestHeaders are the request headers as ngx.req.get_headers returns
// them: lower-case names, a string or a list for repeats. They include
// changes made with kong.service.request.set_header (§3.3).
func headerTable(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		name := strings.ToLower(k)
		if len(vs) == 1 {
			out[name] = vs[0]
			continue
		}
		l := make([]any, len(vs))
		for i, v := range vs {
			l[i] = v
		}
		out[name] = l
	}
	return out
}

// queryTable is kong.request.get_query(): value string, true for a bare
// flag, list for repeats.
func queryTable(raw string) map[string]any {
	out := map[string]any{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, hasEq := strings.Cut(part, "=")
		k, _ = url.QueryUnescape(strings.ReplaceAll(k, "+", " "))
		var val any = true
		if hasEq {
			s, err := url.QueryUnescape(strings.ReplaceAll(v, "+", " "))
			if err != nil {
				s = v
			}
			val = s
		}
		switch prev := out[k].(type) {
		case nil:
			out[k] = val
		case []any:
			out[k] = append(prev, val)
		default:
			out[k] = []any{prev, val}
		}
	}
	return out
}

// source is kong.response.get_source() (§5.2).
func (rs *reqState) source() string {
	switch {
	case rs.unexpected:
		return "error"
	case rs.exited:
		return "exit"
	case rs.proxied:
		return "service"
	}
	return "error"
}

// setSerializeValue stores a value under a dotted key, nesting objects.
func (rs *reqState) setSerializeValue(dst map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	m := dst
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	if v == nil {
		delete(m, parts[len(parts)-1]) // a nil value removes the key
		return
	}
	m[parts[len(parts)-1]] = v
}

// requestHeadersNow are the request headers as ngx.req.get_headers sees
// them now, including the host and kong.service.request.* changes.
func (rs *reqState) requestHeadersNow() http.Header {
	return rs.upHeader
}

// body reads the request body once (kong.request.get_raw_body).
func (rs *reqState) body() []byte {
	if !rs.bodyRead {
		rs.bodyRead = true
		if rs.r.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(rs.r.Body, 64<<20))
			rs.bodyBuf = b
		}
	}
	return rs.bodyBuf
}

// currentStatus is ngx.status before the log phase.
func (rs *reqState) currentStatus() int {
	if rs.exit != nil {
		return rs.exit.status
	}
	if rs.respStatus != 0 {
		return rs.respStatus
	}
	if rs.upResp != nil {
		return rs.upResp.status
	}
	return 0
}

// currentRespHeader is ngx.resp.get_headers() before the response is sent.
func (rs *reqState) currentRespHeader() http.Header {
	h := http.Header{}
	if rs.upResp != nil {
		for k, v := range rs.upResp.header {
			h[k] = v
		}
	}
	for k, v := range rs.respHeader {
		h[k] = v
	}
	return h
}

// ngxCtxView is ngx.ctx as kong.nginx.get_ctx sees it: Kong's own keys
// plus what plugins set.
func (rs *reqState) ngxCtxView() map[string]any {
	m := map[string]any{
		"KONG_PROCESSING_START": float64(rs.start.UnixMilli()),
		"KONG_PHASE":            rs.phase,
	}
	if !rs.accessStart.IsZero() {
		m["KONG_ACCESS_START"] = float64(rs.accessStart.UnixMilli())
	}
	if !rs.accessEnd.IsZero() {
		m["KONG_ACCESS_ENDED_AT"] = float64(rs.accessEnd.UnixMilli())
	}
	for k, v := range rs.ngxCtx {
		m[k] = v
	}
	return m
}

// ngxVar answers kong.nginx.get_var for the variables plugins read.
func (rs *reqState) ngxVar(name string) string {
	switch name {
	case "remote_addr", "binary_remote_addr":
		return rs.clientIP
	case "remote_port":
		return strconv.Itoa(rs.clientPort)
	case "request_uri":
		return rs.r.RequestURI
	case "uri":
		return rs.r.URL.Path
	case "args", "query_string":
		return rs.r.URL.RawQuery
	case "scheme":
		return rs.scheme()
	case "host":
		return rs.host
	case "server_port":
		return strconv.Itoa(rs.port)
	case "request_method":
		return rs.r.Method
	case "request":
		return rs.r.Method + " " + rs.r.RequestURI + " " + rs.r.Proto
	case "kong_request_id":
		if !rs.g.version.atLeast(5) {
			return "" // no such variable before 3.5
		}
		return rs.id
	case "request_id":
		return rs.id
	case "request_length":
		return strconv.Itoa(rs.requestSize())
	case "server_addr":
		return "127.0.0.1"
	case "server_name":
		return "kong"
	case "document_uri":
		return rs.r.URL.Path
	case "is_args":
		if rs.r.URL.RawQuery != "" {
			return "?"
		}
		return ""
	case "upstream_scheme":
		return rs.upScheme
	case "upstream_status":
		return rs.upStatusText
	case "upstream_uri":
		return rs.upPath
	case "server_protocol":
		return rs.r.Proto
	}
	if h, ok := strings.CutPrefix(name, "http_"); ok {
		return rs.upHeader.Get(strings.ReplaceAll(h, "_", "-"))
	}
	if a, ok := strings.CutPrefix(name, "arg_"); ok {
		if v, ok := queryTable(rs.r.URL.RawQuery)[a].(string); ok {
			return v
		}
		return ""
	}
	if c, ok := strings.CutPrefix(name, "cookie_"); ok {
		if ck, err := rs.r.Cookie(c); err == nil {
			return ck.Value
		}
	}
	return ""
}

// encodeQuery is ngx.encode_args for kong.service.request.set_query.
func encodeQuery(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		add := func(v any) {
			switch x := v.(type) {
			case bool:
				if x {
					parts = append(parts, url.QueryEscape(k))
				}
			default:
				parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(fmt.Sprint(x)))
			}
		}
		if l, ok := m[k].([]any); ok {
			for _, v := range l {
				add(v)
			}
			continue
		}
		add(m[k])
	}
	return strings.Join(parts, "&")
}
