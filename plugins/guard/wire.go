package guard

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/Kong/go-pdk"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// The PDK replies the guard reads are decoded here from the protobuf wire
// format rather than through go-pdk's typed results, for two reasons:
//
//   - Evasion: Go's protobuf rejects a string field that is not valid
//     UTF-8, so go-pdk's GetVar and GetHeaders fail on a request line or a
//     header value holding a raw 0xff byte, which nginx passes through. A
//     guard that fails open on a decode error would then let exactly the
//     requests an attacker crafted for it through. Here bytes are bytes.
//   - Cost: go-pdk's GetHeaders decodes into a structpb.Struct, converts it
//     with AsMap into map[string]any and that into map[string][]string:
//     about fifteen allocations per header. Here there are none: the
//     strings point into the reply frame.
//
// go-pdk hands a reply frame to proto.Unmarshal, which passes it to the
// Unmarshal method of a message that has one (the protobuf v1 API, adapted
// by protoadapt): rawReply keeps the frame itself, without parsing or
// copying it. go-pdk reads every frame into a new buffer and never touches
// it again (TestRepliesStayValidAcrossCalls), so the guard owns it.

// Header is one request header as Kong returned it (lower-case name).
type Header struct{ Name, Value string }

// rawReply receives a PDK reply's bytes as they are.
type rawReply struct{ b []byte }

func (r *rawReply) Reset()                   { r.b = nil }
func (r *rawReply) String() string           { return "guard.rawReply" }
func (r *rawReply) ProtoMessage()            {}
func (r *rawReply) Unmarshal(b []byte) error { r.b = b; return nil }

// replies receives the replies of one request's PDK calls, one after the
// other; its protobuf view is made once, not per call.
type replies struct {
	raw rawReply
	msg proto.Message // protoadapt.MessageV2Of(&raw)
}

func newReplies() *replies {
	r := &replies{}
	r.msg = protoadapt.MessageV2Of(&r.raw)
	return r
}

// ask makes one PDK call and returns the reply's raw protobuf bytes.
func (r *replies) ask(kong *pdk.PDK, method string, args proto.Message) ([]byte, error) {
	r.raw.b = nil
	err := kong.Request.Ask(method, args, r.msg)
	b := r.raw.b
	r.raw.b = nil
	return b, err
}

// errWire is returned for a reply that is not the expected message.
var errWire = errors.New("guard: malformed PDK reply")

// bytesString returns a string sharing b's memory. b is a reply frame the
// guard owns and never writes to, so the strings cut from it stay valid.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// nextField consumes the first field of a message: its number and wire
// type, and for a length-delimited field its bytes (nil for other types).
// Nearly every field of a reply has a one-byte tag and, for strings up to
// 127 bytes, a one-byte length; those take the short way.
func nextField(b []byte) (num protowire.Number, typ protowire.Type, val, rest []byte, err error) {
	if len(b) >= 2 && b[0] >= 1<<3 && b[0] < 0x80 && b[0]&7 == byte(protowire.BytesType) && b[1] < 0x80 {
		if n := int(b[1]); n <= len(b)-2 {
			return protowire.Number(b[0] >> 3), protowire.BytesType, b[2 : 2+n], b[2+n:], nil
		}
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
	}
	b = b[n:]
	if typ == protowire.BytesType {
		val, n = protowire.ConsumeBytes(b)
	} else {
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
	}
	return num, typ, val, b[n:], nil
}

// decodeString decodes kong_plugin_protocol.String{v = 1} without UTF-8
// validation. An empty message is the empty string (Kong's nil).
func decodeString(b []byte) (string, error) {
	var v string
	for len(b) > 0 {
		num, typ, val, rest, err := nextField(b)
		if err != nil {
			return "", err
		}
		if num == 1 && typ == protowire.BytesType {
			v = bytesString(val)
		}
		b = rest
	}
	return v, nil
}

// decodeHeaders decodes the google.protobuf.Struct Kong returns for
// kong.request.get_headers: a map from name to a Value holding either a
// string or a list of strings (a repeated header), appending one Header per
// value to dst. Values of other kinds (Kong never sends them) are skipped.
func decodeHeaders(b []byte, dst []Header) ([]Header, error) {
	for len(b) > 0 {
		num, typ, entry, rest, err := nextField(b)
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
		num, typ, v, rest, err := nextField(b)
		if err != nil {
			return dst, err
		}
		b = rest
		if typ == protowire.BytesType {
			switch num {
			case 1:
				name = bytesString(v)
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
		num, typ, v, rest, err := nextField(b)
		if err != nil {
			return dst, err
		}
		b = rest
		if typ != protowire.BytesType {
			continue
		}
		switch {
		case num == 3:
			dst = append(dst, Header{Name: name, Value: bytesString(v)})
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
		num, typ, v, rest, err := nextField(b)
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
		num, typ, val, rest, err := nextField(b)
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
