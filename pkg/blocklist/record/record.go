// Package record is the wire format of the compacted blocklist topic
// (gatewatch.blocklist): what `gwctl alert` and `gwctl block` write and what
// every gateway's guard reads. It is a contract between independently
// deployed processes, so it is small, has no dependencies beyond the standard
// library, and rejects anything it does not understand rather than guessing.
//
// A record's key is its subject ("ip:203.0.113.7", "cidr:203.0.113.0/24",
// "consumer:<id>", "apikey-fp:<fingerprint>"); its value is the JSON
// encoding of Record. A record with a nil value (a tombstone) removes the
// subject from the blocklist; compaction then keeps only the latest record
// per subject, so a guard that reads the topic from the start rebuilds the
// current blocklist.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Subject kinds, the prefix before the colon in a key.
const (
	KindIP       = "ip"
	KindCIDR     = "cidr"
	KindConsumer = "consumer"
	KindAPIKeyFP = "apikey-fp"
)

// Source values: who decided the block.
const (
	SourceAlert    = "alert"
	SourceOperator = "operator"
)

// ErrSubject is returned (wrapped) for a key that is not a valid subject.
var ErrSubject = errors.New("invalid blocklist subject")

// Record is one blocklist entry. Until is when the guard stops enforcing it
// even if no tombstone arrives; the zero time is never written.
type Record struct {
	Subject   string    `json:"subject"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"`
	CreatedBy string    `json:"created_by"`
	AlertID   string    `json:"alert_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Status is the HTTP status a guard answers a blocked request with, 0
	// for the guard's default; Message the short message of its body, ""
	// for the guard's own. Both are written only when set.
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// Active reports whether the block is still in force at now.
func (r Record) Active(now time.Time) bool { return now.Before(r.Until) }

// IP returns the subject for one client address, in canonical form so that
// "::ffff:203.0.113.7" and "203.0.113.7" are one subject.
func IP(addr netip.Addr) string { return KindIP + ":" + addr.Unmap().String() }

// CIDR returns the subject for a network, masked to its prefix.
func CIDR(p netip.Prefix) string {
	return KindCIDR + ":" + netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked().String()
}

func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

// Consumer returns the subject for a Kong consumer id.
func Consumer(id string) string { return KindConsumer + ":" + id }

// APIKeyFingerprint returns the subject for an API key's keyed fingerprint
// (docs/events.md, detail.identity with kind apikey_fingerprint).
func APIKeyFingerprint(fp string) string { return KindAPIKeyFP + ":" + fp }

// ParseSubject splits a key into its kind and value and validates the value:
// an address for ip, a prefix for cidr, a non-empty string without spaces or
// control characters for consumer and apikey-fp.
func ParseSubject(s string) (kind, value string, err error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("%w %q: want <kind>:<value>", ErrSubject, s)
	}
	switch kind {
	case KindIP:
		a, perr := netip.ParseAddr(value)
		if perr != nil {
			return "", "", fmt.Errorf("%w %q: %v", ErrSubject, s, perr)
		}
		if a.Zone() != "" {
			return "", "", fmt.Errorf("%w %q: address has a zone", ErrSubject, s)
		}
	case KindCIDR:
		if _, perr := netip.ParsePrefix(value); perr != nil {
			return "", "", fmt.Errorf("%w %q: %v", ErrSubject, s, perr)
		}
	case KindConsumer, KindAPIKeyFP:
		if value == "" || strings.IndexFunc(value, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return "", "", fmt.Errorf("%w %q: empty or contains spaces or control characters", ErrSubject, s)
		}
	default:
		return "", "", fmt.Errorf("%w %q: unknown kind %q (want ip, cidr, consumer or apikey-fp)", ErrSubject, s, kind)
	}
	return kind, value, nil
}

// Encode returns the Kafka key and value for r. Times are written in UTC with
// second precision (RFC 3339), as the contract says.
func Encode(r Record) (key, value []byte, err error) {
	if _, _, err := ParseSubject(r.Subject); err != nil {
		return nil, nil, fmt.Errorf("blocklist record: subject: %w", err)
	}
	if r.Until.IsZero() {
		return nil, nil, errors.New("blocklist record: until: must be set")
	}
	if r.CreatedAt.IsZero() {
		return nil, nil, errors.New("blocklist record: created_at: must be set")
	}
	value, err = Value(r)
	if err != nil {
		return nil, nil, err
	}
	return []byte(r.Subject), value, nil
}

// Value returns the record value of r, the contract's JSON, without
// checking r (Encode does; a guard re-encoding what it decoded for its
// snapshot need not).
func Value(r Record) ([]byte, error) {
	w := wire{
		Subject:   r.Subject,
		Until:     r.Until.UTC().Format(time.RFC3339),
		Reason:    r.Reason,
		Source:    r.Source,
		CreatedBy: r.CreatedBy,
		AlertID:   r.AlertID,
		CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339),
		Status:    r.Status,
		Message:   r.Message,
	}
	value, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("blocklist record %s: encode: %w", r.Subject, err)
	}
	return value, nil
}

// Tombstone returns the key and nil value that remove subject.
func Tombstone(subject string) (key, value []byte, err error) {
	if _, _, err := ParseSubject(subject); err != nil {
		return nil, nil, fmt.Errorf("blocklist tombstone: %w", err)
	}
	return []byte(subject), nil, nil
}

// Decode parses one record read from the topic. A nil value is a tombstone:
// Decode returns the subject with deleted set and a zero Record. The value's
// subject must equal the key, so that a compacted topic cannot hold a record
// under the wrong subject.
func Decode(key, value []byte) (rec Record, deleted bool, err error) {
	subject := string(key)
	if _, _, err := ParseSubject(subject); err != nil {
		return Record{}, false, fmt.Errorf("blocklist record: key: %w", err)
	}
	if value == nil {
		return Record{Subject: subject}, true, nil
	}
	var w wire
	if err := json.Unmarshal(value, &w); err != nil {
		return Record{}, false, fmt.Errorf("blocklist record %s: value: %w", subject, err)
	}
	if w.Subject != subject {
		return Record{}, false, fmt.Errorf("blocklist record %s: subject: value says %q", subject, w.Subject)
	}
	until, err := time.Parse(time.RFC3339, w.Until)
	if err != nil {
		return Record{}, false, fmt.Errorf("blocklist record %s: until: %w", subject, err)
	}
	created, err := time.Parse(time.RFC3339, w.CreatedAt)
	if err != nil {
		return Record{}, false, fmt.Errorf("blocklist record %s: created_at: %w", subject, err)
	}
	return Record{
		// Encode writes whole seconds; truncating here keeps a decoded
		// record equal to what it encodes to.
		Subject: subject, Until: until.UTC().Truncate(time.Second), Reason: w.Reason, Source: w.Source,
		CreatedBy: w.CreatedBy, AlertID: w.AlertID, CreatedAt: created.UTC().Truncate(time.Second),
		Status: w.Status, Message: w.Message,
	}, false, nil
}

// wire fixes the JSON field order and the time format of the contract.
type wire struct {
	Subject   string `json:"subject"`
	Until     string `json:"until"`
	Reason    string `json:"reason"`
	Source    string `json:"source"`
	CreatedBy string `json:"created_by"`
	AlertID   string `json:"alert_id,omitempty"`
	CreatedAt string `json:"created_at"`
	Status    int    `json:"status,omitempty"`
	Message   string `json:"message,omitempty"`
}
