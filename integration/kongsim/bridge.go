package kongsim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// bridgeCall is one CmdHandleEvent's PDK bridge loop (§2.5): it answers the
// plugin's PDK calls for one plugin, phase and request.
type bridgeCall struct {
	rs     *reqState
	plugin string
	pentry *pluginEntry
	phase  string
	snap   *logSnapshot // log phase only
	calls  []string     // PDK methods called, in order
}

// loop reads method/args frame pairs until the empty end frame.
func (b *bridgeCall) loop(conn *rpcConn) error {
	for {
		m, err := readFrame(conn.r)
		if err != nil {
			return errors.New(cosocketError(err))
		}
		if len(m) == 0 {
			return nil
		}
		args, err := readFrame(conn.r)
		if err != nil {
			return errors.New(cosocketError(err))
		}
		method := string(m)
		b.calls = append(b.calls, method)
		if method == "kong.response.exit" {
			if err := b.exit(args); err != nil {
				return err
			}
			// Kong yields the handler's coroutine: no reply frame, no end
			// frame, no RpcReturn; the socket is abandoned (§6.2).
			return errExited
		}
		h, ok := pdkMethods[method]
		if !ok {
			return fmt.Errorf("method %q not found", method)
		}
		out, err := h(b, args)
		if err != nil {
			return err
		}
		var reply []byte
		if out != nil {
			if reply, err = marshalReply(out); err != nil {
				return &errRaised{fmt.Sprintf("%s: encode reply: %v", method, err)}
			}
		}
		if err := writeFrame(conn, reply); err != nil {
			return errors.New(cosocketError(err))
		}
	}
}

// Phase sets of kong/pdk/private/phases.lua as they matter here.
var (
	phRequest      = []string{"rewrite", "access", "balancer", "response", "header_filter", "body_filter", "log", "error", "admin_api"}
	phRequestBody  = []string{"rewrite", "access", "response", "error", "admin_api"}
	phRespGet      = []string{"response", "header_filter", "body_filter", "log", "error", "admin_api"}
	phRespSet      = []string{"rewrite", "access", "response", "balancer", "header_filter", "error", "admin_api"}
	phServiceReq   = []string{"rewrite", "access"}
	phServiceResp  = []string{"response", "header_filter", "body_filter", "log"}
	phAccessLater  = []string{"access", "header_filter", "response", "body_filter", "log"}
	phAccessOnly   = []string{"access"}
	phTarget       = []string{"rewrite", "access", "balancer"}
	phLogOnly      = []string{"log"}
	phAnyButInit   = []string{"certificate", "rewrite", "access", "balancer", "response", "header_filter", "body_filter", "log", "preread"}
	errTimerNoLive = "API disabled in the context of ngx.timer"
)

func (b *bridgeCall) need(phases []string) error {
	for _, p := range phases {
		if p == b.phase {
			return nil
		}
	}
	return &errRaised{fmt.Sprintf("function cannot be called in %s phase (only in: %s)", b.phase, strings.Join(phases, ", "))}
}

// live fails in the log timer for functions that need the live request.
func (b *bridgeCall) live(phases []string) error {
	if err := b.need(phases); err != nil {
		return err
	}
	if b.snap != nil {
		return &errRaised{errTimerNoLive}
	}
	return nil
}

func decode[T any, P interface {
	*T
	proto.Message
}](args []byte) (*T, error) {
	m := P(new(T))
	if err := proto.Unmarshal(args, m); err != nil {
		return nil, &errRaised{fmt.Sprintf("decoding arguments: %v", err)}
	}
	return (*T)(m), nil
}

// exit records kong.response.exit (§6.2); only phases where Kong allows it.
func (b *bridgeCall) exit(args []byte) error {
	if err := b.need([]string{"rewrite", "access", "response", "header_filter", "error", "admin_api"}); err != nil {
		return err
	}
	if b.snap != nil {
		return &errRaised{errTimerNoLive}
	}
	a, err := decode[pb.ExitArgs](args)
	if err != nil {
		return err
	}
	if a.Status < 100 || a.Status > 599 {
		return &errRaised{"code must be a number between 100 and 599"}
	}
	h := http.Header{}
	if a.Headers != nil {
		for k, v := range a.Headers.AsMap() {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					h.Add(k, fmt.Sprint(e))
				}
			default:
				h.Set(k, fmt.Sprint(x))
			}
		}
	}
	b.rs.exit = &exitResponse{status: int(a.Status), body: a.Body, header: h}
	b.rs.exited = true
	return nil
}

// logSnapshot is the saved data of §3.3.
type logSnapshot struct {
	serialized []byte
	ngxCtx     map[string]any
	serializeV map[string]any
	reqHeader  http.Header
	respHeader http.Header
	status     int
	source     string
	taken      time.Time
}
