package guard

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	"github.com/Kong/go-pdk/bridge/bridgetest"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

func TestRepliesStayValidAcrossCalls(t *testing.T) {
	// The guard keeps reply frames instead of copying them, and cuts its
	// strings from them: go-pdk must not reuse a frame's buffer for the
	// next reply.
	line := "GET /a?b=c HTTP/1.1"
	hs := map[string][]string{"host": {"api.test"}, "x-long": {string(make([]byte, 300))}}
	kong := pdk.Init(bridgetest.Mock(t, []bridgetest.MockStep{
		{Method: "kong.nginx.get_var", Args: bridge.WrapString("request"), Ret: bridge.WrapString(line)},
		{Method: "kong.request.get_headers", Args: &kpp.Int{V: 1000}, Ret: headersStruct(t, hs)},
		{Method: "kong.client.get_ip", Ret: bridge.WrapString("203.0.113.7")},
		{Method: "kong.nginx.get_var", Args: bridge.WrapString("request"), Ret: bridge.WrapString("POST /other HTTP/1.1")},
	}))
	rep := pdkwire.NewReplies()
	first, err := rep.Ask(kong, "kong.nginx.get_var", requestLineArg)
	require.NoError(t, err)
	want := append([]byte(nil), first...)
	s, err := pdkwire.DecodeString(first)
	require.NoError(t, err)
	require.Equal(t, line, s)
	headers, err := rep.Ask(kong, "kong.request.get_headers", maxHeadersArg)
	require.NoError(t, err)
	wantHeaders := append([]byte(nil), headers...)
	_, err = rep.Ask(kong, "kong.client.get_ip", nil)
	require.NoError(t, err)
	_, err = rep.Ask(kong, "kong.nginx.get_var", requestLineArg)
	require.NoError(t, err)
	assert.Equal(t, want, first, "the first reply was overwritten")
	assert.Equal(t, line, s)
	assert.Equal(t, wantHeaders, headers, "the headers reply was overwritten")
}

func TestPooledScratchDoesNotCarryOneRequestIntoTheNext(t *testing.T) {
	// Requests with a blocklisted API key, without one, and with more
	// headers than a pooled array keeps, from several goroutines at once
	// through one instance: only the first kind is refused, whichever
	// pooled scratch space a request gets. Run with -race.
	list := blocklist.NewList()
	fp := "apikey-fp:" + redact.New(nil, nil).Fingerprint("leaked-key")
	require.NoError(t, list.Apply(blocklist.Change{Subject: fp, Entry: blocklist.Entry{
		Subject: fp, Kind: blocklist.KindAPIKeyFP, Until: time.Now().Add(time.Hour), Status: 403}}))
	rt := NewRuntime(nil, nil)
	rt.SetBlocklist(list)
	cfg := rt.New().(*Config)
	require.NoError(t, json.Unmarshal([]byte(`{"apikey_names":["apikey"]}`), cfg))
	completeDefaults(cfg)
	require.NoError(t, cfg.Prepare())

	leaky := map[string][]string{"host": {"api.test"}, "apikey": {"leaked-key"}, "accept": {"*/*"}}
	many := map[string][]string{"host": {"api.test"}}
	for i := 0; i < 2*maxPooledHeaders; i++ {
		many["x-h"+strconv.Itoa(i)] = []string{"v"}
	}
	kinds := []map[string][]string{leaky, benignHeaders, many}
	// Kong, answering by method whatever the arguments.
	kong := func(headers map[string][]string) (*pdk.PDK, *scriptedConn) {
		h, err := bridge.WrapHeaders(headers)
		require.NoError(t, err)
		c := &scriptedConn{byMethod: true, replies: map[string][]byte{
			"kong.nginx.get_var\x00":           mustMarshal(t, bridge.WrapString("GET /orders HTTP/1.1")),
			"kong.request.get_headers\x00":     mustMarshal(t, h),
			"kong.log.set_serialize_value\x00": nil,
			"kong.response.exit\x00":           nil,
		}}
		return pdk.Init(c), c
	}
	const workers, rounds = 4, 300
	var refused, want [workers][3]int
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				k := (i + w) % len(kinds)
				pk, c := kong(kinds[k])
				cfg.Access(pk)
				if c.calls > 2 { // the request line and headers, then refusal
					refused[w][k]++
				}
				if k == 0 {
					want[w][k]++
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, want, refused, "refusals by worker and kind: leaked key, clean, many headers")
	assert.Equal(t, uint64(0), rt.Stats().FaultPDK.Load())
}
