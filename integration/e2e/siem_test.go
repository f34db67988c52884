package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/testrsyslog"
	"github.com/gatewatch/gatewatch/pkg/event/encode/cef"
	"github.com/gatewatch/gatewatch/pkg/syslog"
	"github.com/gatewatch/gatewatch/pkg/syslog/syslogtest"
)

// Events that Kong traffic produced reach a real rsyslog through gwctl
// forward syslog: RFC 5424 with structured data over TCP, CEF over TLS,
// and every event id Kafka holds is in both of rsyslog's files.
func TestKongEventsReachARealSyslogCollector(t *testing.T) {
	s := startStack(t, stackOptions{})
	ca := syslogtest.NewCA(t)
	rs := testrsyslog.New(t, ca)
	rs.Start()

	for i := 0; i < 10; i++ {
		resp := s.get(t, "/orders", map[string]string{"apikey": fmt.Sprintf("nope-%d", i)})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	resp := s.get(t, "/reports", map[string]string{"apikey": "alice-demo-key"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.NoError(t, s.gw.WaitIdle(context.Background()))
	evs, _ := readEvents(t, s.brokers, 11, 0)

	// rsyslog's TLS input authenticates senders (x509/certvalid).
	client := ca.Issue(t, 11, "gatewatch-forwarder")
	certDir := t.TempDir()
	caFile := syslogtest.WriteFile(t, certDir, "ca.pem", ca.CertPEM)
	certFile := syslogtest.WriteFile(t, certDir, "client.pem", client.CertPEM)
	keyFile := syslogtest.WriteFile(t, certDir, "client-key.pem", client.KeyPEM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, fw := range [][]string{
		{"-addr", fmt.Sprintf("127.0.0.1:%d", rs.TCPPort), "-format", "sd", "-group", "e2e-sd"},
		{"-addr", fmt.Sprintf("127.0.0.1:%d", rs.TLSPort), "-format", "cef", "-group", "e2e-cef",
			"-tls-ca", caFile, "-tls-cert", certFile, "-tls-key", keyFile, "-tls-server-name", "collector.test"},
	} {
		args := append([]string{"forward", "syslog", "-brokers", strings.Join(s.brokers, ","), "-settle", "100ms"}, fw...)
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "gwctl"), args...)
		cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
		require.NoError(t, cmd.Start())
		defer func() { cancel(); _ = cmd.Wait() }()
	}

	want := map[string]bool{}
	for _, ev := range evs {
		want[ev.ID] = true
	}
	require.Eventually(t, func() bool {
		got := rs.IDsIn(rs.TCPFile)
		for id := range want {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "every event reaches rsyslog over TCP; rsyslog said:\n%s", rs.Output())

	cefIDs := map[string]bool{}
	var bad []string
	require.Eventually(t, func() bool {
		for _, line := range rs.Lines(rs.TLSFile) {
			m, err := syslog.Parse(line)
			if err != nil {
				bad = append(bad, fmt.Sprintf("not RFC 5424 (%v): %q", err, line))
				continue
			}
			rec, err := cef.Parse(string(m.Msg))
			if err != nil {
				bad = append(bad, fmt.Sprintf("not CEF (%v): %q", err, m.Msg))
				continue
			}
			if id := rec.Extension["externalId"]; id != "" {
				cefIDs[id] = true
			}
		}
		for id := range want {
			if !cefIDs[id] {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "every event reaches rsyslog as CEF over TLS")
	assert.Empty(t, bad)
	assert.Len(t, cefIDs, len(want))
}
