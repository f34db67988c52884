// Command probe is a go-pdk plugin for kongsim's conformance tests: it runs
// a configured list of PDK actions in access and in log and appends each
// result to a file, so tests can see exactly what Kong (kongsim) answered.
// Its priority comes from PROBE_PRIORITY (default 1000), so copies under
// other binary names can be ordered around bundled plugins.
package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/server"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

// Config names the actions per phase and the result file.
type Config struct {
	AccessActions []string `json:"access"`
	LogActions    []string `json:"log"`
	Out           string   `json:"out"`
}

// New is the go-pdk constructor.
func New() interface{} { return &Config{} }

type result struct {
	Phase  string `json:"phase"`
	Action string `json:"action"`
	Value  any    `json:"value,omitempty"`
	Err    string `json:"err,omitempty"`
}

func (c *Config) record(r result) {
	if c.Out == "" {
		return
	}
	f, err := os.OpenFile(c.Out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.Marshal(r)
	_, _ = f.Write(append(b, '\n'))
}

func (c *Config) run(kong *pdk.PDK, phase string, actions []string) {
	for _, a := range actions {
		name, arg, _ := strings.Cut(a, ":")
		k, v, _ := strings.Cut(arg, "=")
		var val any
		var err error
		switch name {
		case "serialize":
			val, err = kong.Log.Serialize()
		case "source":
			val, err = kong.Response.GetSource()
		case "status":
			val, err = kong.Response.GetStatus()
		case "header":
			val, err = kong.Request.GetHeader(arg)
		case "headers":
			val, err = kong.Request.GetHeaders(-1)
		case "resp-header":
			val, err = kong.Response.GetHeader(arg)
		case "path":
			val, err = kong.Request.GetPath()
		case "method":
			val, err = kong.Request.GetMethod()
		case "ip":
			val, err = kong.Client.GetIp()
		case "shared-get":
			val, err = kong.Ctx.GetSharedAny(arg)
		case "shared-set":
			err = kong.Ctx.SetShared(k, v)
		case "set-header":
			err = kong.Response.SetHeader(k, v)
		case "upstream-header":
			err = kong.ServiceRequest.SetHeader(k, v)
		case "ssv":
			err = kong.Log.Ask("kong.log.set_serialize_value",
				&kong_plugin_protocol.KV{K: k, V: structpb.NewStringValue(v)}, nil)
		case "unknown":
			err = kong.Log.Ask("kong.nope.nothing", nil, nil)
		case "consumer":
			var cs any
			cs, err = kong.Client.GetConsumer()
			val = cs
		case "route":
			r, e := kong.Router.GetRoute()
			val, err = r.Name, e
		case "ctx":
			val, err = kong.Nginx.GetCtxAny(arg)
		case "start-time":
			val, err = kong.Nginx.ReqStartTime()
		case "query-arg":
			val, err = kong.Request.GetQueryArg(arg)
		case "captures":
			var unnamed [][]byte
			var named map[string][]byte
			unnamed, named, err = kong.Request.GetUriCaptures()
			caps := map[string]any{"named": map[string]string{}}
			var list []string
			for _, u := range unnamed {
				list = append(list, string(u))
			}
			caps["unnamed"] = list
			for n, x := range named {
				caps["named"].(map[string]string)[n] = string(x)
			}
			val = caps
		case "node-id":
			val, err = kong.Node.GetId()
		case "sleep":
			ms, _ := strconv.Atoi(arg)
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case "exit":
			status, _ := strconv.Atoi(k)
			c.record(result{Phase: phase, Action: a})
			kong.Response.Exit(status, []byte(v), map[string][]string{"Content-Type": {"text/plain"}})
			// Anything after Exit fails: the connection is gone.
			_, err = kong.Request.GetPath()
			c.record(result{Phase: phase, Action: "after-exit", Err: errText(err)})
			return
		case "crash":
			os.Exit(3)
		}
		c.record(result{Phase: phase, Action: a, Value: val, Err: errText(err)})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Access runs the access actions.
func (c *Config) Access(kong *pdk.PDK) { c.run(kong, "access", c.AccessActions) }

// Log runs the log actions.
func (c *Config) Log(kong *pdk.PDK) { c.run(kong, "log", c.LogActions) }

func main() {
	prio := 1000
	if p, err := strconv.Atoi(os.Getenv("PROBE_PRIORITY")); err == nil {
		prio = p
	}
	_ = server.StartServer(New, "1.2.3", prio)
}
