package detect

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/gatewatch/gatewatch/pkg/detect/normalize"
)

// cleanCache remembers header and cookie values in which no rule matched,
// so that the next request carrying the same value skips its rules. Header
// values repeat across requests far more than parameters do (a gateway sees
// a few hundred distinct User-Agent, Accept-Language, Content-Type or
// consent-cookie values for millions of requests), and the rules are a pure
// function of the value, where it was found and the profile: a cached
// verdict is the verdict the rules would give.
//
// An entry is a 64-bit keyed hash of (location, name, value) and the
// value's length. The key is random per process, so a client cannot craft a
// value that collides with a cached clean one; an accidental collision needs
// the 64-bit hash and the length to agree. Entries are written and read with
// atomics; a read that races a write sees a mismatch (a miss), never a false
// hit, because both words must match. A full table overwrites old entries:
// filling it with junk only costs the flooder speed, never a detection.
type cleanCache struct {
	seed  maphash.Seed
	slots [cacheSlots]cacheSlot
}

type cacheSlot struct{ hash, meta atomic.Uint64 }

const (
	cacheSlots = 1 << 12 // 64 KiB per profile
	// Values shorter than cacheMinBytes cost less to inspect than to hash;
	// longer than cacheMaxBytes they are rarely repeated.
	cacheMinBytes = 24
	cacheMaxBytes = 4 << 10
)

func newCleanCache() *cleanCache { return &cleanCache{seed: maphash.MakeSeed()} }

// cacheable reports whether values of f's kind are worth caching.
func cacheable(f field, n int) bool {
	return n >= cacheMinBytes && n <= cacheMaxBytes &&
		(f.kind == locHeader || f.kind == locProtoHeader || f.kind == locCookie)
}

// cacheKey hashes a value with where it was found and how it is decoded.
func cacheKey[S ~string | ~[]byte](c *cleanCache, f field, o normalize.Options, raw S) (hash, meta uint64) {
	var ob uint64
	if o.Percent {
		ob |= 1
	}
	if o.PlusIsSpace {
		ob |= 2
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(byte(f.kind))
	h.WriteByte(byte(ob))
	h.WriteString(f.name)
	h.WriteByte(0)
	h.WriteString(asString(raw))
	return h.Sum64(), uint64(len(raw))<<16 | uint64(f.kind)<<8 | ob | 1<<63
}

func (c *cleanCache) has(hash, meta uint64) bool {
	s := &c.slots[hash&(cacheSlots-1)]
	return s.hash.Load() == hash && s.meta.Load() == meta
}

func (c *cleanCache) add(hash, meta uint64) {
	s := &c.slots[hash&(cacheSlots-1)]
	s.meta.Store(0) // readers see a miss until both words are written
	s.hash.Store(hash)
	s.meta.Store(meta)
}
