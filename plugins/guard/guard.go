// Package guard is the gatewatch-guard Kong plugin: an access-phase
// handler that reads the request with as few PDK calls as possible, runs
// the detection engine on it, enforces the blocklist, and either lets the
// request go on or answers it with kong.response.exit.
//
// Every PDK call is a socket round trip made while the client waits, and an
// error in one is a 500 (kong-reference §2, §2.7). So a benign request costs
// exactly two: kong.nginx.get_var("request") for the raw request line
// (method, target and protocol in one string, as sent), and
// kong.request.get_headers with a limit high enough that a payload cannot
// hide past it. Further calls happen only when they can change the answer:
// the client IP when the blocklist holds IP or CIDR entries, the consumer
// when it holds consumer entries (API-key entries need no call: the key is
// in the headers or the query already read), the body when the route inspects bodies
// and the request carries one, kong.log.set_serialize_value when there is a
// verdict to hand to the log phase, and the request id and exit when the
// request is refused. Nothing is called after exit.
//
// Guarantee: the guard never refuses a request because of its own fault
// unless the route asks for it (fail_closed). A failed PDK call, a body it
// cannot read or a panic in its own code lets the request through and is
// counted (Stats, gatewatch_guard_faults_total); panics elsewhere are
// recovered by the plugin server.
package guard

import (
	"fmt"
	"strings"
	"sync"

	"github.com/Kong/go-pdk"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
)

// Plugin identity as Kong sees it.
const (
	Name    = "gatewatch-guard"
	Version = "0.2.0"
	// Priority 1010 runs the guard after Kong's authentication plugins
	// (jwt 1450, oauth2 1400, key-auth 1250, ldap-auth 1200, basic-auth
	// 1100, hmac-auth 1030) and before ip-restriction (990), acl (950) and
	// rate-limiting (910) (kong-reference §6.3). Then the consumer is known
	// for consumer-level blocks, requests that authentication already
	// rejected cost the guard nothing (the monitor still records attacks in
	// them from the log entry), and an attack is stopped before access
	// control and rate limiting spend work on it.
	Priority = 1010
)

// Controls name who refused a request, in the annotation and in the
// monitor's access.denied events.
const (
	ControlGuard     = "gatewatch-guard"
	ControlBlocklist = "gatewatch-blocklist"
)

// Kong's own ceiling for kong.request.get_headers.
const maxHeadersLimit = 1000

// faultStatus answers a request the guard could not inspect on a
// fail_closed route: the service is unavailable, the client did nothing
// wrong.
const faultStatus = 503

// Config is the guard's per-route configuration; the Kong schema in the
// plugin server's -dump is generated from these tags.
type Config struct {
	Mode          string   `json:"mode" kong:"default=monitor;one_of=monitor|block;description=monitor never blocks and only annotates, block stops requests at or above block_severity"`
	BlockStatus   int      `json:"block_status" kong:"default=403;between=100|599;description=status of a blocked request"`
	BlockSeverity string   `json:"block_severity" kong:"default=high;one_of=low|medium|high|critical;description=lowest finding severity that blocks in block mode"`
	BlockMessage  string   `json:"block_message" kong:"default=Request blocked;len_min=1;description=message in the JSON body of a blocked request"`
	InspectBody   bool     `json:"inspect_body" kong:"default=false;description=also read and inspect request bodies (one more PDK call for requests that carry one)"`
	BodyMaxBytes  int      `json:"body_max_bytes" kong:"default=65536;between=0|8388608;description=bytes of a body inspected at most"`
	MaxHeaders    int      `json:"max_headers" kong:"default=1000;between=1|1000;description=headers read per request (Kong returns at most this many)"`
	Paranoia      int      `json:"paranoia" kong:"default=1;between=1|4;description=detection paranoia level: higher catches more and misfires more"`
	ExcludeRules  []string `json:"exclude_rules" kong:"default=[];description=detection rule ids not applied on this route"`
	Blocklist     bool     `json:"blocklist" kong:"default=true;description=enforce the gatewatch.blocklist topic on this route"`
	APIKeyNames   []string `json:"apikey_names" kong:"default=[\"apikey\"];description=key-auth key_names, to match apikey-fp blocklist entries (headers, then query)"`
	FailClosed    bool     `json:"fail_closed" kong:"default=false;description=refuse with 503 a request the guard could not inspect (body unreadable, internal fault) instead of letting it through"`

	rt       *Runtime
	detector Detector
	blockAt  int  // severity rank that blocks; above any rank in monitor mode
	prepared bool // Prepare ran
}

// Prepare runs once after Kong's config was decoded: it compiles the
// route's detector. Rule ids the engine does not know are dropped with a
// warning rather than refusing the instance, because Kong retries a
// refused instance forever (kong-reference §2.7) and a typo in an
// exclusion must not take the route down.
func (c *Config) Prepare() error {
	if c.rt == nil {
		c.rt = NewRuntime(nil, nil)
	}
	c.prepared = true
	c.blockAt = 1 << 30
	if c.Mode == "block" {
		r := event.Severity(c.BlockSeverity).Rank()
		if r < 0 {
			return fmt.Errorf("guard: block_severity: %q is not low, medium, high or critical", c.BlockSeverity)
		}
		c.blockAt = r
	}
	if c.MaxHeaders < 1 || c.MaxHeaders > maxHeadersLimit {
		c.MaxHeaders = maxHeadersLimit
	}
	if c.BlockStatus < 100 || c.BlockStatus > 599 {
		c.BlockStatus = 403
	}
	if c.BlockMessage == "" {
		c.BlockMessage = "Request blocked"
	}
	if c.Paranoia < 1 || c.Paranoia > 4 {
		c.Paranoia = 1
	}
	for i, n := range c.APIKeyNames {
		c.APIKeyNames[i] = strings.ToLower(n)
	}
	if c.rt.engine == nil {
		return nil
	}
	known := map[string]bool{}
	for _, id := range c.rt.engine.Rules() {
		known[id] = true
	}
	var disabled, unknown []string
	for _, id := range c.ExcludeRules {
		if known[id] {
			disabled = append(disabled, id)
		} else {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		c.rt.log.Load().Warn("exclude_rules names rules the detection engine does not have; ignoring them", "rules", unknown)
	}
	d, err := c.rt.engine.Detector(c.Paranoia, disabled)
	if err != nil {
		return fmt.Errorf("guard: detection policy: %w", err)
	}
	c.detector = d
	return nil
}

// Access decides on one request.
func (c *Config) Access(kong *pdk.PDK) {
	if !c.prepared { // the plugin server always runs Prepare first; a bare Config may not
		if err := c.Prepare(); err != nil {
			return
		}
	}
	st := &c.rt.stats
	x := exchanges.Get().(*exchange)
	defer x.release()
	req, err := c.read(kong, x)
	if err != nil {
		// The bridge is broken (Kong went away) or Kong refused the call:
		// further PDK calls would fail the same way, so allow silently.
		st.FaultPDK.Add(1)
		return
	}
	st.Inspected.Add(1)

	if c.Blocklist {
		e, hit, err := c.matchBlocklist(kong, x.replies, req)
		if err != nil {
			st.FaultPDK.Add(1)
			return
		}
		if hit {
			st.BlocklistHits.Add(1)
			msg := e.Message
			if msg == "" {
				msg = c.BlockMessage
			}
			c.refuse(kong, e.Status, msg, blocklistAnnotation(e))
			return
		}
	}

	var body []byte
	if c.InspectBody && c.BodyMaxBytes > 0 && carriesBody(req.Line.Method, req.Headers) {
		b, err := c.readBody(kong, x.replies)
		switch {
		case err == errBridge:
			st.FaultPDK.Add(1)
			return
		case err != nil:
			st.FaultBody.Add(1)
			if c.FailClosed {
				c.refuse(kong, faultStatus, "Request could not be inspected", faultAnnotation("body_unreadable"))
				return
			}
		}
		body = b
	}

	v, ok := c.evaluate(req, body)
	if !ok {
		st.FaultPanic.Add(1)
		if c.FailClosed {
			c.refuse(kong, faultStatus, "Request could not be inspected", faultAnnotation("guard_fault"))
		}
		return
	}
	if len(v.Findings) == 0 {
		return
	}
	if !v.Blocked {
		st.Logged.Add(1)
		_ = annotate(kong, v.annotation()) // nothing left to do if Kong refused it
		return
	}
	st.Blocked.Add(1)
	c.refuse(kong, c.BlockStatus, c.BlockMessage, v.annotation())
}

// exchange is the scratch space of one Access call, pooled: the receiver
// of the PDK replies, the request view and its headers' backing array.
// Nothing keeps any of it past the call (a Detector must not keep the
// request it is given).
type exchange struct {
	replies *pdkwire.Replies
	req     Request
}

var exchanges = sync.Pool{New: func() any { return newExchange() }}

func newExchange() *exchange {
	return &exchange{replies: pdkwire.NewReplies(), req: Request{Headers: make([]Header, 0, 16)}}
}

// maxPooledHeaders bounds the headers array an exchange keeps for the next
// request, so that one request with a thousand headers does not pin 32 KB.
const maxPooledHeaders = 128

func (x *exchange) release() {
	hs := x.req.Headers
	clear(hs) // the strings point into reply frames: let those go
	if cap(hs) > maxPooledHeaders {
		hs = make([]Header, 0, 16)
	}
	x.req = Request{Headers: hs[:0]}
	exchanges.Put(x)
}

// The arguments of the two calls every request makes, encoded by go-pdk
// (read-only, so they are shared); a route with a lower max_headers makes
// its own.
var (
	requestLineArg = &kpp.String{V: "request"}
	maxHeadersArg  = &kpp.Int{V: maxHeadersLimit}
)

// read makes the guard's two PDK calls, building the request in x.
func (c *Config) read(kong *pdk.PDK, x *exchange) (*Request, error) {
	raw, err := x.replies.Ask(kong, "kong.nginx.get_var", requestLineArg)
	if err != nil {
		return nil, fmt.Errorf("guard: reading the request line: %w", err)
	}
	line, err := pdkwire.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("guard: reading the request line: %w", err)
	}
	rl, err := ParseRequestLine(line)
	if err != nil {
		return nil, err
	}
	arg := maxHeadersArg
	if max := c.MaxHeaders; max >= 1 && max < maxHeadersLimit {
		arg = &kpp.Int{V: int32(max)}
	}
	if raw, err = x.replies.Ask(kong, "kong.request.get_headers", arg); err != nil {
		return nil, fmt.Errorf("guard: reading headers: %w", err)
	}
	headers, err := decodeHeaders(raw, x.req.Headers[:0])
	if err != nil {
		return nil, fmt.Errorf("guard: reading headers: %w", err)
	}
	x.req = Request{Line: rl, Headers: headers}
	return &x.req, nil
}

// refuse hands the verdict to the log phase and ends the request. The
// annotation goes first: nothing can be called after exit.
func (c *Config) refuse(kong *pdk.PDK, status int, message string, a *Annotation) {
	if err := annotate(kong, a); err != nil {
		return // the bridge is gone; an exit would fail the same way
	}
	id, err := requestID(kong)
	if err != nil {
		return
	}
	kong.Response.Exit(status, exitBody(message, id), jsonContentType)
}
