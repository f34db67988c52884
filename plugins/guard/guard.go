// Package guard is the gatewatch-guard Kong plugin: an access-phase
// handler that reads the request with as few PDK calls as possible and
// decides whether it may reach the upstream.
//
// Every PDK call is a socket round trip made while the client waits, and an
// error in one is a 500 (kong-reference §2, §2.7). So a benign request costs
// exactly two: kong.nginx.get_var("request") for the raw request line
// (method, target and protocol in one string, as sent), and
// kong.request.get_headers with a limit high enough that a payload cannot
// hide past it. In this first cut the guard reads and allows; detection,
// block mode and the blocklist (issue 7) build on Config and Request.
//
// Guarantee: the handler never blocks a request because of its own fault;
// a failed PDK call or a panic lets the request through (the plugin server
// recovers panics and logs them through kong.log.err).
package guard

import (
	"fmt"

	"github.com/Kong/go-pdk"
)

// Plugin identity as Kong sees it.
const (
	Name    = "gatewatch-guard"
	Version = "0.1.0"
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

// Kong's own ceiling for kong.request.get_headers.
const maxHeadersLimit = 1000

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
	ExcludeRules  []string `json:"exclude_rules" kong:"default=[];description=detection rule ids not applied on this route"`
	Blocklist     bool     `json:"blocklist" kong:"default=true;description=enforce the gatewatch.blocklist topic on this route"`
}

// New returns a config for Kong to decode an instance into.
func New() any { return &Config{} }

// Request is what the guard read about one request.
type Request struct {
	Line    RequestLine
	Headers map[string][]string // lower-cased names, as Kong returns them
}

// Access reads the request and allows it.
func (c *Config) Access(kong *pdk.PDK) {
	if _, err := c.read(kong); err != nil {
		// The bridge is broken (Kong went away) or Kong refused the call:
		// further PDK calls would fail the same way, so allow silently.
		return
	}
}

// read makes the guard's two PDK calls.
func (c *Config) read(kong *pdk.PDK) (*Request, error) {
	line, err := kong.Nginx.GetVar("request")
	if err != nil {
		return nil, fmt.Errorf("guard: reading the request line: %w", err)
	}
	rl, err := ParseRequestLine(line)
	if err != nil {
		return nil, err
	}
	max := c.MaxHeaders
	if max < 1 || max > maxHeadersLimit {
		max = maxHeadersLimit
	}
	headers, err := kong.Request.GetHeaders(max)
	if err != nil {
		return nil, fmt.Errorf("guard: reading headers: %w", err)
	}
	return &Request{Line: rl, Headers: headers}, nil
}
