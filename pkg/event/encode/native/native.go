// Package native encodes events in gatewatch's own JSON schema
// (docs/events.md), the default on the events topic. It exists as a package
// so that the native format sits behind the same interface as the SIEM
// formats; the encoding itself is event.AppendJSON.
package native

import (
	"errors"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// Name is the format's configuration name.
const Name = "native"

// Encoder writes docs/events.md JSON.
type Encoder struct{}

// Name returns "native".
func (Encoder) Name() string { return Name }

// ContentType is the same as the CloudEvents content-type header.
func (Encoder) ContentType() string { return event.ContentType }

// Append appends ev's native JSON to dst.
func (Encoder) Append(dst []byte, ev *event.Event) ([]byte, error) {
	if ev == nil {
		return dst, errors.New("native: nil event")
	}
	return ev.AppendJSON(dst), nil
}
