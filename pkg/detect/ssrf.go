package detect

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// checkSSRF fires when a value holds a URL (or, in a URL-named parameter, a
// bare host) whose host is internal: loopback, private, link-local, CGNAT,
// unspecified or a cloud metadata address, however written (decimal, octal,
// hex, short forms, IPv4-mapped IPv6, look-alike digits, wildcard DNS names
// that embed an address), or that uses a scheme meant for something other
// than fetching a page (gopher, dict, file, ...).
func checkSSRF(s *state, f field, v []byte) (int, int, bool) {
	for i := 0; i < len(v); {
		j := bytes.Index(v[i:], []byte("://"))
		if j < 0 {
			break
		}
		j += i
		k := j
		for k > 0 && isSchemeByte(v[k-1]) {
			k--
		}
		if dangerousScheme(v[k:j]) || internalAuthority(v[j+3:], true) {
			return k, len(v), true
		}
		i = j + 3
	}
	// "http:127.0.0.1" and "http:/2852039166": browsers and some URL
	// libraries accept a special scheme without its two slashes.
	for _, sch := range [...]string{"http:", "https:"} {
		for off := 0; off < len(v); {
			i := bytes.Index(v[off:], []byte(sch))
			if i < 0 {
				break
			}
			i += off
			rest := v[i+len(sch):]
			if !bytes.HasPrefix(rest, []byte("//")) {
				rest = bytes.TrimPrefix(rest, []byte("/"))
				if internalAuthority(rest, true) {
					return i, len(v), true
				}
			}
			off = i + len(sch)
		}
	}
	// Every "@" starts a candidate host: parsers disagree on which "@"
	// ends the userinfo ("http://a.example:80 &@127.0.0.1:22/").
	if bytes.Contains(v, []byte("://")) {
		for off := 0; off < len(v); {
			i := bytes.IndexByte(v[off:], '@')
			if i < 0 {
				break
			}
			i += off
			if internalAuthority(v[i+1:], true) {
				return i, len(v), true
			}
			off = i + 1
		}
	}
	// A URL that names the metadata address anywhere (a redirector's path,
	// a proxy parameter) is aimed at it.
	if i := bytes.Index(v, []byte("169.254.169.254")); i >= 0 && bytes.Contains(v, []byte("://")) {
		return i, len(v), true
	}
	if bytes.HasPrefix(v, []byte("//")) && internalAuthority(v[2:], true) {
		return 0, len(v), true
	}
	if f.kind != locHeader && urlishName(f) && internalAuthority(v, false) {
		return 0, len(v), true
	}
	return 0, 0, false
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func dangerousScheme(s []byte) bool {
	switch string(s) {
	case "gopher", "dict", "file", "ldap", "ldaps", "tftp", "jar", "netdoc", "sftp", "smb",
		"expect", "phar", "ogg", "rtsp", "imap", "pop3", "smtp", "telnet", "redis", "mysql", "postgres":
		return true
	}
	return false
}

// urlishName reports whether a field's name suggests a URL or host.
func urlishName(f field) bool {
	for _, w := range [...]string{"url", "uri", "host", "callback", "webhook", "redirect", "target", "dest", "endpoint", "proxy", "fetch", "domain", "site", "feed", "link", "src", "source", "image", "server", "addr"} {
		if f.nameb != nil {
			if containsFold(f.nameb, w) {
				return true
			}
		} else if containsFold(f.name, w) {
			return true
		}
	}
	return false
}

// internalAuthority parses the authority at the start of v (up to '/', '?',
// '#' or whitespace) and reports whether any host in it is internal. Every
// '@'- or backslash-separated piece is tried, since URL parsers disagree about
// which one is the host. In a URL (inURL), a disguised host counts too: an
// IPv4 address written other than as four decimal parts ("2852039166",
// "0251.0376.0251.0376", "0x7f.1") or a host spelled with backslashes that
// lenient parsers drop: no honest client writes either, whatever the
// address. (A bare value in a URL-named field is not held to that: "site=42"
// is an id, not a disguised address.)
func internalAuthority(v []byte, inURL bool) bool {
	end := 0
	for end < len(v) && end < 512 {
		c := v[end]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':' ||
			c == '[' || c == ']' || c == '%' || c == '@' || c == '\\' || c == '~' || c == '+' || c >= 0x80) {
			break
		}
		end++
	}
	auth := v[:end]
	if bytes.IndexByte(auth, '\\') >= 0 && bytes.Count(auth, []byte("\\")) > 2 {
		// "\\l\\o\\c\\a\\l..." : backslashes that a lenient parser drops.
		if inURL {
			return true
		}
		auth = bytes.ReplaceAll(auth, []byte("\\"), nil)
	}
	for len(auth) > 0 {
		piece := auth
		if i := bytes.IndexAny(auth, "@\\"); i >= 0 {
			piece, auth = auth[:i], auth[i+1:]
		} else {
			auth = nil
		}
		host := stripPort(piece)
		if internalHost(host) || inURL && disguisedIPv4(host) {
			return true
		}
	}
	return false
}

func stripPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h[1:]
	}
	if bytes.Count(h, []byte(":")) == 1 {
		h, _, _ = bytes.Cut(h, []byte(":"))
	}
	return h
}

// internalSuffixes are names that, alone or as the last labels of a host,
// point inside: loopback aliases, cloud metadata services, cluster-local and
// reserved domains, and wildcard-DNS and out-of-band interaction services
// (10.0.0.1.nip.io, 7f000001.nip.io and *.oastify.com exist for testing or
// exfiltration; in a URL handed to a server they are an SSRF probe whatever
// they embed).
var internalSuffixes = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{
		"localhost", "metadata", "metadata.google.internal", "instance-data", "localtest.me",
		"metadata.azure.internal", "kubernetes.default", "ip6-localhost", "ip6-loopback", "lvh.me",
		"vcap.me", "0", "rancher-metadata", "metadata.packet.net", "metadata.tencentyun.com",
		"instance-data.ec2.internal", "metadata.platformequinix.com",
		"internal", "localdomain", "svc.cluster.local",
		"nip.io", "xip.io", "sslip.io", "burpcollaborator.net", "oastify.com", "interact.sh", "oast.pro",
		"oast.live", "oast.site", "oast.online", "oast.fun", "oast.me", "requestbin.net", "dnslog.cn",
		"1u.ms", "rbndr.us",
	} {
		m[n] = true
	}
	return m
}()

func internalHost(hb []byte) bool {
	hb = bytes.TrimSuffix(hb, []byte("."))
	if len(hb) == 0 || len(hb) > 255 {
		return false
	}
	h := unsafeString(hb) // not retained
	// The host itself, then each suffix after a dot: a few map lookups.
	for rest := h; ; {
		if internalSuffixes[rest] {
			return true
		}
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	// A name ending in a dotted address ("example.com.127.0.0.1") is read
	// as that address by lenient resolvers.
	if tail, ok := lastLabels(h, 4); ok {
		if a, ok := parseIPv4Loose(tail); ok {
			return internalAddr(a)
		}
	}
	if a, ok := parseIPv4Loose(h); ok {
		return internalAddr(a)
	}
	if strings.Contains(h, ":") {
		if i := strings.IndexByte(h, '%'); i >= 0 {
			h = h[:i] // zone
		}
		if a, err := netip.ParseAddr(h); err == nil {
			return internalAddr(a)
		}
	}
	return false
}

// disguisedIPv4 reports whether h parses as an IPv4 address the lenient
// way but is not written as four plain decimal parts.
func disguisedIPv4(h []byte) bool {
	h = bytes.TrimSuffix(h, []byte("."))
	if _, ok := parseIPv4Loose(unsafeString(h)); !ok {
		return false
	}
	if bytes.Count(h, []byte(".")) != 3 {
		return true
	}
	for rest := h; len(rest) > 0; {
		p, r, _ := bytes.Cut(rest, []byte("."))
		if len(p) > 1 && p[0] == '0' || len(p) > 3 {
			return true // octal, hex or padded
		}
		rest = r
	}
	return false
}

// lastLabels returns the last n dot-separated labels of h when h has more
// than n of them.
func lastLabels(h string, n int) (string, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == '.' {
			if n--; n == 0 {
				return h[i+1:], true
			}
		}
	}
	return "", false
}

// parseIPv4Loose parses an IPv4 address the way inet_aton does: one to four
// dot-separated parts, each decimal, octal (leading 0) or hex (0x), the last
// part filling the remaining bytes ("127.1", "2130706433", "0x7f.1").
func parseIPv4Loose(h string) (netip.Addr, bool) {
	if h == "" || !(h[0] >= '0' && h[0] <= '9') {
		return netip.Addr{}, false
	}
	var partsBuf [4]string
	nparts := 0
	for rest := h; ; {
		if nparts == len(partsBuf) {
			return netip.Addr{}, false // more than four parts
		}
		p, r, more := strings.Cut(rest, ".")
		partsBuf[nparts] = p
		nparts++
		if !more {
			break
		}
		rest = r
	}
	parts := partsBuf[:nparts]
	var vals [4]uint64
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
			if len(p) > 8 && len(parts) == 1 {
				p = p[len(p)-8:] // some parsers keep the low 32 bits of an overlong hex number
			}
		case strings.HasPrefix(p, "0o"):
			base, p = 8, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if base == 10 && len(parts) == 1 && len(p) > 10 {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(p, base, 64)
		if err == nil && len(parts) == 1 && n > 0xffffffff {
			n &= 0xffffffff // some parsers wrap an oversized number modulo 2^32
		}
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = n
	}
	var ip uint64
	switch len(parts) {
	case 1:
		ip = vals[0]
	case 2:
		if vals[0] > 255 || vals[1] > 0xffffff {
			return netip.Addr{}, false
		}
		ip = vals[0]<<24 | vals[1]
	case 3:
		if vals[0] > 255 || vals[1] > 255 || vals[2] > 0xffff {
			return netip.Addr{}, false
		}
		ip = vals[0]<<24 | vals[1]<<16 | vals[2]
	case 4:
		for _, x := range vals {
			if x > 255 {
				return netip.Addr{}, false
			}
		}
		ip = vals[0]<<24 | vals[1]<<16 | vals[2]<<8 | vals[3]
	}
	if ip > 0xffffffff {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// internalAddr reports loopback, private, link-local, CGNAT, unspecified,
// "this network" and cloud metadata addresses, looking through IPv4-mapped,
// IPv4-compatible and NAT64 IPv6 forms.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		var zero [12]byte
		switch {
		case [12]byte(b[:12]) == zero && !a.IsLoopback() && !a.IsUnspecified():
			a = netip.AddrFrom4([4]byte(b[12:]))
		case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b:
			a = netip.AddrFrom4([4]byte(b[12:]))
		}
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0, // "this network"
			b[0] == 100 && b[1]&0xc0 == 64,                               // CGNAT, Alibaba metadata 100.100.100.200
			b == [4]byte{192, 0, 0, 192}, b[0] == 198 && b[1]&0xfe == 18: // Oracle metadata, benchmarking nets
			return true
		}
		return false
	}
	// Outside 2000::/3 (global unicast) every IPv6 address is special-purpose
	// or unassigned: nothing a URL handed to a server should name.
	b := a.As16()
	return b[0]&0xe0 != 0x20
}
