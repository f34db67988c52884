package errlog

import (
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// Categories of a kong.error event (docs/events.md, detail.category).
const (
	PluginError            = "plugin_error"
	PluginServerTerminated = "pluginserver_terminated"
	UpstreamConnect        = "upstream_connect"
	UpstreamTimeout        = "upstream_timeout"
	DNS                    = "dns"
	Database               = "database"
	Certificate            = "certificate"
	WorkerCrash            = "worker_crash"
	Critical               = "critical"
	Other                  = "other"
)

// Classify names what went wrong in l. The order of the checks matters:
// a DNS failure's message also says "connection refused" (the resolver's
// port), and a plugin server's termination is also a pluginserver line.
func Classify(l *Line) string {
	m := strings.ToLower(l.Message)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("worker process") && has("exited on signal", "exited with fatal code", "core dumped"):
		return WorkerCrash
	case has("external pluginserver") && has("terminated"):
		return PluginServerTerminated
	case has("could not be resolved", "while resolving", "dns server error", "name resolution failed",
		"failed the initial dns", "dns resolution failed", "no resolver defined"):
		return DNS
	case has("upstream timed out"):
		return UpstreamTimeout
	case has("no live upstreams", "while connecting to upstream", "upstream prematurely closed",
		"failed to connect to upstream"):
		return UpstreamConnect
	case has("ssl_do_handshake", "certificate", "ssl_certificate", "x509", "pem_read_bio", "ssl handshake"):
		return Certificate
	case l.Component == "postgres" || has("postgres", "pgmoon", "cassandra", "database", "datastore", "declarative config"):
		return Database
	case has("pluginserver error", "runtime error", "lua entry thread aborted", "failed to run ", "panic:") ||
		isPlugin(l.Component) && LevelRank(l.Level) >= LevelRank("error"):
		return PluginError
	case LevelRank(l.Level) >= LevelRank("crit"):
		return Critical
	}
	return Other
}

// isPlugin reports whether a component names a plugin (or its server)
// rather than Kong's or nginx's own code.
func isPlugin(c string) bool {
	switch c {
	case "", "lua", "kong", "pluginserver":
		return false
	}
	return true
}

// Severity is the event severity of a line: by nginx level (crit, alert
// and emerg critical; error high; warn medium; below that low), raised
// for categories that always need a human: a worker crash is critical, a
// plugin server's termination high.
func Severity(level, category string) event.Severity {
	s := event.Low
	switch r := LevelRank(level); {
	case r >= LevelRank("crit"):
		s = event.Critical
	case r == LevelRank("error"):
		s = event.High
	case r == LevelRank("warn"):
		s = event.Medium
	}
	floor := event.Low
	switch category {
	case WorkerCrash:
		floor = event.Critical
	case PluginServerTerminated:
		floor = event.High
	case PluginError:
		floor = event.Medium
	}
	if floor.Rank() > s.Rank() {
		return floor
	}
	return s
}

// Wanted reports whether a line becomes an event: at least minLevel, or
// classified as anything but Other at info or above (Kong logs a plugin
// server's termination at notice and its output, panics included, at
// info). Debug lines never are.
func Wanted(l *Line, category, minLevel string) bool {
	r := LevelRank(l.Level)
	return r >= LevelRank(minLevel) || category != Other && r >= LevelRank("info")
}
