package monitor

import (
	"github.com/Kong/go-pdk"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
)

// serialize asks Kong for the log entry and returns it as Kong sent it.
//
// go-pdk's Log.Serialize decodes the reply as a protobuf string, and Go's
// protobuf refuses a string field that is not valid UTF-8. Kong's cjson
// does not care: a request whose decoded query or headers hold a raw 0xc0
// or 0xff byte ("?t=%c0%2e%c0%2e%2fetc%2fpasswd", an overlong-UTF-8
// traversal) serializes to JSON with those bytes in it, and go-pdk's call
// fails. The monitor would then report nothing for exactly the request an
// attacker shaped to evade it; pdkwire reads the reply as bytes.
func serialize(kong *pdk.PDK) (string, error) {
	return pdkwire.AskString(kong, "kong.log.serialize", nil)
}
