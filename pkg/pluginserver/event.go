package pluginserver

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/Kong/go-pdk"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

// handleEvent runs a phase handler over the PDK bridge and, unless the
// handler ended the request (kong.response.exit closes the connection, as
// in go-pdk) or the stream broke, writes the end-of-event frame. It returns
// whether the connection goes on.
func (s *server) handleEvent(bc *bridgeConn, ev *kpp.CmdHandleEvent) bool {
	inst := s.lookup(ev.GetInstanceId())
	if inst == nil {
		s.stats.Refused.Add(1)
		s.log.Info("event for unknown instance; closing the connection so Kong restarts it", "instance", ev.GetInstanceId(), "event", ev.GetEventName())
		return false
	}
	h := inst.handlers[ev.GetEventName()]
	if h == nil {
		s.stats.Refused.Add(1)
		s.log.Warn("event without a handler; closing the connection", "instance", inst.id, "event", ev.GetEventName())
		return false
	}
	s.stats.Events.Add(1)
	inst.lastUsed.Store(time.Now().Unix())
	kong := bc.pdk()
	s.run(h, kong, bc, ev.GetEventName())
	if bc.exited.Load() || bc.err != nil {
		return false
	}
	return bc.writeFrame(nil) == nil
}

// maxPanicText bounds the panic value sent to Kong's error log.
const maxPanicText = 200

// run calls h, recovering a panic: it is counted, logged here with its
// stack, and reported through kong.log.err when the bridge is still at a
// frame boundary, after which the event ends normally and Kong goes on with
// the request.
func (s *server) run(h handler, kong *pdk.PDK, bc *bridgeConn, event string) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		s.stats.Panics.Add(1)
		s.log.Error("handler panic recovered", "plugin", s.plugin.Name, "event", event, "panic", r, "stack", string(debug.Stack()))
		if !bc.recoverable() {
			return
		}
		msg := fmt.Sprint(r)
		if len(msg) > maxPanicText {
			msg = msg[:maxPanicText] + "…"
		}
		if err := kong.Log.Err(fmt.Sprintf("%s: %s handler panic (recovered, request continues): %s", s.plugin.Name, event, msg)); err != nil {
			s.log.Warn("reporting panic to Kong", "err", err)
		}
	}()
	h(kong)
}
