package event

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"
)

// IDGen makes event ids: UUID version 7 (RFC 9562), time-ordered so that
// ids sort roughly by creation, with 74 random bits so that ids from many
// gateways never collide. It is safe for concurrent use.
type IDGen struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
}

// NewIDGen seeds a generator from the operating system's random source.
func NewIDGen() *IDGen {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+
		// crashes the program rather than return an error).
		panic("event: no system randomness: " + err.Error())
	}
	return &IDGen{rng: rand.NewChaCha8(seed)}
}

// New returns a fresh id for an event created at now.
func (g *IDGen) New(now time.Time) string {
	var u [16]byte
	g.mu.Lock()
	r1 := g.rng.Uint64()
	r2 := g.rng.Uint64()
	g.mu.Unlock()
	ms := uint64(now.UnixMilli())
	u[0] = byte(ms >> 40)
	u[1] = byte(ms >> 32)
	u[2] = byte(ms >> 24)
	u[3] = byte(ms >> 16)
	u[4] = byte(ms >> 8)
	u[5] = byte(ms)
	binary.BigEndian.PutUint16(u[6:8], uint16(r1)&0x0fff|0x7000) // version 7
	binary.BigEndian.PutUint64(u[8:16], r2&0x3fffffffffffffff|0x8000000000000000)
	var s [36]byte
	hexEncode(s[0:8], u[0:4])
	s[8] = '-'
	hexEncode(s[9:13], u[4:6])
	s[13] = '-'
	hexEncode(s[14:18], u[6:8])
	s[18] = '-'
	hexEncode(s[19:23], u[8:10])
	s[23] = '-'
	hexEncode(s[24:36], u[10:16])
	return string(s[:])
}

func hexEncode(dst, src []byte) {
	for i, c := range src {
		dst[2*i] = hexDigits[c>>4]
		dst[2*i+1] = hexDigits[c&0xF]
	}
}
