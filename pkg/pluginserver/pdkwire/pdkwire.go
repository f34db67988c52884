// Package pdkwire reads PDK replies from the protobuf wire format instead of
// through go-pdk's typed results, for the plugins that must see every
// request:
//
//   - Kong's lua-protobuf does not check that string fields hold UTF-8, and
//     nginx and cjson pass raw bytes through. Go's protobuf refuses such a
//     string, so go-pdk's GetVar, GetHeaders or Log.Serialize fail on a
//     request with a raw 0xff or an overlong-UTF-8 byte in it: exactly the
//     requests an attacker shapes to get past a plugin that gives up on a
//     decode error. Here bytes are bytes.
//   - go-pdk decodes headers into a structpb.Struct and converts it twice;
//     the strings cut here point into the reply frame instead.
//
// go-pdk hands a reply frame to proto.Unmarshal, which passes it to the
// Unmarshal method of a message that has one (the protobuf v1 API, adapted
// by protoadapt): Replies keeps the frame itself, without parsing or
// copying it. go-pdk reads every frame into a new buffer and never touches
// it again (plugins/guard's TestRepliesStayValidAcrossCalls), so the caller
// owns it and the strings cut from it stay valid.
package pdkwire

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/Kong/go-pdk"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// rawReply receives a reply frame as it is.
type rawReply struct{ b []byte }

func (r *rawReply) Reset()                   { r.b = nil }
func (r *rawReply) String() string           { return "pdkwire.rawReply" }
func (r *rawReply) ProtoMessage()            {}
func (r *rawReply) Unmarshal(b []byte) error { r.b = b; return nil }

// Replies receives the replies of one request's PDK calls, one after the
// other; its protobuf view is made once, not per call. It is not safe for
// concurrent use.
type Replies struct {
	raw rawReply
	msg proto.Message // protoadapt.MessageV2Of(&raw)
}

// NewReplies returns a Replies ready for use.
func NewReplies() *Replies {
	r := &Replies{}
	r.msg = protoadapt.MessageV2Of(&r.raw)
	return r
}

// Ask makes one PDK call and returns the reply's raw protobuf bytes. Every
// module of the PDK asks through the same bridge (the method name says what
// is asked), so kong.Request's is used for all.
func (r *Replies) Ask(kong *pdk.PDK, method string, args proto.Message) ([]byte, error) {
	r.raw.b = nil
	err := kong.Request.Ask(method, args, r.msg)
	b := r.raw.b
	r.raw.b = nil
	return b, err
}

// AskString makes one PDK call whose reply is a String and returns it as
// Kong sent it, valid UTF-8 or not.
func AskString(kong *pdk.PDK, method string, args proto.Message) (string, error) {
	b, err := NewReplies().Ask(kong, method, args)
	if err != nil {
		return "", err
	}
	return DecodeString(b)
}

// ErrMalformed is returned for a reply that is not the expected message.
var ErrMalformed = errors.New("malformed PDK reply")

// BytesString returns a string sharing b's memory. b is a reply frame the
// caller owns and never writes to, so the strings cut from it stay valid.
func BytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// NextField consumes the first field of a message: its number and wire
// type, and for a length-delimited field its bytes (nil for other types).
// Nearly every field of a reply has a one-byte tag and, for strings up to
// 127 bytes, a one-byte length; those take the short way.
func NextField(b []byte) (num protowire.Number, typ protowire.Type, val, rest []byte, err error) {
	if len(b) >= 2 && b[0] >= 1<<3 && b[0] < 0x80 && b[0]&7 == byte(protowire.BytesType) && b[1] < 0x80 {
		if n := int(b[1]); n <= len(b)-2 {
			return protowire.Number(b[0] >> 3), protowire.BytesType, b[2 : 2+n], b[2+n:], nil
		}
	}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
	}
	b = b[n:]
	if typ == protowire.BytesType {
		val, n = protowire.ConsumeBytes(b)
	} else {
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
	}
	return num, typ, val, b[n:], nil
}

// DecodeString decodes kong_plugin_protocol.String{v = 1} without UTF-8
// validation. An empty message is the empty string (Kong's nil).
func DecodeString(b []byte) (string, error) {
	var v string
	for len(b) > 0 {
		num, typ, val, rest, err := NextField(b)
		if err != nil {
			return "", err
		}
		if num == 1 && typ == protowire.BytesType {
			v = BytesString(val)
		}
		b = rest
	}
	return v, nil
}
