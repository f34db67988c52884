package kongsim

import (
	"net/http"
	"sort"
	"strings"
)

// routeMatch is the router's answer for one request.
type routeMatch struct {
	route    *route
	matched  string // the prefix or the regex match that strip_path removes
	captures *uriCaptures
}

// routeOrder sorts routes the way Kong's traditional_compatible router
// ranks them (kong/router/transform.lua): more matcher categories first,
// plain hosts before wildcards, more header matchers, regex paths before
// prefixes and by regex_priority, then longer paths, then file order.
func routeOrder(routes []*route) []*route {
	out := append([]*route(nil), routes...)
	key := func(r *route) (weight, plainHost, headers, hasRegex, regexPrio, pathLen int) {
		for _, n := range []int{len(r.methods), len(r.hosts), len(r.headers), len(r.paths)} {
			if n > 0 {
				weight++
			}
		}
		if len(r.hosts) > 0 {
			plainHost = 1
			for _, h := range r.hosts {
				if strings.Contains(h, "*") {
					plainHost = 0
				}
			}
		}
		headers = len(r.headers)
		if len(r.regexes) > 0 {
			hasRegex = 1
			regexPrio = r.regexPriority
		}
		for _, p := range r.paths {
			if len(p) > pathLen {
				pathLen = len(p)
			}
		}
		return
	}
	sort.SliceStable(out, func(i, j int) bool {
		a := [6]int{}
		b := [6]int{}
		a[0], a[1], a[2], a[3], a[4], a[5] = key(out[i])
		b[0], b[1], b[2], b[3], b[4], b[5] = key(out[j])
		for k := range a {
			if a[k] != b[k] {
				return a[k] > b[k]
			}
		}
		return out[i].order < out[j].order
	})
	return out
}

// match finds the route for a request; nil when none matches.
func matchRoute(routes []*route, method, host, path string, h http.Header) *routeMatch {
	for _, r := range routes {
		if m := r.match(method, host, path, h); m != nil {
			return m
		}
	}
	return nil
}

func (r *route) match(method, host, path string, h http.Header) *routeMatch {
	if len(r.methods) > 0 && !contains(r.methods, method) {
		return nil
	}
	if len(r.hosts) > 0 && !r.matchHost(host) {
		return nil
	}
	for name, want := range r.headers {
		got := h.Values(name)
		ok := false
		for _, g := range got {
			for _, w := range want {
				if strings.EqualFold(g, w) {
					ok = true
				}
			}
		}
		if !ok {
			return nil
		}
	}
	if len(r.paths) == 0 {
		return &routeMatch{route: r, matched: ""}
	}
	for _, re := range r.regexes {
		loc := re.FindStringSubmatchIndex(path)
		if loc == nil {
			continue
		}
		c := &uriCaptures{named: map[string]string{}}
		c.unnamed = append(c.unnamed, path[loc[0]:loc[1]])
		for i := 1; i < len(loc)/2; i++ {
			v := ""
			if loc[2*i] >= 0 {
				v = path[loc[2*i]:loc[2*i+1]]
			}
			c.unnamed = append(c.unnamed, v)
			if name := re.SubexpNames()[i]; name != "" {
				c.named[name] = v
			}
		}
		return &routeMatch{route: r, matched: path[loc[0]:loc[1]], captures: c}
	}
	best := -1
	for i, p := range r.prefixes {
		if strings.HasPrefix(path, p) && (best < 0 || len(p) > len(r.prefixes[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	return &routeMatch{route: r, matched: r.prefixes[best]}
}

func (r *route) matchHost(host string) bool {
	host = strings.ToLower(host)
	for _, h := range r.hosts {
		h = strings.ToLower(h)
		switch {
		case h == host:
			return true
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]):
			return true
		case strings.HasSuffix(h, ".*") && strings.HasPrefix(host, h[:len(h)-1]):
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// upstreamPath computes $upstream_uri's path for path_handling v0
// (get_upstream_uri_v0 in kong/router/utils.lua). matched is the part of
// the path that strip_path removes.
func upstreamPath(servicePath, reqURI, matched string, strip bool) string {
	base := servicePath
	if base == "" {
		base = "/"
	}
	postfix := strings.TrimPrefix(reqURI, matched)
	if strings.HasSuffix(base, "/") {
		if !strip {
			return base + strings.TrimPrefix(reqURI, "/")
		}
		switch {
		case postfix == "" && base == "/":
			return "/"
		case postfix == "" && strings.HasSuffix(reqURI, "/"):
			return base
		case postfix == "":
			return base[:len(base)-1]
		case strings.HasPrefix(postfix, "/"):
			return base[:len(base)-1] + postfix
		}
		return base + postfix
	}
	if !strip {
		if reqURI == "/" {
			return base
		}
		return base + reqURI
	}
	switch {
	case postfix == "" && len(reqURI) > 1 && strings.HasSuffix(reqURI, "/"):
		return base + "/"
	case postfix == "":
		return base
	case strings.HasPrefix(postfix, "/"):
		return base + postfix
	}
	return base + "/" + postfix
}
