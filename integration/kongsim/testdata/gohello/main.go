// Command go-hello is kongsim's equivalent of Kong's Go test fixture
// (kong-reference §9), written against go-pdk's own embedded server so that
// the tests prove kongsim interoperates with it.
package main

import (
	"fmt"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
)

// Config is the plugin config; the dumped schema names the field "message".
type Config struct {
	Message string
}

// New is the go-pdk constructor.
func New() interface{} { return &Config{} }

// Access greets the caller in a response header and leaves a value in the
// shared context for the log phase.
func (c *Config) Access(kong *pdk.PDK) {
	host, err := kong.Request.GetHeader("host")
	if err != nil {
		kong.Log.Err(err.Error())
	}
	msg := c.Message
	if msg == "" {
		msg = "hello"
	}
	_ = kong.Response.SetHeader("x-hello-from-go", fmt.Sprintf("Go says %s to %s", msg, host))
	_ = kong.Ctx.SetShared("shared_msg", msg)
}

// Response reports the upstream's Server header.
func (c *Config) Response(kong *pdk.PDK) {
	srv, err := kong.ServiceResponse.GetHeader("Server")
	if err != nil {
		kong.Log.Err(err.Error())
	}
	_ = kong.Response.SetHeader("x-hello-from-go-at-response", fmt.Sprintf("got from server '%s'", srv))
}

// Log reads saved data and logs it at debug level.
func (c *Config) Log(kong *pdk.PDK) {
	start, err := kong.Nginx.GetCtxFloat("KONG_ACCESS_START")
	if err != nil {
		kong.Log.Err(err.Error())
	}
	kong.Log.Debug("access_start: ", start)
	h, _ := kong.Request.GetHeader("X-Loose-Data")
	kong.Log.Debug("request_header: ", h)
	h, _ = kong.Response.GetHeader("X-Powered-By")
	kong.Log.Debug("response_header: ", h)
	shared, _ := kong.Ctx.GetSharedString("shared_msg")
	kong.Log.Debug("shared_msg: ", shared)
	serialized, _ := kong.Log.Serialize()
	kong.Log.Debug("serialized:", serialized)
}

func main() {
	_ = server.StartServer(New, "0.1", 1)
}
