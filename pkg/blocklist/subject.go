package blocklist

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

// ParseTarget turns what an operator or a rule names as a target into the
// canonical subject of a record: a bare address ("203.0.113.7",
// "2001:db8::1", "::ffff:203.0.113.7" → "ip:203.0.113.7"), a bare network
// ("203.0.113.0/24" → "cidr:203.0.113.0/24"), or an explicit
// "ip:", "cidr:", "consumer:" or "apikey-fp:" subject. Canonical means one
// spelling per target, so that remove finds what add wrote. A network with
// host bits set is refused rather than widened: "203.0.113.7/24" is more
// likely a typo than a request to block 256 addresses. Errors quote arg.
func ParseTarget(arg string) (string, error) {
	kind, value, explicit := strings.Cut(arg, ":")
	if explicit {
		switch kind {
		case record.KindIP:
			return canonicalIP(arg, value)
		case record.KindCIDR:
			return canonicalCIDR(arg, value)
		case record.KindConsumer, record.KindAPIKeyFP:
			if _, _, err := record.ParseSubject(arg); err != nil {
				return "", err
			}
			return arg, nil
		}
	}
	if _, err := netip.ParseAddr(arg); err == nil {
		return canonicalIP(arg, arg)
	}
	if strings.Contains(arg, "/") {
		return canonicalCIDR(arg, arg)
	}
	if arg != "" && strings.Trim(arg, "0123456789abcdefABCDEF.:%") == "" {
		return canonicalIP(arg, arg)
	}
	return "", fmt.Errorf("%w %q: not an IP address, a CIDR or a <kind>:<value> subject (kinds: ip, cidr, consumer, apikey-fp)", record.ErrSubject, arg)
}

func canonicalIP(arg, value string) (string, error) {
	a, err := netip.ParseAddr(value)
	if err != nil {
		return "", fmt.Errorf("%w: bad IP address %q: %v", record.ErrSubject, arg, err)
	}
	if a.Zone() != "" {
		return "", fmt.Errorf("%w: bad IP address %q: a zone (%%%s) names a local interface, not a client", record.ErrSubject, arg, a.Zone())
	}
	return record.KindIP + ":" + a.Unmap().String(), nil
}

func canonicalCIDR(arg, value string) (string, error) {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return "", fmt.Errorf("%w: bad CIDR %q: %v", record.ErrSubject, arg, err)
	}
	if p.Masked() != p {
		return "", fmt.Errorf("%w: bad CIDR %q: host bits are set (the network is %s)", record.ErrSubject, arg, p.Masked())
	}
	q, err := prefixOf(value)
	if err != nil { // prefixOf parses what ParsePrefix just accepted
		return "", fmt.Errorf("%w: bad CIDR %q: %v", record.ErrSubject, arg, err)
	}
	return record.KindCIDR + ":" + q.String(), nil
}

// KindOf returns the kind of a valid subject.
func KindOf(subject string) (Kind, error) { return subjectKind(subject) }
