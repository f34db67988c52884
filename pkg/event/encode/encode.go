// Package encode chooses how a gatewatch event is written for its readers.
// Each format is its own package (native, ocsf, ecs, cef) behind one small
// interface, so that the publisher, the syslog forwarder and the tests treat
// every format alike and a new SIEM schema never touches the others.
//
// Every encoder guarantees: the output for one event is one self-contained
// document (JSON object or CEF line) with no trailing newline; no input,
// however hostile, breaks its framing; and encoding is a pure function of
// the event and the encoder's options.
package encode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/cef"
	"github.com/gatewatch/gatewatch/pkg/event/encode/ecs"
	"github.com/gatewatch/gatewatch/pkg/event/encode/native"
	"github.com/gatewatch/gatewatch/pkg/event/encode/ocsf"
)

// Encoder writes events in one format.
type Encoder interface {
	// Name is the format's name in configuration: native, ocsf, ecs or cef.
	Name() string
	// ContentType is the MIME type of one encoded event, for the Kafka
	// content-type header.
	ContentType() string
	// Append appends the encoding of ev to dst. It fails only for a nil
	// event; any content is encodable.
	Append(dst []byte, ev *event.Event) ([]byte, error)
}

// ErrUnknownFormat is returned by ByName for a name it does not know.
var ErrUnknownFormat = errors.New("unknown event format")

// Names lists the formats ByName knows, default first.
var Names = []string{native.Name, ocsf.Name, ecs.Name, cef.Name}

// Options are what the encoders need to know about the running gatewatch.
// The zero value is valid.
type Options struct {
	// ProductVersion is gatewatch's version, written where a format names
	// the producing product (OCSF metadata.product.version, the CEF header's
	// Device Version, ECS observer.version). Default "dev".
	ProductVersion string
}

// ByName returns the encoder for a format name (case-insensitive); the
// empty name is native.
func ByName(name string) (Encoder, error) { return New(name, Options{}) }

// New is ByName with options.
func New(name string, o Options) (Encoder, error) {
	v := o.ProductVersion
	if v == "" {
		v = "dev"
	}
	switch strings.ToLower(name) {
	case "", native.Name:
		return native.Encoder{}, nil
	case ocsf.Name:
		return ocsf.Encoder{ProductVersion: v}, nil
	case ecs.Name:
		return ecs.Encoder{ProductVersion: v}, nil
	case cef.Name:
		return cef.Encoder{ProductVersion: v}, nil
	}
	return nil, fmt.Errorf("encode: format %q: %w (want one of %s)", name, ErrUnknownFormat, strings.Join(Names, ", "))
}
