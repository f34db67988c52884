package guard

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/Kong/go-pdk"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The two calls every request makes are decoded here from the protobuf
// wire format rather than through go-pdk's typed results, for two reasons:
//
//   - Evasion: Go's protobuf rejects a string field that is not valid
//     UTF-8, so go-pdk's GetVar and GetHeaders fail on a request line or a
//     header value holding a raw 0xff byte, which nginx passes through. A
//     guard that fails open on a decode error would then let exactly the
//     requests an attacker crafted for it through. Here bytes are bytes.
//   - Cost: go-pdk's GetHeaders decodes into a structpb.Struct, converts it
//     with AsMap into map[string]any and that into map[string][]string:
//     about fifteen allocations per header. Here it is one for the frame.
//
// The reply is read into an Empty message, whose unknown fields keep the
// raw bytes, and walked with protowire.

// Header is one request header as Kong returned it (lower-case name).
type Header struct{ Name, Value string }

// askRaw makes one PDK call and returns the reply's raw protobuf bytes.
func askRaw(kong *pdk.PDK, method string, args proto.Message) ([]byte, error) {
	var out emptypb.Empty
	if err := kong.Request.Ask(method, args, &out); err != nil {
		return nil, err
	}
	return out.ProtoReflect().GetUnknown(), nil
}

// errWire is returned for a reply that is not the expected message.
var errWire = errors.New("guard: malformed PDK reply")

// bytesString returns a string sharing b's memory. b is a reply buffer the
// guard owns and never writes to, so the strings cut from it stay valid.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// decodeString decodes kong_plugin_protocol.String{v = 1} without UTF-8
// validation. An empty message is the empty string (Kong's nil).
func decodeString(b []byte) (string, error) {
	var v string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			s, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return "", fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
			}
			v = bytesString(s)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return "", fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return v, nil
}

// decodeHeaders decodes the google.protobuf.Struct Kong returns for
// kong.request.get_headers: a map from name to a Value holding either a
// string or a list of strings (a repeated header), appending one Header per
// value to dst. Values of other kinds (Kong never sends them) are skipped.
func decodeHeaders(b []byte, dst []Header) ([]Header, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType { // Struct.fields = 1
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
			}
			b = b[m:]
			continue
		}
		entry, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
		var err error
		if dst, err = decodeHeaderEntry(entry, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// decodeHeaderEntry decodes one map entry {key = 1; Value value = 2}.
func decodeHeaderEntry(b []byte, dst []Header) ([]Header, error) {
	var name string
	var value []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
			}
			b = b[m:]
			if num == 1 {
				name = bytesString(v)
			} else {
				value = v
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return appendValueStrings(value, name, dst, true)
}

// appendValueStrings appends the string(s) of a google.protobuf.Value:
// string_value = 3, or, at the top level only, list_value = 6 whose
// ListValue.values = 1 are Values.
func appendValueStrings(b []byte, name string, dst []Header, top bool) ([]Header, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == 3 || num == 6 && top) {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
			}
			b = b[m:]
			if num == 3 {
				dst = append(dst, Header{Name: name, Value: bytesString(v)})
				continue
			}
			var err error
			if dst, err = appendListStrings(v, name, dst); err != nil {
				return dst, err
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return dst, nil
}

// appendListStrings walks ListValue{repeated Value values = 1}.
func appendListStrings(b []byte, name string, dst []Header) ([]Header, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
			}
			b = b[m:]
			var err error
			if dst, err = appendValueStrings(v, name, dst, false); err != nil {
				return dst, err
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return dst, fmt.Errorf("%w: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return dst, nil
}
