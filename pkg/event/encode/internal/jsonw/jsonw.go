// Package jsonw appends nested JSON objects to a byte slice without
// reflection, for the OCSF and ECS encoders. It tracks only where commas go;
// the caller is responsible for balancing Open and Close. Strings are
// escaped by event.AppendString, so the output is always valid UTF-8 JSON.
package jsonw

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// maxDepth bounds nesting; the encoders never go deeper than 6.
const maxDepth = 16

// W appends one JSON document to B.
type W struct {
	B     []byte
	depth int
	n     [maxDepth]int // members written at each open level
}

// New starts a writer appending to b.
func New(b []byte) W { return W{B: b} }

func (w *W) key(k string) {
	if w.depth > 0 {
		i := min(w.depth, maxDepth) - 1 // beyond maxDepth commas may be wrong, never a panic
		if w.n[i] > 0 {
			w.B = append(w.B, ',')
		}
		w.n[i]++
	}
	if k != "" {
		w.B = append(w.B, '"')
		w.B = append(w.B, k...)
		w.B = append(w.B, '"', ':')
	}
}

func (w *W) push(c byte) {
	w.B = append(w.B, c)
	if w.depth < maxDepth {
		w.n[w.depth] = 0
	}
	w.depth++
}

// Open starts an object, as member k of the enclosing object, or as an
// array element or the root when k is empty.
func (w *W) Open(k string) { w.key(k); w.push('{') }

// Close ends the innermost object.
func (w *W) Close() { w.depth--; w.B = append(w.B, '}') }

// OpenArray starts an array member.
func (w *W) OpenArray(k string) { w.key(k); w.push('[') }

// CloseArray ends the innermost array.
func (w *W) CloseArray() { w.depth--; w.B = append(w.B, ']') }

// Str writes a string member, leaving it out when v is empty.
func (w *W) Str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.B = event.AppendString(w.B, v)
}

// Int writes an integer member.
func (w *W) Int(k string, v int64) {
	w.key(k)
	w.B = strconv.AppendInt(w.B, v, 10)
}

// Float writes a number member in the shortest form that round-trips;
// NaN and infinities, which JSON cannot hold, are written as null.
func (w *W) Float(k string, v float64) {
	w.key(k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		w.B = append(w.B, "null"...)
		return
	}
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		w.B = strconv.AppendInt(w.B, int64(v), 10)
		return
	}
	w.B = strconv.AppendFloat(w.B, v, 'f', -1, 64)
}

// Time writes an RFC 3339 UTC timestamp with nanoseconds as needed.
func (w *W) Time(k string, t time.Time) {
	w.key(k)
	w.B = append(w.B, '"')
	w.B = t.UTC().AppendFormat(w.B, time.RFC3339Nano)
	w.B = append(w.B, '"')
}

// Bool writes a boolean member.
func (w *W) Bool(k string, v bool) {
	w.key(k)
	w.B = strconv.AppendBool(w.B, v)
}

// Strs writes an array of strings; an empty list is left out.
func (w *W) Strs(k string, vs ...string) {
	if len(vs) == 0 {
		return
	}
	w.key(k)
	w.B = append(w.B, '[')
	for i, v := range vs {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.B = event.AppendString(w.B, v)
	}
	w.B = append(w.B, ']')
}

// Join writes a string member made of a, sep and b, as if concatenated,
// without building the string; sep is left out when b is empty.
func (w *W) Join(k, a, sep, b string) {
	if b == "" {
		w.Str(k, a)
		return
	}
	w.key(k)
	w.B = append(w.B, '"')
	w.B = appendInner(w.B, a)
	w.B = appendInner(w.B, sep)
	w.B = appendInner(w.B, b)
	w.B = append(w.B, '"')
}

// appendInner appends s escaped as inside a JSON string, without quotes.
func appendInner(b []byte, s string) []byte {
	i := len(b)
	b = event.AppendString(b, s)
	n := copy(b[i:], b[i+1:len(b)-1])
	return b[:i+n]
}

// detailMarker precedes the detail object in a native encoding. It cannot
// occur inside a JSON string, where quotes are escaped.
const detailMarker = `,"detail":`

// Detail writes the event's type-specific detail exactly as the native
// encoding does, so that the formats never disagree about it. It encodes
// a detail-only event in place and keeps the detail object, its tail.
func (w *W) Detail(k string, d *event.Detail) {
	w.key(k)
	start := len(w.B)
	one := event.Event{Detail: *d}
	w.B = one.AppendJSON(w.B)
	full := w.B[start:]
	at := bytes.LastIndex(full, []byte(detailMarker))
	if at < 0 {
		w.B = append(w.B[:start], '{', '}')
		return
	}
	n := copy(w.B[start:], full[at+len(detailMarker):len(full)-1])
	w.B = w.B[:start+n]
}
