package guard

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
)

// The request line and headers are read from the wire format by pdkwire,
// not through go-pdk's typed results: a raw 0xff byte must not make the
// guard fail open, and the headers' strings point into the reply frame
// (no allocation per header).

// Header is one request header as Kong returned it (lower-case name).
type Header struct{ Name, Value string }

// decodeHeaders decodes the google.protobuf.Struct Kong returns for
// kong.request.get_headers: a map from name to a Value holding either a
// string or a list of strings (a repeated header), appending one Header per
// value to dst. Values of other kinds (Kong never sends them) are skipped.
func decodeHeaders(b []byte, dst []Header) ([]Header, error) {
	for len(b) > 0 {
		num, typ, entry, rest, err := pdkwire.NextField(b)
		if err != nil {
			return dst, err
		}
		b = rest
		if num == 1 && typ == protowire.BytesType { // Struct.fields = 1
			if dst, err = decodeHeaderEntry(entry, dst); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// decodeHeaderEntry decodes one map entry {key = 1; Value value = 2}.
func decodeHeaderEntry(b []byte, dst []Header) ([]Header, error) {
	var name string
	var value []byte
	for len(b) > 0 {
		num, typ, v, rest, err := pdkwire.NextField(b)
		if err != nil {
			return dst, err
		}
		b = rest
		if typ == protowire.BytesType {
			switch num {
			case 1:
				name = pdkwire.BytesString(v)
			case 2:
				value = v
			}
		}
	}
	return appendValueStrings(value, name, dst, true)
}

// appendValueStrings appends the string(s) of a google.protobuf.Value:
// string_value = 3, or, at the top level only, list_value = 6 whose
// ListValue.values = 1 are Values.
func appendValueStrings(b []byte, name string, dst []Header, top bool) ([]Header, error) {
	for len(b) > 0 {
		num, typ, v, rest, err := pdkwire.NextField(b)
		if err != nil {
			return dst, err
		}
		b = rest
		if typ != protowire.BytesType {
			continue
		}
		switch {
		case num == 3:
			dst = append(dst, Header{Name: name, Value: pdkwire.BytesString(v)})
		case num == 6 && top:
			if dst, err = appendListStrings(v, name, dst); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// appendListStrings walks ListValue{repeated Value values = 1}.
func appendListStrings(b []byte, name string, dst []Header) ([]Header, error) {
	for len(b) > 0 {
		num, typ, v, rest, err := pdkwire.NextField(b)
		if err != nil {
			return dst, err
		}
		b = rest
		if num == 1 && typ == protowire.BytesType {
			if dst, err = appendValueStrings(v, name, dst, false); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// Kinds of kong_plugin_protocol.RawBodyResult, by field number.
const (
	bodyNone     = 0
	bodyContent  = 1 // bytes content
	bodyFilepath = 2 // string body_filepath
	bodyError    = 3 // string error
)

// decodeRawBody decodes RawBodyResult{oneof kind {bytes content = 1;
// string body_filepath = 2; string error = 3}}: which one is set (the last
// one on the wire, as protobuf has it for a oneof) and its bytes, which
// share b's memory. An empty message is bodyNone.
func decodeRawBody(b []byte) (kind int, v []byte, err error) {
	for len(b) > 0 {
		num, typ, val, rest, err := pdkwire.NextField(b)
		if err != nil {
			return bodyNone, nil, err
		}
		b = rest
		if typ == protowire.BytesType && num >= bodyContent && num <= bodyError {
			kind, v = int(num), val
		}
	}
	return kind, v, nil
}
