// Package geo adds where-from context to events: country, region and city
// from a MaxMind-format City (or Country) database and the autonomous system
// from an ASN database — the operator's own GeoLite2 or GeoIP2 files, never
// a download at run time.
//
// Lookups are cached per address in a bounded cache, because a gateway sees
// the same clients again and again and an mmdb lookup with decoding costs
// microseconds. Private, loopback and link-local addresses are never looked
// up.
package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// Info is what the databases know about one address. Zero fields are
// unknown.
type Info struct {
	Country  string // ISO 3166-1 alpha-2
	Region   string // ISO 3166-2 subdivision code, without the country
	City     string // English name
	ASN      uint   // autonomous system number
	ASOrg    string // autonomous system organisation
	hasValue bool
}

// Known reports whether any field is set.
func (i Info) Known() bool { return i.hasValue }

// Resolver answers lookups. It is safe for concurrent use.
type Resolver struct {
	city, asn *maxminddb.Reader

	mu      sync.Mutex
	cache   map[netip.Addr]Info
	maxSize int
}

// DefaultCacheSize bounds the number of cached addresses.
const DefaultCacheSize = 65536

// Open opens the databases; either path may be empty, not both.
func Open(cityPath, asnPath string) (*Resolver, error) {
	if cityPath == "" && asnPath == "" {
		return nil, errors.New("geo: no database configured")
	}
	r := &Resolver{cache: map[netip.Addr]Info{}, maxSize: DefaultCacheSize}
	if cityPath != "" {
		db, err := maxminddb.Open(cityPath)
		if err != nil {
			return nil, fmt.Errorf("geo: city database %s: %w", cityPath, err)
		}
		r.city = db
	}
	if asnPath != "" {
		db, err := maxminddb.Open(asnPath)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("geo: ASN database %s: %w", asnPath, err)
		}
		r.asn = db
	}
	return r, nil
}

// Close releases the databases.
func (r *Resolver) Close() error {
	var errs []error
	if r.city != nil {
		errs = append(errs, r.city.Close())
	}
	if r.asn != nil {
		errs = append(errs, r.asn.Close())
	}
	return errors.Join(errs...)
}

type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"subdivisions"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
}

type asnRecord struct {
	Number uint   `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup returns what the databases say about ip (an address string as
// Kong serializes it). Unparsable and non-public addresses return false.
func (r *Resolver) Lookup(ip string) (Info, bool) {
	if r == nil {
		return Info{}, false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return Info{}, false
	}
	addr = addr.Unmap()
	if addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified() || addr.IsMulticast() {
		return Info{}, false
	}
	r.mu.Lock()
	info, ok := r.cache[addr]
	r.mu.Unlock()
	if ok {
		return info, info.hasValue
	}
	info = r.lookup(addr)
	r.mu.Lock()
	if len(r.cache) >= r.maxSize {
		// Dropping everything is crude but bounded and O(1) amortised;
		// hot clients are back in the cache after one lookup each.
		clear(r.cache)
	}
	r.cache[addr] = info
	r.mu.Unlock()
	return info, info.hasValue
}

func (r *Resolver) lookup(addr netip.Addr) Info {
	var info Info
	if r.city != nil {
		var c cityRecord
		if res := r.city.Lookup(addr); res.Err() == nil && res.Found() {
			if res.Decode(&c) == nil {
				info.Country = c.Country.ISOCode
				if len(c.Subdivisions) > 0 {
					info.Region = c.Subdivisions[0].ISOCode
				}
				info.City = c.City.Names["en"]
			}
		}
	}
	if r.asn != nil {
		var a asnRecord
		if res := r.asn.Lookup(addr); res.Err() == nil && res.Found() {
			if res.Decode(&a) == nil {
				info.ASN, info.ASOrg = a.Number, a.Org
			}
		}
	}
	info.hasValue = info.Country != "" || info.City != "" || info.ASN != 0
	return info
}

// EventLookup adapts a Resolver to classification's lookup interface.
type EventLookup struct{ R *Resolver }

// Lookup returns the event fields for ip.
func (l EventLookup) Lookup(ip string) (event.Geo, *event.AS, bool) {
	info, ok := l.R.Lookup(ip)
	if !ok {
		return event.Geo{}, nil, false
	}
	var as *event.AS
	if info.ASN != 0 {
		as = &event.AS{Number: info.ASN, Organization: info.ASOrg}
	}
	return event.Geo{Country: info.Country, Region: info.Region, City: info.City}, as, true
}
