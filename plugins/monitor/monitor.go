// Package monitor is the gatewatch Kong plugin: a log-phase handler that
// turns every serialized Kong log entry into security events and hands them
// to the process-wide publisher.
//
// Kong runs an external plugin's log handler in a timer after the client has
// its response, so nothing here adds client latency; still, each PDK call is
// a socket round trip inside an nginx worker, so the handler makes exactly
// one for ordinary traffic (kong.log.serialize), one more only when the
// entry leaves the response source open on an error status (Kong before 3.9,
// kong-reference §3.3), and one more once per process for the node id.
package monitor

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Kong/go-pdk"

	"github.com/gatewatch/gatewatch/pkg/classify"
	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
	"github.com/gatewatch/gatewatch/pkg/publish"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// Plugin identity as Kong sees it.
const (
	Name    = "gatewatch"
	Version = "0.1.0"
	// Priority only orders log handlers. Kong snapshots the serializer when
	// it reaches our log handler (kong-reference §3.3), so running late
	// lets the snapshot include values that higher-priority log plugins set
	// with kong.log.set_serialize_value; 3 is after every bundled log
	// plugin (syslog is 4) and before request-termination (2), which has no
	// log handler.
	Priority = 3
)

// Publisher is the part of publish.Publisher the handler uses.
type Publisher interface {
	Enqueue(m publish.Message) bool
}

// Runtime is the process-wide state every plugin instance shares. The
// plugin server's start hook fills it before the socket is served.
type Runtime struct {
	Publisher Publisher
	IDs       *event.IDGen
	// Topic is the default events topic (a route may override it).
	Topic string
	// FingerprintKey keys API-key fingerprints.
	FingerprintKey []byte
	Logger         *slog.Logger
	Now            func() time.Time
	Metrics        *Metrics
	// Geo adds client.geo and client.as when geoip databases are set.
	Geo classify.GeoLookup
	// Engine is the detection engine every route's profile compiles from.
	Engine *detect.Engine

	nodeID atomic.Pointer[string]
}

// Config is the per-route plugin configuration (kong.yml). The `kong` tags
// become the schema Kong validates with (defaults, enumerations, ranges).
type Config struct {
	Events             []string          `json:"events" kong:"default=[\"auth.failure\",\"access.denied\",\"rate.limited\",\"request.rejected\",\"attack.detected\",\"route.not_found\",\"upstream.error\",\"gateway.error\",\"latency.slow\",\"config.change\"];description=event types this route emits (request.logged is controlled by log_all_requests)"`
	SeverityOverrides  map[string]string `json:"severity_overrides" kong:"description=event type to severity (info, low, medium, high, critical)"`
	LatencyThresholdMS int               `json:"latency_threshold_ms" kong:"default=0;between=0|3600000;description=total latency above which latency.slow is emitted; 0 disables"`
	AdminAPI           bool              `json:"admin_api" kong:"default=false;description=this route fronts the Kong Admin API: mutating requests are config.change events"`
	LogAllRequests     bool              `json:"log_all_requests" kong:"default=false;description=emit request.logged for every request (a full Kafka access log)"`
	Redact             []string          `json:"redact" kong:"default=[];description=extra header and query names whose values are redacted"`
	APIKeyNames        []string          `json:"apikey_names" kong:"default=[\"apikey\"];description=key-auth key_names, to recognise and fingerprint API keys"`
	Topic              string            `json:"topic" kong:"description=events topic for this route; the process default when unset"`
	IncludeHeaders     []string          `json:"include_headers" kong:"default=[];description=request headers copied into events (secret ones never are)"`
	Format             string            `json:"format" kong:"default=native;one_of=native|ocsf|ecs|cef;description=event encoding on Kafka: gatewatch's native JSON, OCSF 1.x, Elastic Common Schema, or CEF text"`
	Detect             bool              `json:"detect" kong:"default=true;description=run attack detection on requests the guard did not inspect"`
	Paranoia           int               `json:"paranoia" kong:"default=1;between=1|4;description=detection paranoia level"`
	DisabledRules      []string          `json:"disabled_rules" kong:"default=[];description=detection rule ids to disable"`
	DisabledClasses    []string          `json:"disabled_classes" kong:"default=[];description=detection classes to disable"`

	rt   *Runtime
	once sync.Once
	cls  *classify.Classifier
	enc  encode.Encoder // nil: native
}

// New returns the constructor the plugin server calls for every instance.
func New(rt *Runtime) func() any {
	return func() any { return &Config{rt: rt} }
}

// classifier compiles the instance's policy on first use; instances live
// as long as their config, so this runs once per config change.
func (c *Config) classifier() *classify.Classifier {
	c.once.Do(func() {
		p := classify.Policy{
			Disabled:           map[event.Type]bool{},
			SeverityOverrides:  map[event.Type]event.Severity{},
			LatencyThresholdMS: float64(c.LatencyThresholdMS),
			AdminAPI:           c.AdminAPI,
			LogAllRequests:     c.LogAllRequests,
			APIKeyNames:        append([]string(nil), c.APIKeyNames...),
			Redactor:           c.redactor(),
			IncludeHeaders:     append([]string(nil), c.IncludeHeaders...),
		}
		if c.Events != nil {
			on := map[event.Type]bool{}
			for _, t := range c.Events {
				on[event.Type(t)] = true
			}
			for _, t := range event.Types {
				if !on[t] {
					p.Disabled[t] = true
				}
			}
		}
		for t, s := range c.SeverityOverrides {
			if sev, ok := event.ParseSeverity(s); ok {
				p.SeverityOverrides[event.Type(t)] = sev
			}
		}
		if c.Detect {
			p.Detector = newDetector(c)
		}
		p.Geo = c.rt.Geo
		c.cls = classify.New(p, c.rt.IDs)
		if c.Format != "" && c.Format != "native" {
			c.enc, _ = encode.New(c.Format, encode.Options{ProductVersion: Version}) // checked in Prepare
		}
	})
	return c.cls
}

// Prepare runs once when Kong starts an instance with this config: a
// detection tuning that does not compile refuses the instance, so the
// operator sees the error when the config is applied rather than silently
// losing detection.
func (c *Config) Prepare() error {
	if c.Format != "" {
		if _, err := encode.ByName(c.Format); err != nil {
			return fmt.Errorf("config.format: %w", err)
		}
	}
	if !c.Detect {
		return nil
	}
	_, err := c.detectProfile()
	return err
}

func (c *Config) redactor() *redact.Redactor {
	names := append(append([]string(nil), c.Redact...), c.APIKeyNames...)
	var key []byte
	if c.rt != nil {
		key = c.rt.FingerprintKey
	}
	return redact.New(names, key)
}

// detectProfile compiles the route's detection tuning against the
// process's engine.
func (c *Config) detectProfile() (*detect.Profile, error) {
	if c.rt == nil || c.rt.Engine == nil {
		return nil, nil
	}
	return c.rt.Engine.Profile(detect.Policy{
		Paranoia:        c.Paranoia,
		DisabledRules:   c.DisabledRules,
		DisabledClasses: c.DisabledClasses,
	})
}

// Log is the log-phase handler.
func (c *Config) Log(kong *pdk.PDK) {
	raw, err := serialize(kong)
	if err != nil {
		c.rt.Metrics.pdkError()
		_ = kong.Log.Err("gatewatch: kong.log.serialize: ", err.Error())
		return
	}
	c.process(raw, pdkKong{kong})
}

// kongAPI is the little of the PDK that process may need beyond the
// serialized entry; an interface so benchmarks and tests can measure the
// Go side alone.
type kongAPI interface {
	Source() (string, error)
	NodeID() (string, error)
	LogErr(msg string)
}

type pdkKong struct{ kong *pdk.PDK }

func (k pdkKong) Source() (string, error) { return k.kong.Response.GetSource() }
func (k pdkKong) NodeID() (string, error) { return k.kong.Node.GetId() }
func (k pdkKong) LogErr(msg string)       { _ = k.kong.Log.Err(msg) }

// scratch is the per-call working memory of process, pooled so that the
// decoded entry's header and tries slices, the buffers its unescaped
// strings live in and the event buffer are reused across requests instead
// of allocated afresh each time: a benign entry costs no allocation.
// Nothing in it outlives the call: events are encoded before process
// returns.
type scratch struct {
	entry  kongentry.Entry
	events [4]event.Event
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// process turns one serialized entry into events and enqueues them.
func (c *Config) process(raw string, kong kongAPI) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	c.processWith(sc, raw, kong)
}

// processWith is process with the working memory given. The entry's
// strings point into raw and into sc's buffers, which the next entry
// overwrites: nothing may keep one past the call (metrics copy the names
// they keep; events are encoded before it returns).
func (c *Config) processWith(sc *scratch, raw string, kong kongAPI) {
	rt := c.rt
	start := time.Now()
	entry := &sc.entry
	if err := kongentry.DecodeString(raw, entry); err != nil {
		rt.Metrics.decodeError()
		kong.LogErr("gatewatch: " + err.Error())
		return
	}
	now := start // one clock reading serves both, unless a test sets the clock
	if rt.Now != nil {
		now = rt.Now()
	}
	in := classify.Input{Entry: entry, Now: now}
	if classify.NeedsSource(entry) {
		if s, err := kong.Source(); err == nil {
			in.Source = classify.NormalizeSource(s)
		}
	}
	events := c.classifier().Classify(&in, sc.events[:0])
	if len(events) > 0 {
		node := rt.node(kong)
		for i := range events {
			events[i].Kong.NodeID = node
			c.publish(&events[i])
		}
	}
	if rt.Metrics != nil {
		rt.Metrics.observe(entry, events, time.Since(start))
	}
	clear(sc.events[:len(events)]) // drop references into this entry's strings
}

func (c *Config) publish(ev *event.Event) {
	rt := c.rt
	topic := c.Topic
	if topic == "" {
		topic = rt.Topic
	}
	value := make([]byte, 0, 1024)
	contentType := ""
	if c.enc != nil {
		var err error
		if value, err = c.enc.Append(value, ev); err != nil {
			// An encoder that cannot express the event must not lose it:
			// fall back to the native schema, which expresses everything.
			value = ev.AppendJSON(value[:0])
		} else {
			contentType = c.enc.ContentType()
		}
	} else {
		value = ev.AppendJSON(value)
	}
	msg := publish.EventMessage(ev, topic, []byte(ev.Client.IP), value, contentType, rt.now())
	if !rt.Publisher.Enqueue(msg) {
		rt.Metrics.enqueueDropped()
	}
}

func (rt *Runtime) now() time.Time {
	if rt.Now != nil {
		return rt.Now()
	}
	return time.Now()
}

// node returns Kong's node id, asking once per process and only when an
// event needs it, so benign traffic never pays the PDK call.
func (rt *Runtime) node(kong kongAPI) string {
	if p := rt.nodeID.Load(); p != nil {
		return *p
	}
	id, err := kong.NodeID()
	if err != nil || id == "" {
		return ""
	}
	rt.nodeID.CompareAndSwap(nil, &id)
	return id
}
