// Package blocklist is the containment list every gatewatch-guard enforces:
// exact client IPs, CIDRs, Kong consumers and API-key fingerprints that an
// alert rule or an operator has blocked until a given time.
//
// It has three parts. Matcher is an immutable, lock-free lookup structure
// built from entries; List holds the current Matcher behind an atomic
// pointer and swaps in a new one (copy-on-write) when entries change, so the
// guard's access handler never waits for a writer. Follower keeps a List in
// step with the compacted Kafka topic gatewatch.blocklist and with a local
// snapshot file, so a gateway that cannot reach Kafka, even across a restart,
// keeps enforcing what it last knew.
//
// Guarantees: Match never allocates and never blocks; an entry stops
// matching at its Until time without any message; a record this package
// cannot decode is never half-applied.
package blocklist

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

// Kind is a set of subject kinds, one bit each. An Entry has exactly one;
// Matcher.Kinds reports the union over its entries so the guard can skip
// reading the client IP or the consumer when no entry could match on it.
type Kind uint8

// Subject kinds.
const (
	KindIP       Kind = 1 << iota // ip:<addr>
	KindCIDR                      // cidr:<net>
	KindConsumer                  // consumer:<id>
	KindAPIKeyFP                  // apikey-fp:<fingerprint>
)

// NeedsClientIP reports whether any IP or CIDR entry exists, i.e. whether
// the guard must fetch the client address before calling Match.
func (k Kind) NeedsClientIP() bool { return k&(KindIP|KindCIDR) != 0 }

// NeedsConsumer reports whether any consumer entry exists.
func (k Kind) NeedsConsumer() bool { return k&KindConsumer != 0 }

// NeedsAPIKeyFP reports whether any API-key fingerprint entry exists.
func (k Kind) NeedsAPIKeyFP() bool { return k&KindAPIKeyFP != 0 }

func (k Kind) String() string {
	switch k {
	case KindIP:
		return record.KindIP
	case KindCIDR:
		return record.KindCIDR
	case KindConsumer:
		return record.KindConsumer
	case KindAPIKeyFP:
		return record.KindAPIKeyFP
	}
	return fmt.Sprintf("kinds(%#x)", uint8(k))
}

// DefaultStatus is what a blocked request is answered with when the record
// names no status.
const DefaultStatus = http.StatusForbidden

// Entry is one active block, as the guard needs it to answer a request and
// to report the denial.
type Entry struct {
	Subject   string // the record's key, e.g. "ip:203.0.113.7"
	Kind      Kind
	Until     time.Time // the entry stops matching at this instant
	Reason    string
	Source    string // "alert" or "operator"
	CreatedBy string
	AlertID   string
	CreatedAt time.Time
	Status    int    // HTTP status for the blocked request; DefaultStatus unless the record says otherwise
	Message   string // short message for the client; empty means the guard's own
}

// Active reports whether e still blocks at now.
func (e Entry) Active(now time.Time) bool { return now.Before(e.Until) }

// untilNanos is Until as Unix nanoseconds, saturated so that a far-future
// Until (beyond 2262) still compares as later than any now.
func (e Entry) untilNanos() int64 {
	if e.Until.After(maxNanosTime) {
		return math.MaxInt64
	}
	if e.Until.Before(minNanosTime) {
		return math.MinInt64
	}
	return e.Until.UnixNano()
}

var (
	maxNanosTime = time.Unix(0, math.MaxInt64)
	minNanosTime = time.Unix(0, math.MinInt64)
)

// nowNanos converts a lookup time the same way untilNanos converts Until.
func nowNanos(now time.Time) int64 {
	return Entry{Until: now}.untilNanos()
}

// Change is one record of the topic, decoded: an entry to set, or with
// Deleted set, the removal of Subject.
type Change struct {
	Subject string
	Deleted bool
	Entry   Entry // zero when Deleted
}

// extras are the optional fields of the record value that package record
// does not carry: the answer the guard gives a blocked request.
type extras struct {
	Status *int `json:"status"` // present or not: record.Record says 0 for both
}

// maxMessage bounds the client-facing message; it goes into every blocked
// response body, so a runaway writer must not make it large.
const maxMessage = 512

// DecodeRecord decodes one Kafka record of the blocklist topic. A nil value
// is a tombstone. Validation (the subject, the value's subject equal to the
// key, RFC 3339 times) is package record's; this adds the optional status,
// which must be an HTTP client or server error (400-599), and message.
func DecodeRecord(key, value []byte) (Change, error) {
	rec, deleted, err := record.Decode(key, value)
	if err != nil {
		return Change{}, err
	}
	kind, err := subjectKind(rec.Subject)
	if err != nil {
		return Change{}, err
	}
	if deleted {
		return Change{Subject: rec.Subject, Deleted: true}, nil
	}
	var x extras
	if err := json.Unmarshal(value, &x); err != nil {
		return Change{}, fmt.Errorf("blocklist record %s: value: %w", rec.Subject, err)
	}
	status := DefaultStatus
	if x.Status != nil {
		if *x.Status < 400 || *x.Status > 599 {
			return Change{}, fmt.Errorf("blocklist record %s: status: %d is not an HTTP error status (400-599)", rec.Subject, *x.Status)
		}
		status = *x.Status
	}
	if len(rec.Message) > maxMessage {
		return Change{}, fmt.Errorf("blocklist record %s: message: %d bytes, at most %d", rec.Subject, len(rec.Message), maxMessage)
	}
	return Change{Subject: rec.Subject, Entry: Entry{
		Subject: rec.Subject, Kind: kind, Until: rec.Until,
		Reason: rec.Reason, Source: rec.Source, CreatedBy: rec.CreatedBy, AlertID: rec.AlertID,
		CreatedAt: rec.CreatedAt, Status: status, Message: rec.Message,
	}}, nil
}

// subjectKind validates subject and returns its kind.
func subjectKind(subject string) (Kind, error) {
	kind, _, err := record.ParseSubject(subject)
	if err != nil {
		return 0, fmt.Errorf("blocklist: subject: %w", err)
	}
	switch kind {
	case record.KindIP:
		return KindIP, nil
	case record.KindCIDR:
		return KindCIDR, nil
	case record.KindConsumer:
		return KindConsumer, nil
	default:
		return KindAPIKeyFP, nil
	}
}

// addrKey is the exact-IP map key: the 16-byte form of the unmapped
// address, so 203.0.113.7 and ::ffff:203.0.113.7 are one key and no IPv6
// address collides with an IPv4 one.
type addrKey struct{ hi, lo uint64 }

func keyOf(a netip.Addr) addrKey {
	b := a.Unmap().As16()
	return addrKey{hi: be64(b[:8]), lo: be64(b[8:])}
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// prefixOf parses the value of a cidr subject into the trie's form: an
// IPv4 prefix (also when written IPv4-mapped, ::ffff:a.b.c.d/96+n) or an
// IPv6 one, masked.
func prefixOf(value string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func errEntryMismatch(c Change) error {
	return fmt.Errorf("blocklist: change %s: entry subject %q or kind %v does not match", c.Subject, c.Entry.Subject, c.Entry.Kind)
}
