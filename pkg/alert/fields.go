package alert

import (
	"sort"
	"strconv"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// getter reads one field of an event as a string, without allocating for
// string fields. The empty string means absent.
type getter func(e *event.Event) string

// fields maps every dotted path a rule may name (docs/events.md) to its
// getter. It is the one place the path vocabulary lives; docs/alerting.md
// lists the same set and a test keeps the two in step.
var fields = map[string]getter{
	"type":                     func(e *event.Event) string { return string(e.Type) },
	"severity":                 func(e *event.Event) string { return string(e.Severity) },
	"id":                       func(e *event.Event) string { return e.ID },
	"kong.node_id":             func(e *event.Event) string { return e.Kong.NodeID },
	"kong.route.id":            func(e *event.Event) string { return e.Kong.Route.ID },
	"kong.route.name":          func(e *event.Event) string { return e.Kong.Route.Name },
	"kong.service.id":          func(e *event.Event) string { return e.Kong.Service.ID },
	"kong.service.name":        func(e *event.Event) string { return e.Kong.Service.Name },
	"kong.workspace":           func(e *event.Event) string { return e.Kong.Workspace },
	"client.ip":                func(e *event.Event) string { return e.Client.IP },
	"client.user_agent":        func(e *event.Event) string { return e.Client.UserAgent },
	"client.consumer.id":       func(e *event.Event) string { return e.Client.Consumer.ID },
	"client.consumer.username": func(e *event.Event) string { return e.Client.Consumer.Username },
	"request.id":               func(e *event.Event) string { return e.Request.ID },
	"request.method":           func(e *event.Event) string { return e.Request.Method },
	"request.host":             func(e *event.Event) string { return e.Request.Host },
	"request.path":             func(e *event.Event) string { return e.Request.Path },
	"request.query":            func(e *event.Event) string { return e.Request.Query },
	"response.status":          func(e *event.Event) string { return statusString(e.Response.Status) },
	"response.source":          func(e *event.Event) string { return e.Response.Source },
	"detail.mechanism":         func(e *event.Event) string { return e.Detail.Mechanism },
	"detail.reason":            func(e *event.Event) string { return e.Detail.Reason },
	"detail.credential":        func(e *event.Event) string { return e.Detail.Credential },
	"detail.identity.kind": func(e *event.Event) string {
		if e.Detail.Identity == nil {
			return ""
		}
		return e.Detail.Identity.Kind
	},
	"detail.identity.name": func(e *event.Event) string {
		if e.Detail.Identity == nil {
			return ""
		}
		return e.Detail.Identity.Name
	},
	"detail.identity.value": func(e *event.Event) string {
		if e.Detail.Identity == nil {
			return ""
		}
		return e.Detail.Identity.Value
	},
	"detail.control":         func(e *event.Event) string { return e.Detail.Control },
	"detail.consumer_groups": func(e *event.Event) string { return e.Detail.ConsumerGroups },
	"detail.rate_limit.period": func(e *event.Event) string {
		if e.Detail.RateLimit == nil {
			return ""
		}
		return e.Detail.RateLimit.Period
	},
	"detail.action":          func(e *event.Event) string { return e.Detail.Action },
	"detail.engine":          func(e *event.Event) string { return e.Detail.Engine },
	"detail.upstream_status": func(e *event.Event) string { return e.Detail.UpstreamStatus },
	"detail.actor":           func(e *event.Event) string { return e.Detail.Actor },
	"detail.entity_path":     func(e *event.Event) string { return e.Detail.EntityPath },
	// The class of the most severe finding: attack rules group and match on
	// it without iterating findings.
	"detail.findings.class": func(e *event.Event) string {
		best := -1
		class := ""
		for i := range e.Detail.Findings {
			if r := e.Detail.Findings[i].Severity.Rank(); r > best {
				best, class = r, e.Detail.Findings[i].Class
			}
		}
		return class
	},
}

// FieldPaths lists every path a rule may name, sorted.
func FieldPaths() []string {
	out := make([]string, 0, len(fields))
	for p := range fields {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Field returns the value of the dotted path in e, and false for a path the
// rules do not know.
func Field(e *event.Event, path string) (string, bool) {
	g, ok := fields[path]
	if !ok {
		return "", false
	}
	return g(e), true
}

// statuses caches the decimal form of every HTTP status so that matching on
// response.status does not allocate.
var statuses = func() [600]string {
	var s [600]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusString(n int) string {
	if n <= 0 {
		return ""
	}
	if n < len(statuses) {
		return statuses[n]
	}
	return strconv.Itoa(n)
}
