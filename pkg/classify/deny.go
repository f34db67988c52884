package classify

import (
	"strconv"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
)

// accessDetail names the control that denied the request: first from the
// length of Kong's templated error body (errorbody.go), then from context —
// acl runs after authentication, so a 403 with an authenticated consumer or
// credential is acl's; a known bot user agent is bot-detection's — and
// otherwise "unknown" rather than a guess.
func accessDetail(e *kongentry.Entry) event.Detail {
	d := event.Detail{Control: "unknown"}
	switch {
	case controlFromBody(e) != "":
		d.Control = controlFromBody(e)
	case e.Response.Headers.Get("content-length") == "0":
		// Every bundled plugin that denies with kong.response.error sends
		// a templated body; request-termination with a status that has
		// no built-in message (403 among them) and no configured message
		// is the one that sends none.
		d.Control = "request-termination"
	case e.Consumer.Present || e.Authenticated.Present:
		d.Control = "acl"
	case isKnownBot(e.Request.Headers.Get("user-agent")):
		d.Control = "bot-detection"
	}
	if g := e.Request.Headers.Get("x-consumer-groups"); g != "" {
		d.ConsumerGroups = g
	}
	return d
}

// isKnownBot reports user agents that Kong's bot-detection denies by default
// (a subset of its built-in list: crawlers and HTTP libraries).
func isKnownBot(ua string) bool {
	if ua == "" {
		return false
	}
	l := strings.ToLower(ua)
	for _, b := range []string{"bot", "crawler", "spider", "curl/", "wget", "python-requests", "python-urllib", "go-http-client", "java/", "libwww-perl", "scrapy", "httpclient"} {
		if strings.Contains(l, b) {
			return true
		}
	}
	return false
}

// rateLimitPeriods are the rate-limiting plugin's periods, shortest first.
var rateLimitPeriods = []string{"second", "minute", "hour", "day", "month", "year"}

// isRateLimitResponse recognises a rate-limiting rejection whose status the
// operator changed (config.error_code): Retry-After together with an
// exhausted RateLimit-Remaining.
func isRateLimitResponse(e *kongentry.Entry) bool {
	h := e.Response.Headers
	if e.Response.Status < 400 || h.Get("retry-after") == "" {
		return false
	}
	return h.Get("ratelimit-remaining") == "0"
}

// rateLimit copies what Kong told the client about its limits.
func rateLimit(e *kongentry.Entry) *event.RateLimit {
	h := e.Response.Headers
	rl := &event.RateLimit{
		Limit:      atoi(h.Get("ratelimit-limit")),
		Remaining:  atoi(h.Get("ratelimit-remaining")),
		Reset:      atoi(h.Get("ratelimit-reset")),
		RetryAfter: atoi(h.Get("retry-after")),
	}
	// The most constraining period is the one with nothing remaining.
	for _, p := range rateLimitPeriods {
		if v := h.Get("x-ratelimit-remaining-" + p); v != "" && atoi(v) == 0 {
			rl.Period = p
			if rl.Limit == 0 {
				rl.Limit = atoi(h.Get("x-ratelimit-limit-" + p))
			}
			break
		}
	}
	return rl
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
