package kongsim

import (
	"io"
	"net/http"
	"testing"
)

const benchYML = `
_format_version: "3.0"
services:
  - name: s
    url: UPSTREAM
    routes: [ { name: r, paths: ["/r"] } ]
`

func benchGet(b *testing.B, client *http.Client, url string) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkUpstreamDirect is the baseline: the same client and upstream
// without kongsim.
func BenchmarkUpstreamDirect(b *testing.B) {
	e := startEnv(b, envOptions{yml: benchYML})
	benchGet(b, &http.Client{}, e.upstream.URL+"/r")
}

// BenchmarkProxyNoPlugins is kongsim's own cost per proxied request: router,
// phases, upstream round trip, Kong headers. Plugin overhead is reported as
// a ratio against it.
func BenchmarkProxyNoPlugins(b *testing.B) {
	e := startEnv(b, envOptions{yml: benchYML})
	benchGet(b, &http.Client{}, e.gw.URL()+"/r")
}

// BenchmarkProxyGoPDKPlugin adds a go-pdk plugin (go-pdk's own embedded
// server) with an access handler that makes no PDK call and a log handler
// that makes one (kong.log.serialize): two RPC events per request. It waits
// for the log handlers at the end.
func BenchmarkProxyGoPDKPlugin(b *testing.B) {
	e := startEnv(b, envOptions{servers: []string{"probe"}, yml: benchYML + `
plugins:
  - { name: probe, config: { log: ["serialize"] } }
`})
	benchGet(b, &http.Client{}, e.gw.URL()+"/r")
	e.idle(b)
	b.StopTimer()
	st := e.gw.Stats().Total("probe", "log")
	if st.PDKCalls != st.Events {
		b.Fatalf("log events %d, PDK calls %d", st.Events, st.PDKCalls)
	}
}
