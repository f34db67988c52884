package kongsim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file reads a DB-less kong.yml (kong-reference §8) into entities.
// Entities without an id get one derived from their kind and endpoint key,
// so reloading the same file yields the same ids, as Kong's declarative
// loader does.

type service struct {
	id, name, protocol, host, path string
	port                           int
	retries                        int
	connectTimeout, writeTimeout   int
	readTimeout                    int
	tags                           []string
	createdAt                      int64
}

type route struct {
	id, name                string
	service                 *service
	paths, hosts, methods   []string
	headers                 map[string][]string
	stripPath, preserveHost bool
	protocols               []string
	regexPriority           int
	tags                    []string
	createdAt               int64
	order                   int // position in the file, the last tie-breaker

	prefixes []string
	regexes  []*regexp.Regexp
}

type consumer struct {
	id, username, customID string
	tags                   []string
	createdAt              int64
}

type credential struct {
	id        string
	consumer  *consumer
	key       string // key-auth key, jwt key
	username  string // basic-auth, hmac-auth
	password  string
	secret    string // jwt, hmac-auth
	algorithm string // jwt
	createdAt int64
}

type pluginEntry struct {
	id, name, instanceName          string
	routeID, serviceID, consumerID  string
	enabled                         bool
	raw                             map[string]any // config as written
	conf                            map[string]any // validated, defaults applied
	where                           string         // for error messages
	seq                             int64          // __seq__ (external plugins)
	confJSON                        []byte         // CmdStartInstance config (external)
	routeName, serviceName, consumr string         // references still to resolve
}

// declarative is one loaded kong.yml.
type declarative struct {
	services  []*service
	routes    []*route
	consumers []*consumer
	byName    map[string]*consumer // username and id
	keyauth   map[string]*credential
	basicauth map[string]*credential
	jwt       map[string]*credential
	hmac      map[string]*credential
	acls      map[string][]string // consumer id → groups
	plugins   []*pluginEntry
}

// uuidFor derives a stable UUID (version 5 layout) for an entity.
func uuidFor(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	s := hex.EncodeToString(h[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// parseDeclarative reads kong.yml. enabled reports whether a plugin name
// may be used (the kong.conf `plugins` property).
func parseDeclarative(data []byte, now int64, enabled func(string) bool) (*declarative, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("kong.yml: %w", err)
	}
	if doc == nil {
		return nil, fmt.Errorf("kong.yml: empty document")
	}
	switch fv := fmt.Sprint(doc["_format_version"]); fv {
	case "3.0", "2.1", "1.1":
	default:
		return nil, fmt.Errorf("kong.yml: _format_version: expected one of: 1.1, 2.1, 3.0 (got %q)", fv)
	}
	d := &declarative{
		byName: map[string]*consumer{}, keyauth: map[string]*credential{},
		basicauth: map[string]*credential{}, jwt: map[string]*credential{},
		hmac: map[string]*credential{}, acls: map[string][]string{},
	}
	p := &parser{d: d, now: now}
	for k := range doc {
		switch k {
		case "_format_version", "_transform", "_comment", "_ignore", "_workspace",
			"services", "routes", "consumers", "plugins", "keyauth_credentials",
			"basicauth_credentials", "jwt_secrets", "acls", "hmacauth_credentials",
			"upstreams", "targets", "certificates", "ca_certificates", "snis", "vaults":
		default:
			return nil, fmt.Errorf("kong.yml: %s: unknown field", k)
		}
	}
	for i, s := range list(doc["services"]) {
		if err := p.service(s, fmt.Sprintf("services.%d", i+1)); err != nil {
			return nil, err
		}
	}
	for i, r := range list(doc["routes"]) {
		if err := p.route(r, nil, fmt.Sprintf("routes.%d", i+1)); err != nil {
			return nil, err
		}
	}
	for i, c := range list(doc["consumers"]) {
		if err := p.consumer(c, fmt.Sprintf("consumers.%d", i+1)); err != nil {
			return nil, err
		}
	}
	for _, kind := range credentialKinds {
		for i, c := range list(doc[kind]) {
			if err := p.credential(kind, c, nil, fmt.Sprintf("%s.%d", kind, i+1)); err != nil {
				return nil, err
			}
		}
	}
	for i, pl := range list(doc["plugins"]) {
		if err := p.plugin(pl, "", "", "", fmt.Sprintf("plugins.%d", i+1)); err != nil {
			return nil, err
		}
	}
	if err := p.resolve(enabled); err != nil {
		return nil, err
	}
	return d, nil
}

var credentialKinds = []string{"keyauth_credentials", "basicauth_credentials", "jwt_secrets", "acls", "hmacauth_credentials"}

type parser struct {
	d       *declarative
	now     int64
	pending []pendingCred
}

type pendingCred struct {
	kind, ref, where string
	m                map[string]any
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any, where string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("kong.yml: %s: expected a record", where)
	}
	return m, nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strs(m map[string]any, k string) []string {
	var out []string
	for _, v := range list(m[k]) {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func intOr(m map[string]any, k string, def int) int {
	switch x := m[k].(type) {
	case int:
		return x
	case float64:
		return int(x)
	}
	return def
}

func boolOr(m map[string]any, k string, def bool) bool {
	if b, ok := m[k].(bool); ok {
		return b
	}
	return def
}

func (p *parser) service(v any, where string) error {
	m, err := obj(v, where)
	if err != nil {
		return err
	}
	s := &service{
		id: str(m, "id"), name: str(m, "name"), protocol: "http", port: 80, path: str(m, "path"),
		retries: intOr(m, "retries", 5), connectTimeout: intOr(m, "connect_timeout", 60000),
		writeTimeout: intOr(m, "write_timeout", 60000), readTimeout: intOr(m, "read_timeout", 60000),
		tags: strs(m, "tags"), createdAt: p.now,
	}
	if u := str(m, "url"); u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			return fmt.Errorf("kong.yml: %s.url: invalid url %q", where, u)
		}
		s.protocol, s.host, s.path = pu.Scheme, pu.Hostname(), pu.Path
		s.port = map[string]int{"https": 443}[pu.Scheme]
		if s.port == 0 {
			s.port = 80
		}
		if pu.Port() != "" {
			s.port, _ = strconv.Atoi(pu.Port())
		}
	} else {
		s.host = str(m, "host")
		if pr := str(m, "protocol"); pr != "" {
			s.protocol = pr
		}
		s.port = intOr(m, "port", map[bool]int{true: 443, false: 80}[s.protocol == "https"])
	}
	if s.host == "" {
		return fmt.Errorf("kong.yml: %s.host: required field missing", where)
	}
	if s.protocol != "http" && s.protocol != "https" {
		return fmt.Errorf("kong.yml: %s.protocol: kongsim proxies http and https only", where)
	}
	if s.id == "" {
		s.id = uuidFor("services", s.name, s.host, fmt.Sprint(len(p.d.services)))
	}
	p.d.services = append(p.d.services, s)
	for i, r := range list(m["routes"]) {
		if err := p.route(r, s, fmt.Sprintf("%s.routes.%d", where, i+1)); err != nil {
			return err
		}
	}
	for i, pl := range list(m["plugins"]) {
		if err := p.plugin(pl, "", s.id, "", fmt.Sprintf("%s.plugins.%d", where, i+1)); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) findService(ref string) *service {
	for _, s := range p.d.services {
		if s.name == ref || s.id == ref {
			return s
		}
	}
	return nil
}

func (p *parser) route(v any, s *service, where string) error {
	m, err := obj(v, where)
	if err != nil {
		return err
	}
	r := &route{
		id: str(m, "id"), name: str(m, "name"), service: s, paths: strs(m, "paths"),
		hosts: strs(m, "hosts"), methods: strs(m, "methods"), stripPath: boolOr(m, "strip_path", true),
		preserveHost: boolOr(m, "preserve_host", false), protocols: strs(m, "protocols"),
		regexPriority: intOr(m, "regex_priority", 0), tags: strs(m, "tags"), createdAt: p.now,
		order: len(p.d.routes),
	}
	if len(r.protocols) == 0 {
		r.protocols = []string{"http", "https"}
	}
	if hm, ok := m["headers"].(map[string]any); ok {
		r.headers = map[string][]string{}
		for k, vv := range hm {
			for _, x := range list(vv) {
				r.headers[strings.ToLower(k)] = append(r.headers[strings.ToLower(k)], fmt.Sprint(x))
			}
		}
	}
	if s == nil {
		if ref := refName(m["service"]); ref != "" {
			if r.service = p.findService(ref); r.service == nil {
				return fmt.Errorf("kong.yml: %s.service: could not find service %q", where, ref)
			}
		}
	}
	if len(r.paths)+len(r.hosts)+len(r.methods)+len(r.headers) == 0 {
		return fmt.Errorf("kong.yml: %s: must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'", where)
	}
	for i, path := range r.paths {
		if rx, ok := strings.CutPrefix(path, "~"); ok {
			re, err := regexp.Compile("^(?:" + rx + ")")
			if err != nil {
				return fmt.Errorf("kong.yml: %s.paths.%d: invalid regex %q: %w", where, i+1, rx, err)
			}
			r.regexes = append(r.regexes, re)
			continue
		}
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("kong.yml: %s.paths.%d: should start with: / (fixed path) or ~/ (regex path)", where, i+1)
		}
		r.prefixes = append(r.prefixes, path)
	}
	for i := range r.methods {
		r.methods[i] = strings.ToUpper(r.methods[i])
	}
	if r.id == "" {
		r.id = uuidFor("routes", r.name, where)
	}
	p.d.routes = append(p.d.routes, r)
	for i, pl := range list(m["plugins"]) {
		if err := p.plugin(pl, r.id, "", "", fmt.Sprintf("%s.plugins.%d", where, i+1)); err != nil {
			return err
		}
	}
	return nil
}

func refName(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if s := str(x, "id"); s != "" {
			return s
		}
		return str(x, "name")
	}
	return ""
}

func (p *parser) consumer(v any, where string) error {
	m, err := obj(v, where)
	if err != nil {
		return err
	}
	c := &consumer{id: str(m, "id"), username: str(m, "username"), customID: str(m, "custom_id"), tags: strs(m, "tags"), createdAt: p.now}
	if c.username == "" && c.customID == "" {
		return fmt.Errorf("kong.yml: %s: at least one of these fields must be non-empty: 'custom_id', 'username'", where)
	}
	if c.id == "" {
		c.id = uuidFor("consumers", c.username, c.customID)
	}
	p.d.consumers = append(p.d.consumers, c)
	p.d.byName[c.id] = c
	if c.username != "" {
		p.d.byName[c.username] = c
	}
	for _, kind := range credentialKinds {
		for i, cr := range list(m[kind]) {
			if err := p.credential(kind, cr, c, fmt.Sprintf("%s.%s.%d", where, kind, i+1)); err != nil {
				return err
			}
		}
	}
	for i, pl := range list(m["plugins"]) {
		if err := p.plugin(pl, "", "", c.id, fmt.Sprintf("%s.plugins.%d", where, i+1)); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) credential(kind string, v any, c *consumer, where string) error {
	m, err := obj(v, where)
	if err != nil {
		return err
	}
	if c == nil {
		ref := refName(m["consumer"])
		if c = p.d.byName[ref]; c == nil {
			return fmt.Errorf("kong.yml: %s.consumer: could not find consumer %q", where, ref)
		}
	}
	cr := &credential{id: str(m, "id"), consumer: c, createdAt: p.now}
	switch kind {
	case "keyauth_credentials":
		cr.key = str(m, "key")
		if cr.key == "" {
			return fmt.Errorf("kong.yml: %s.key: required field missing", where)
		}
		p.d.keyauth[cr.key] = cr
	case "basicauth_credentials":
		cr.username, cr.password = str(m, "username"), str(m, "password")
		if cr.username == "" {
			return fmt.Errorf("kong.yml: %s.username: required field missing", where)
		}
		p.d.basicauth[cr.username] = cr
	case "jwt_secrets":
		cr.key, cr.secret, cr.algorithm = str(m, "key"), str(m, "secret"), str(m, "algorithm")
		if cr.algorithm == "" {
			cr.algorithm = "HS256"
		}
		if cr.key == "" {
			cr.key = uuidFor("jwt-key", c.id, where)
		}
		p.d.jwt[cr.key] = cr
	case "hmacauth_credentials":
		cr.username, cr.secret = str(m, "username"), str(m, "secret")
		p.d.hmac[cr.username] = cr
	case "acls":
		g := str(m, "group")
		if g == "" {
			return fmt.Errorf("kong.yml: %s.group: required field missing", where)
		}
		p.d.acls[c.id] = append(p.d.acls[c.id], g)
		return nil
	}
	if cr.id == "" {
		cr.id = uuidFor(kind, c.id, cr.key, cr.username)
	}
	return nil
}

func (p *parser) plugin(v any, routeID, serviceID, consumerID, where string) error {
	m, err := obj(v, where)
	if err != nil {
		return err
	}
	e := &pluginEntry{
		id: str(m, "id"), name: str(m, "name"), instanceName: str(m, "instance_name"),
		routeID: routeID, serviceID: serviceID, consumerID: consumerID,
		enabled: boolOr(m, "enabled", true), where: where,
	}
	if e.name == "" {
		return fmt.Errorf("kong.yml: %s.name: required field missing", where)
	}
	if c, ok := m["config"]; ok && c != nil {
		cm, ok := c.(map[string]any)
		if !ok {
			return fmt.Errorf("kong.yml: %s: config: expected a record", where)
		}
		e.raw = cm
	}
	e.routeName, e.serviceName, e.consumr = refName(m["route"]), refName(m["service"]), refName(m["consumer"])
	p.d.plugins = append(p.d.plugins, e)
	return nil
}

// resolve turns plugin references into ids, checks that every plugin is
// enabled and unique per scope, and assigns ids.
func (p *parser) resolve(enabled func(string) bool) error {
	seen := map[string]string{}
	for _, e := range p.d.plugins {
		if e.routeName != "" {
			r := p.findRoute(e.routeName)
			if r == nil {
				return fmt.Errorf("kong.yml: %s.route: could not find route %q", e.where, e.routeName)
			}
			e.routeID = r.id
		}
		if e.serviceName != "" {
			s := p.findService(e.serviceName)
			if s == nil {
				return fmt.Errorf("kong.yml: %s.service: could not find service %q", e.where, e.serviceName)
			}
			e.serviceID = s.id
		}
		if e.consumr != "" {
			c := p.d.byName[e.consumr]
			if c == nil {
				return fmt.Errorf("kong.yml: %s.consumer: could not find consumer %q", e.where, e.consumr)
			}
			e.consumerID = c.id
		}
		if !enabled(e.name) {
			return fmt.Errorf("kong.yml: %s: plugin '%s' not enabled; add it to the 'plugins' configuration property", e.where, e.name)
		}
		scope := e.name + ":" + e.routeID + ":" + e.serviceID + ":" + e.consumerID
		if prev, dup := seen[scope]; dup {
			return fmt.Errorf("kong.yml: %s: uniqueness violation: plugin '%s' already configured for the same route, service and consumer at %s", e.where, e.name, prev)
		}
		seen[scope] = e.where
		if e.id == "" {
			e.id = uuidFor("plugins", scope)
		}
	}
	sort.SliceStable(p.d.routes, func(i, j int) bool { return p.d.routes[i].order < p.d.routes[j].order })
	return nil
}

func (p *parser) findRoute(ref string) *route {
	for _, r := range p.d.routes {
		if r.name == ref || r.id == ref {
			return r
		}
	}
	return nil
}
