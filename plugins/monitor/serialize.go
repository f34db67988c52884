package monitor

import (
	"errors"
	"unsafe"

	"github.com/Kong/go-pdk"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/protoadapt"
)

// serialize asks Kong for the log entry and returns it as Kong sent it.
//
// go-pdk's Log.Serialize decodes the reply as a protobuf string, and Go's
// protobuf refuses a string field that is not valid UTF-8. Kong's cjson
// does not care: a request whose decoded query or headers hold a raw 0xc0
// or 0xff byte ("?t=%c0%2e%c0%2e%2fetc%2fpasswd", an overlong-UTF-8
// traversal) serializes to JSON with those bytes in it, and go-pdk's call
// fails. The monitor would then report nothing for exactly the request an
// attacker shaped to evade it. Here the reply's one field is read as bytes.
func serialize(kong *pdk.PDK) (string, error) {
	var r rawReply
	if err := kong.Log.Ask("kong.log.serialize", nil, protoadapt.MessageV2Of(&r)); err != nil {
		return "", err
	}
	return stringField1(r.b)
}

// rawReply receives a reply frame as it is (the protobuf v1 Unmarshal
// method protoadapt calls); go-pdk reads each frame into a new buffer, so
// the strings cut from it stay valid.
type rawReply struct{ b []byte }

func (r *rawReply) Reset()                   { r.b = nil }
func (r *rawReply) String() string           { return "monitor.rawReply" }
func (r *rawReply) ProtoMessage()            {}
func (r *rawReply) Unmarshal(b []byte) error { r.b = b; return nil }

var errReply = errors.New("malformed kong.log.serialize reply")

// stringField1 returns field 1 of a String message (kong_plugin_protocol
// String{v = 1}) without checking its UTF-8; an absent field is "".
func stringField1(b []byte) (string, error) {
	out := ""
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", errReply
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", errReply
			}
			if len(v) > 0 {
				out = unsafe.String(&v[0], len(v))
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", errReply
		}
		b = b[n:]
	}
	return out, nil
}
