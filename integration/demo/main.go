// Command demo is `make demo`: gatewatch's main job on embedded defaults, in
// one process tree on one machine. It starts an in-process Kafka-protocol
// broker (kfake), a demo upstream, and kongsim (the Kong 3.x stand-in) with
// kong-conf/kong.yml and both gatewatch plugin servers; drives a short
// scripted traffic mix through the proxy (ordinary requests, a brute-force
// burst of bad API keys, an ACL denial, a scan of unknown paths, an attack
// payload); prints each event as it arrives from Kafka; then prints a summary
// by type and exits 0 when the events it must see arrived.
//
// With -keep everything stays up and the demo prints curl commands to try.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/integration/kongsim"
	"github.com/gatewatch/gatewatch/pkg/event"
)

func main() {
	os.Exit(run())
}

func run() int {
	bin := flag.String("bin", "bin", "directory holding gatewatch and gatewatch-guard")
	kongYML := flag.String("kong-yml", "kong-conf/kong.yml", "declarative Kong config")
	listen := flag.String("listen", "127.0.0.1:8000", "kongsim proxy address")
	upstreamAddr := flag.String("upstream", "127.0.0.1:9000", "demo upstream address (the service url in kong.yml)")
	keep := flag.Bool("keep", os.Getenv("KEEP") == "1", "keep everything running after the scripted traffic")
	timeout := flag.Duration("timeout", 150*time.Second, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*keep { // with -keep the demo runs until interrupted
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	if err := demo(ctx, *bin, *kongYML, *listen, *upstreamAddr, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, bin, kongYML, listen, upstreamAddr string, keep bool) error {
	absBin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	for _, b := range []string{"gatewatch", "gatewatch-guard"} {
		if _, err := os.Stat(filepath.Join(absBin, b)); err != nil {
			return fmt.Errorf("%s/%s missing: run `make build` first", bin, b)
		}
	}

	// 1. Kafka.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "gatewatch.events", "gatewatch.alerts", "gatewatch.blocklist"))
	if err != nil {
		return fmt.Errorf("start kafka broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	fmt.Printf("kafka broker (kfake) on %s\n", strings.Join(brokers, ","))

	// 2. The upstream.
	up, err := startUpstream(upstreamAddr)
	if err != nil {
		return err
	}
	defer up.Close()
	fmt.Printf("demo upstream on http://%s\n", upstreamAddr)

	// 3. Kong (kongsim) with both plugin servers.
	prefix, err := os.MkdirTemp("", "gw-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(prefix)
	gw, err := kongsim.Start(ctx, kongsim.Options{
		KongVersion:     "3.9",
		Prefix:          prefix,
		ProxyListen:     listen,
		DeclarativeFile: kongYML,
		Conf:            kongsim.PluginServerConf(absBin, prefix, nil, "gatewatch", "gatewatch-guard"),
		Env: []string{
			"GATEWATCH_KAFKA_BROKERS=" + strings.Join(brokers, ","),
			"GATEWATCH_SPOOL_DIR=" + filepath.Join(prefix, "spool"),
		},
		Stderr: prefixWriter{os.Stderr},
	})
	if err != nil {
		return fmt.Errorf("start kongsim: %w", err)
	}
	defer gw.Close()
	fmt.Printf("kong (kongsim, 3.9) proxy on %s\n\n", gw.URL())

	// 4. Read events back while traffic runs.
	events := make(chan event.Event, 1024)
	readErr := make(chan error, 1)
	go func() { readErr <- consume(ctx, brokers, events) }()

	if err := waitReady(ctx, gw.URL()); err != nil {
		return err
	}
	sent := drive(ctx, gw.URL())
	fmt.Printf("sent %d requests; events from Kafka:\n", sent)

	counts := map[event.Type]int{}
	need := map[event.Type]bool{event.AuthFailure: true, event.AccessDenied: true}
	quiet := time.NewTimer(3 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-events:
			counts[ev.Type]++
			printEvent(ev)
			quiet.Reset(1500 * time.Millisecond)
		case <-quiet.C:
			if satisfied(counts, need) || keep {
				done = true
			} else {
				quiet.Reset(time.Second)
			}
		case err := <-readErr:
			return fmt.Errorf("reading events: %w", err)
		case <-ctx.Done():
			done = true
		}
	}

	fmt.Println("\nsummary (events by type):")
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, string(t))
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Printf("  %-18s %d\n", t, counts[event.Type(t)])
	}
	if !satisfied(counts, need) {
		return errors.New("expected at least one auth.failure and one access.denied event")
	}

	if keep {
		u := gw.URL()
		fmt.Printf(`
everything is running; try (Ctrl-C to stop):
  curl -i %[1]s/public/hello
  curl -i %[1]s/orders -H 'apikey: alice-demo-key'
  curl -i %[1]s/orders -H 'apikey: wrong'          # auth.failure
  curl -i %[1]s/reports -H 'apikey: alice-demo-key' # access.denied (acl)
  curl -i "%[1]s/public/search?q=1'+OR+'1'='1"      # attack.detected
  kcat -b %[2]s -C -t gatewatch.events -o beginning -e -J
`, u, brokers[0])
		for {
			select {
			case ev := <-events:
				printEvent(ev)
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

func satisfied(counts map[event.Type]int, need map[event.Type]bool) bool {
	for t := range need {
		if counts[t] == 0 {
			return false
		}
	}
	return true
}

func startUpstream(addr string) (*http.Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo upstream on %s: %w (is something else using it?)", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"path":%q}`, r.URL.Path)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return srv, nil
}

func waitReady(ctx context.Context, base string) error {
	for {
		resp, err := http.Get(base + "/public/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kongsim not ready: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// drive sends the scripted traffic mix and returns how many requests went
// out.
func drive(ctx context.Context, base string) int {
	type req struct {
		path   string
		apikey string
		ua     string
	}
	var script []req
	for i := 0; i < 5; i++ {
		script = append(script, req{path: "/public/items/" + fmt.Sprint(i)})
		script = append(script, req{path: "/orders/" + fmt.Sprint(i), apikey: "alice-demo-key"})
	}
	for i := 0; i < 12; i++ { // brute force: bad API keys from one client
		script = append(script, req{path: "/orders", apikey: fmt.Sprintf("guess-%04d", i)})
	}
	script = append(script, req{path: "/orders"})                            // no key at all
	script = append(script, req{path: "/reports", apikey: "alice-demo-key"}) // acl denial
	script = append(script, req{path: "/reports", apikey: "bob-demo-key"})   // acl denial
	for _, p := range []string{"/.env", "/wp-login.php", "/admin/config.php"} {
		script = append(script, req{path: p}) // scan: no route
	}
	script = append(script, req{path: "/public/search?q=1%27%20OR%20%271%27%3D%271"}) // SQL injection
	script = append(script, req{path: "/public/items", ua: "sqlmap/1.7.2#stable (https://sqlmap.org)"})

	client := &http.Client{Timeout: 10 * time.Second}
	n := 0
	for _, r := range script {
		if ctx.Err() != nil {
			break
		}
		hr, err := http.NewRequestWithContext(ctx, http.MethodGet, base+r.path, nil)
		if err != nil {
			continue
		}
		if r.apikey != "" {
			hr.Header.Set("apikey", r.apikey)
		}
		if r.ua != "" {
			hr.Header.Set("User-Agent", r.ua)
		}
		resp, err := client.Do(hr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "request %s: %v\n", r.path, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		n++
	}
	return n
}

func consume(ctx context.Context, brokers []string, out chan<- event.Event) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("gatewatch.events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	seen := map[string]bool{}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			var ev event.Event
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				bad = fmt.Errorf("undecodable event at offset %d: %w", r.Offset, err)
				return
			}
			if seen[ev.ID] { // at-least-once delivery: de-duplicate by id
				return
			}
			seen[ev.ID] = true
			select {
			case out <- ev:
			case <-ctx.Done():
			}
		})
		if bad != nil {
			return bad
		}
	}
	return nil
}

func printEvent(ev event.Event) {
	var d []string
	add := func(k, v string) {
		if v != "" {
			d = append(d, k+"="+v)
		}
	}
	add("mechanism", ev.Detail.Mechanism)
	add("reason", ev.Detail.Reason)
	add("control", ev.Detail.Control)
	if ev.Detail.Identity != nil {
		add(ev.Detail.Identity.Kind, ev.Detail.Identity.Value)
	}
	for _, f := range ev.Detail.Findings {
		add("rule", f.RuleID+"("+f.Class+" in "+f.Location+")")
	}
	fmt.Printf("  %s %-16s %-8s %-15s %s %s%s  status=%d route=%s %s\n",
		ev.Time.Format("15:04:05.000"), ev.Type, ev.Severity, ev.Client.IP, ev.Request.Method, ev.Request.Path,
		query(ev.Request.Query), ev.Response.Status, ev.Kong.Route.Name, strings.Join(d, " "))
}

func query(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// prefixWriter marks plugin-server output so it stands apart from events.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	if os.Getenv("DEMO_VERBOSE") == "" {
		return len(b), nil
	}
	return p.w.Write(b)
}
