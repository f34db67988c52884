package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/syncbuf"
	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/internal/testrsyslog"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/cef"
	"github.com/gatewatch/gatewatch/pkg/syslog"
	"github.com/gatewatch/gatewatch/pkg/syslog/syslogtest"
)

// forwardEvent is a distinct, valid event numbered i, cycling through the
// types and severities.
func forwardEvent(i int) event.Event {
	t := event.Types[i%len(event.Types)]
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		ID:            fmt.Sprintf("0193a6f0-0000-7000-8000-%012d", i),
		Time:          time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Type:          t,
		Severity:      event.Severities[i%len(event.Severities)],
		Client:        event.Client{IP: fmt.Sprintf("198.51.100.%d", i%250+1), UserAgent: "ua|=\\\n" + fmt.Sprint(i)},
		Request:       event.Request{Method: "GET", Host: "api.example.com", Path: fmt.Sprintf("/items/%d", i)},
		Response:      event.Response{Status: 403},
		Kong:          event.Kong{Route: event.Ref{Name: "items"}},
	}
	if i%97 == 7 {
		// A hostile request: delimiters of every layer, control
		// characters and a 64 KiB path.
		ev.Request.Path += "/" + strings.Repeat("A|=\\\n]\"\x00", 64<<10/8)
		ev.Request.Query = "q=<script>\r\n[x@1 a=\"b\"]"
	}
	return ev
}

// fwdProduce publishes events from..to-1 as the monitor would: JSON
// value, client IP key, CloudEvents headers.
func fwdProduce(t *testing.T, ctx context.Context, kc *kgo.Client, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		ev := forwardEvent(i)
		r := &kgo.Record{Topic: "gatewatch.events", Key: []byte(ev.Client.IP), Value: ev.AppendJSON(nil)}
		for _, h := range ev.CEHeaders() {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		recs = append(recs, r)
	}
	require.NoError(t, kc.ProduceSync(ctx, recs...).FirstErr())
}

func fwdProducer(t *testing.T, brokers []string) *kgo.Client {
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	t.Cleanup(kc.Close)
	return kc
}

// runForwarder starts gwctl forward syslog in the background and returns
// a function that stops it and returns its output.
func runForwarder(t *testing.T, args ...string) (stop func() (code int, stdout, stderr string)) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- runForward(ctx, append([]string{"syslog"}, args...), nil, &out, &errb) }()
	var once sync.Once
	var code int
	stop = func() (int, string, string) {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("forwarder did not stop; stderr:\n%s", errb.String())
			}
		})
		return code, out.String(), errb.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestForwardFlagsRejectWhatIsWrongByName(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a missing collector address", []string{}, "-addr"},
		{"an unknown format", []string{"-addr", "x:1", "-format", "leef"}, "-format"},
		{"an unknown event type", []string{"-addr", "x:1", "-types", "auth.failure,auth.fail"}, `"auth.fail"`},
		{"an unknown severity", []string{"-addr", "x:1", "-min-severity", "urgent"}, "-min-severity"},
		{"an unknown facility", []string{"-addr", "x:1", "-facility", "local9"}, "-facility"},
		{"a certificate without its key", []string{"-addr", "x:1", "-tls-cert", "c.pem"}, "-tls-key"},
		{"a CA file that does not exist", []string{"-addr", "x:1", "-tls-ca", "/nonexistent.pem"}, "-tls-ca"},
		{"an unknown reset position", []string{"-addr", "x:1", "-reset", "middle"}, "-reset"},
		{"a stray argument", []string{"-addr", "x:1", "extra"}, "extra"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runForward(context.Background(), append([]string{"syslog"}, c.args...), nil, &out, &errb)
			assert.Equal(t, 2, code)
			assert.Contains(t, errb.String(), c.want)
		})
	}
	t.Run("a target other than syslog", func(t *testing.T) {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, runForward(context.Background(), []string{"kafka"}, nil, &out, &errb))
	})
}

func TestForwardFiltersByTypeAndSeverityAndCommits(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	col := syslogtest.NewCollector(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fwdProduce(t, ctx, fwdProducer(t, brokers), 0, 130)

	args := []string{"-brokers", strings.Join(brokers, ","), "-group", "filter-test", "-addr", col.Addr,
		"-types", "auth.failure,attack.detected", "-min-severity", "medium", "-settle", "100ms", "-quiet"}
	want := map[string]bool{}
	for i := 0; i < 130; i++ {
		ev := forwardEvent(i)
		if (ev.Type == event.AuthFailure || ev.Type == event.AttackDetected) && ev.Severity.Rank() >= event.Medium.Rank() {
			want[ev.ID] = true
		}
	}
	require.NotEmpty(t, want)
	require.Less(t, len(want), 130/4, "the filter must leave most events out for this test to mean anything")

	stop := runForwarder(t, args...)
	require.Eventually(t, func() bool { return len(fwdCollectorIDs(t, col)) >= len(want) }, 20*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // let the last batch settle and commit
	code, stdout, stderr := stop()
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, want, fwdCollectorIDs(t, col))
	assert.Contains(t, stdout, fmt.Sprintf("forwarded %d, filtered %d", len(want), 130-len(want)))

	// Offsets were committed: a second run of the group forwards nothing
	// old, only what is new.
	fwdProduce(t, ctx, fwdProducer(t, brokers), 130, 131)
	before := len(col.Messages())
	stop = runForwarder(t, append(args, "-types", "", "-min-severity", "info")...)
	require.Eventually(t, func() bool { return fwdCollectorIDs(t, col)[forwardEvent(130).ID] }, 20*time.Second, 50*time.Millisecond)
	_, stdout, _ = stop()
	assert.Equal(t, before+1, len(col.Messages()), "only the new event is forwarded")
	assert.Contains(t, stdout, "forwarded 1,")
}

func fwdCollectorIDs(t *testing.T, col *syslogtest.Collector) map[string]bool {
	ids := map[string]bool{}
	for _, m := range col.Messages() {
		msg, err := syslog.Parse(string(m))
		require.NoError(t, err)
		id, ok := msg.Param(syslog.DefaultSDID, "id")
		require.True(t, ok, "%s", m)
		ids[id] = true
	}
	return ids
}

// The acceptance test: events produced to Kafka reach a real rsyslog over
// TCP (structured data) and over TLS (CEF), parse as RFC 5424 and as CEF,
// and restarting rsyslog while events flow loses none of them.
func TestForwardToRealRsyslogOverTCPAndTLSSurvivesARestart(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	ca := syslogtest.NewCA(t)
	rs := testrsyslog.New(t, ca)
	rs.Start()

	client := ca.Issue(t, 11, "gatewatch-forwarder")
	caFile := syslogtest.WriteFile(t, t.TempDir(), "client-ca.pem", ca.CertPEM)
	certFile := syslogtest.WriteFile(t, t.TempDir(), "client.pem", client.CertPEM)
	keyFile := syslogtest.WriteFile(t, t.TempDir(), "client-key.pem", client.KeyPEM)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kc := fwdProducer(t, cluster.ListenAddrs())
	const total = 600
	fwdProduce(t, ctx, kc, 0, 200)

	stopTCP := runForwarder(t, "-brokers", brokers, "-group", "e2e-tcp", "-addr", fmt.Sprintf("127.0.0.1:%d", rs.TCPPort),
		"-format", "sd", "-settle", "300ms", "-batch", "50", "-hostname", "fwd-tcp")
	stopTLS := runForwarder(t, "-brokers", brokers, "-group", "e2e-tls", "-addr", fmt.Sprintf("127.0.0.1:%d", rs.TLSPort),
		"-format", "cef", "-settle", "300ms", "-batch", "50", "-hostname", "fwd-tls",
		"-tls-ca", caFile, "-tls-cert", certFile, "-tls-key", keyFile, "-tls-server-name", "collector.test")

	require.Eventually(t, func() bool {
		return len(rs.IDsIn(rs.TCPFile)) >= 100 && len(rs.IDsIn(rs.TLSFile)) >= 100
	}, 30*time.Second, 50*time.Millisecond, "rsyslog output:\n%s", rs.Output())

	// Mid-stream: events keep arriving while rsyslog goes down and comes
	// back on the same ports.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 200; i < total; i += 20 {
			fwdProduce(t, ctx, kc, i, i+20)
			time.Sleep(25 * time.Millisecond)
		}
	}()
	time.Sleep(150 * time.Millisecond)
	rs.Stop()
	time.Sleep(700 * time.Millisecond)
	rs.Start()
	wg.Wait()

	complete := func(file string) bool { return len(rs.IDsIn(file)) == total }
	require.Eventually(t, func() bool { return complete(rs.TCPFile) && complete(rs.TLSFile) }, 45*time.Second, 100*time.Millisecond,
		"tcp has %d of %d ids, tls %d; rsyslog output:\n%s", len(rs.IDsIn(rs.TCPFile)), total, len(rs.IDsIn(rs.TLSFile)), rs.Output())
	codeTCP, outTCP, errTCP := stopTCP()
	codeTLS, outTLS, errTLS := stopTLS()
	require.Equal(t, 0, codeTCP, errTCP)
	require.Equal(t, 0, codeTLS, errTLS)
	assert.Contains(t, errTCP, "lost", "the TCP forwarder noticed the restart")
	assert.Contains(t, errTLS, "lost", "the TLS forwarder noticed the restart")

	for name, file := range map[string]string{"tcp": rs.TCPFile, "tls": rs.TLSFile} {
		ids := rs.IDsIn(file)
		dups := 0
		for i := 0; i < total; i++ {
			id := forwardEvent(i).ID
			assert.GreaterOrEqual(t, ids[id], 1, "%s: event %d missing", name, i)
			dups += max(ids[id]-1, 0)
		}
		t.Logf("%s: %d events, %d duplicates after the restart (reconciled by id); forwarder: %s", name, total, dups,
			strings.TrimSpace(map[string]string{"tcp": outTCP, "tls": outTLS}[name]))
	}

	// Every TCP line carries the event in structured data.
	hostile := 0
	for _, l := range rs.Lines(rs.TCPFile) {
		m, err := syslog.Parse(l)
		require.NoError(t, err)
		assert.Equal(t, "fwd-tcp", m.Hostname)
		assert.Equal(t, "gatewatch", m.AppName)
		typ, _ := m.Param(syslog.DefaultSDID, "type")
		assert.Equal(t, typ, m.MsgID)
		path, _ := m.Param(syslog.DefaultSDID, "path")
		assert.True(t, strings.HasPrefix(path, "/items/"), l)
		if len(path) > 64 {
			hostile++
			assert.LessOrEqual(t, len(path), syslog.MaxParamValue, "a hostile path is truncated")
			assert.Contains(t, path, `A|=\ ]"`, "delimiters survive, control characters become spaces")
		}
		ua, _ := m.Param(syslog.DefaultSDID, "user_agent")
		assert.True(t, strings.HasPrefix(ua, "ua|=\\ "), "control characters in SD values become spaces: %q", ua)
	}
	assert.GreaterOrEqual(t, hostile, 6, "the hostile events reached rsyslog over TCP")
	// Every TLS line carries CEF whose externalId is the event id.
	hostileCEF := 0
	for _, l := range rs.Lines(rs.TLSFile) {
		m, err := syslog.Parse(l)
		require.NoError(t, err)
		rec, err := cef.Parse(string(m.Msg))
		require.NoError(t, err, "not CEF: %q", m.Msg)
		id, _ := m.Param(syslog.DefaultSDID, "id")
		assert.Equal(t, id, rec.Extension["externalId"])
		assert.Equal(t, "gatewatch", rec.Header[1])
		assert.True(t, strings.HasPrefix(rec.Extension["requestClientApplication"], "ua|=\\\n"), "CEF newline escapes survive rsyslog: %q", l)
		if req := rec.Extension["request"]; len(req) > 64 {
			hostileCEF++
			assert.LessOrEqual(t, len(req), cef.MaxValue, "a hostile request is truncated")
			assert.Contains(t, req, "A|=\\\n]\"", "CEF escapes carry delimiters and newlines through rsyslog")
		}
		sev := rec.Header[6]
		assert.Contains(t, []string{"1", "3", "5", "8", "10"}, sev)
	}
	assert.GreaterOrEqual(t, hostileCEF, 6, "the hostile events reached rsyslog over TLS")
}

func TestANewGroupWithResetLatestSkipsTheBacklog(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	col := syslogtest.NewCollector(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc := fwdProducer(t, brokers)
	fwdProduce(t, ctx, kc, 0, 20) // the backlog

	stop := runForwarder(t, "-brokers", strings.Join(brokers, ","), "-group", "latest-test", "-addr", col.Addr,
		"-reset", "latest", "-settle", "100ms", "-quiet")
	// The group joins at some point; keep producing until something new
	// arrives, then check that nothing old did.
	next := 20
	require.Eventually(t, func() bool {
		fwdProduce(t, ctx, kc, next, next+1)
		next++
		return len(col.Messages()) > 0
	}, 20*time.Second, 200*time.Millisecond)
	code, _, stderr := stop()
	require.Equal(t, 0, code, stderr)
	for id := range fwdCollectorIDs(t, col) {
		for i := 0; i < 20; i++ {
			assert.NotEqual(t, forwardEvent(i).ID, id, "backlog event %d was forwarded", i)
		}
	}
}
