package event

// Detail carries the type-specific part of an event. Each type uses the
// subset of fields that docs/events.md lists for it; the rest stay zero and
// are left out of the encoding. One struct rather than one per type keeps
// encoding allocation-free and lets consumers decode any event with one
// type.
type Detail struct {
	// auth.failure
	Mechanism  string    `json:"mechanism,omitempty"`  // key-auth, basic-auth, jwt, hmac-auth, oauth2, ldap-auth, openid-connect, unknown
	Reason     string    `json:"reason,omitempty"`     // missing_credentials, invalid_credentials, …
	Credential string    `json:"credential,omitempty"` // where the credential was carried: "header:apikey", "query:apikey", "authorization:basic", …
	Identity   *Identity `json:"identity,omitempty"`

	// access.denied, request.rejected
	Control        string `json:"control,omitempty"` // acl, ip-restriction, bot-detection, gatewatch-guard, gatewatch-blocklist, request-termination, request-size-limiting, unknown
	ConsumerGroups string `json:"consumer_groups,omitempty"`

	// rate.limited
	RateLimit *RateLimit `json:"rate_limit,omitempty"`

	// attack.detected
	Action   string    `json:"action,omitempty"` // logged or blocked
	Engine   string    `json:"engine,omitempty"` // monitor (from the log entry) or guard (inline)
	Findings []Finding `json:"findings,omitempty"`

	// upstream.error, gateway.error
	UpstreamStatus string `json:"upstream_status,omitempty"`
	Tries          int    `json:"tries,omitempty"`

	// latency.slow
	ThresholdMS float64 `json:"threshold_ms,omitempty"`

	// config.change
	Actor      string `json:"actor,omitempty"`
	EntityPath string `json:"entity_path,omitempty"`

	// gatewatch.dropped: Dropped is new since the process's previous
	// report, DroppedTotal the process's running total (the newest report
	// states the whole loss even if earlier reports were themselves lost).
	Dropped      int   `json:"dropped,omitempty"`
	DroppedTotal int64 `json:"dropped_total,omitempty"`

	// kong.error (a line, or a burst of like lines, of Kong's error.log)
	Level     string `json:"level,omitempty"`     // nginx level: debug … emerg
	Category  string `json:"category,omitempty"`  // plugin_error, pluginserver_terminated, upstream_connect, upstream_timeout, dns, database, certificate, worker_crash, critical, other
	Component string `json:"component,omitempty"` // the [context] of the line: a plugin name, pluginserver, lua, …
	Message   string `json:"message,omitempty"`   // the log message, escaped and truncated to 1 KiB
	Count     int    `json:"count,omitempty"`     // lines collapsed into this event (bursts)
}

// Identity is the attempted identity of a failed authentication, reported
// only in a form that is safe to leave the gateway: a basic-auth username, a
// JWT claim's name and value, or an API key's keyed fingerprint — never a
// secret.
type Identity struct {
	Kind  string `json:"kind"` // username, jwt_claim, apikey_fingerprint
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// RateLimit is what Kong's rate-limiting plugin told the client.
type RateLimit struct {
	Limit      int    `json:"limit,omitempty"`
	Remaining  int    `json:"remaining"`
	Reset      int    `json:"reset,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"`
	Period     string `json:"period,omitempty"` // second, minute, hour, day, month, year: the most constraining period
}

// Finding is one detection-engine match.
type Finding struct {
	RuleID    string   `json:"rule_id"`
	Class     string   `json:"class"`
	Severity  Severity `json:"severity"`
	Location  string   `json:"location"`
	Fragment  string   `json:"fragment,omitempty"`
	CWE       string   `json:"cwe,omitempty"`
	Technique string   `json:"technique,omitempty"`
}
