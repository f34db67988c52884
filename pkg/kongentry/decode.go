package kongentry

import (
	"fmt"
	"strconv"
	"unsafe"
)

// maxRetained is the largest document copy or arena an Entry keeps for
// the next Decode; a rare huge entry should not pin its buffers in a pool.
const maxRetained = 64 << 10

// Decode parses one serialized entry into e, reusing e's slices and
// buffers. Strings in e point into e's copy of data or into e's arena, so e
// is valid until the next Decode into it; in steady state (a reused Entry,
// documents of similar size) it does not allocate.
func Decode(data []byte, e *Entry) error {
	doc := append(e.doc[:0], data...)
	err := DecodeString(unsafe.String(unsafe.SliceData(doc), len(doc)), e)
	e.doc = retain(doc)
	return err
}

// DecodeString is Decode for the string kong.log.serialize returns over the
// PDK; it does not copy the document.
func DecodeString(data string, e *Entry) error {
	reqH, respH, tries := e.Request.Headers[:0], e.Response.Headers[:0], e.Tries.List[:0]
	doc, arena := e.doc, e.arena
	*e = Entry{}
	e.Request.Headers, e.Response.Headers, e.Tries.List = reqH, respH, tries
	e.doc = doc

	sc := scanner{s: data, arena: arena[:0]}
	err := sc.entry(e)
	e.arena = retain(sc.arena)
	return err
}

// retain returns b to keep for reuse, or nil when it is too big to keep.
func retain(b []byte) []byte {
	if cap(b) > maxRetained {
		return nil
	}
	return b
}

func (sc *scanner) entry(e *Entry) error {
	n := 0
	for {
		key, ok := sc.next(&n)
		if !ok {
			break
		}
		switch key {
		case "request":
			sc.request(&e.Request)
		case "upstream_uri":
			e.UpstreamURI = sc.scalar()
		case "upstream_status":
			e.UpstreamStatus = sc.upstreamStatus()
		case "response":
			sc.response(&e.Response)
		case "latencies":
			sc.latencies(&e.Latencies)
		case "tries":
			sc.tries(&e.Tries)
		case "authenticated_entity":
			if !sc.isNull() {
				a := &e.Authenticated
				*a = AuthenticatedEntity{Present: true}
				sc.fields(func(k string) bool {
					switch k {
					case "id":
						a.ID = sc.scalar()
					case "consumer_id":
						a.ConsumerID = sc.scalar()
					default:
						return false
					}
					return true
				})
			}
		case "route":
			if !sc.isNull() {
				sc.entity(&e.Route)
			}
		case "service":
			if !sc.isNull() {
				sc.entity(&e.Service)
			}
		case "consumer":
			if !sc.isNull() {
				c := &e.Consumer
				*c = Consumer{Present: true}
				sc.fields(func(k string) bool {
					switch k {
					case "id":
						c.ID = sc.scalar()
					case "username":
						c.Username = sc.scalar()
					case "custom_id":
						c.CustomID = sc.scalar()
					default:
						return false
					}
					return true
				})
			}
		case "client_ip":
			e.ClientIP = sc.scalar()
		case "started_at":
			e.StartedAt = sc.num()
		case "source":
			e.Source = sc.scalar()
		case "workspace":
			e.Workspace = sc.scalar()
		case "workspace_name":
			e.WorkspaceName = sc.scalar()
		case "gatewatch":
			if !sc.isNull() {
				e.Gatewatch = sc.raw()
			}
		default:
			sc.skip()
		}
	}
	if sc.err == nil {
		if sc.peek() != 0 {
			sc.fail("trailing data")
		}
	}
	if sc.err != nil {
		return fmt.Errorf("kongentry: %w", sc.err)
	}
	if e.Response.Status == 0 {
		return fmt.Errorf("kongentry: response.status missing or zero")
	}
	return nil
}

// fields walks an object, handing each key to fn; fn reads the value and
// returns true, or returns false to have it skipped.
func (sc *scanner) fields(fn func(key string) bool) {
	n := 0
	for {
		key, ok := sc.next(&n)
		if !ok {
			return
		}
		if !fn(key) {
			sc.skip()
		}
	}
}

func (sc *scanner) request(r *Request) {
	sc.fields(func(key string) bool {
		switch key {
		case "id":
			r.ID = sc.scalar()
		case "uri":
			r.URI = sc.scalar()
		case "url":
			r.URL = sc.scalar()
		case "method":
			r.Method = sc.scalar()
		case "headers":
			r.Headers = sc.headers(r.Headers)
		case "size":
			r.Size = sc.num()
		default:
			return false
		}
		return true
	})
}

func (sc *scanner) response(r *Response) {
	sc.fields(func(key string) bool {
		switch key {
		case "status":
			f := sc.num()
			if f != float64(int(f)) {
				sc.fail("response.status: not an integer")
			}
			r.Status = int(f)
		case "headers":
			r.Headers = sc.headers(r.Headers)
		case "size":
			r.Size = sc.num()
		default:
			return false
		}
		return true
	})
}

func (sc *scanner) latencies(l *Latencies) {
	sc.fields(func(key string) bool {
		switch key {
		case "kong":
			l.Kong = sc.num()
		case "proxy":
			l.Proxy = sc.num()
		case "request":
			l.Request = sc.num()
		case "receive":
			l.Receive = sc.num()
		default:
			return false
		}
		return true
	})
}

// headers reads a header table: values are strings, arrays of strings for
// repeated headers, or booleans.
func (sc *scanner) headers(dst Headers) Headers {
	if sc.isNull() {
		return dst
	}
	if sc.peek() == '[' { // cjson's encoding of an empty table can be []
		n := 0
		for sc.nextElem(&n) {
			sc.fail("headers: expected an object")
		}
		return dst
	}
	n := 0
	for {
		name, ok := sc.next(&n)
		if !ok {
			return dst
		}
		if sc.peek() == '[' {
			m := 0
			for sc.nextElem(&m) {
				dst = append(dst, Header{Name: name, Value: sc.scalar()})
			}
			continue
		}
		if c := sc.peek(); c == '{' {
			sc.fail("headers.%s: unexpected object", name)
			return dst
		}
		dst = append(dst, Header{Name: name, Value: sc.scalar()})
	}
}

func (sc *scanner) upstreamStatus() UpstreamStatus {
	if sc.peek() == '"' {
		return UpstreamStatus(sc.str())
	}
	if sc.isNull() {
		return ""
	}
	sc.ws()
	start := sc.i
	f := sc.num()
	if text := sc.s[start:sc.i]; isCanonicalInt(text) {
		return UpstreamStatus(text) // what strconv.Itoa would write, without allocating
	}
	return UpstreamStatus(strconv.Itoa(int(f)))
}

// isCanonicalInt reports whether s is an integer as strconv.Itoa writes it
// (no plus sign, no leading zeros, no "-0") and small enough that num read
// it exactly.
func isCanonicalInt(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
		if s == "0" {
			return false
		}
	}
	if len(s) == 0 || len(s) > 15 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (sc *scanner) tries(t *Tries) {
	if sc.isNull() {
		return
	}
	t.Present = true
	if sc.peek() == '{' { // cjson encodes an empty Lua table as {}
		sc.skip()
		return
	}
	n := 0
	for sc.nextElem(&n) {
		var tr Try
		sc.fields(func(k string) bool {
			switch k {
			case "ip":
				tr.IP = sc.scalar()
			case "port":
				tr.Port = int(sc.num())
			case "state":
				tr.State = sc.scalar()
			case "code":
				tr.Code = int(sc.num())
			default:
				return false
			}
			return true
		})
		t.List = append(t.List, tr)
	}
}

func (sc *scanner) entity(en *Entity) {
	*en = Entity{Present: true}
	sc.fields(func(k string) bool {
		switch k {
		case "id":
			en.ID = sc.scalar()
		case "name":
			en.Name = sc.scalar()
		default:
			return false
		}
		return true
	})
}
