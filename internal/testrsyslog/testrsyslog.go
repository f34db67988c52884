// Package testrsyslog runs a real rsyslogd (Debian packages rsyslog and
// rsyslog-gnutls) on 127.0.0.1 for tests, with a plain TCP input and a TLS
// input, each writing what it received in RFC 5424 layout to its own file.
package testrsyslog

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/syslog"
	"github.com/gatewatch/gatewatch/pkg/syslog/syslogtest"
)

// Rsyslog is a real rsyslogd with a plain TCP input and a TLS input, each
// writing what it parsed back out in RFC 5424 layout to its own file.
type Rsyslog struct {
	t                *testing.T
	dir, conf        string
	TCPPort, TLSPort int
	TCPFile, TLSFile string
	cmd              *exec.Cmd
}

func binary(t *testing.T) string {
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/rsyslogd"); err == nil {
		return "/usr/sbin/rsyslogd"
	}
	t.Fatal("rsyslogd not found: run scripts/setup.sh (Debian packages rsyslog and rsyslog-gnutls)")
	return ""
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// New prepares an rsyslogd whose TLS input presents a certificate from ca.
func New(t *testing.T, ca *syslogtest.CA) *Rsyslog {
	dir := t.TempDir()
	srv := ca.Issue(t, 10, "127.0.0.1", "collector.test")
	r := &Rsyslog{t: t, dir: dir, TCPPort: freePort(t), TLSPort: freePort(t),
		TCPFile: filepath.Join(dir, "tcp.log"), TLSFile: filepath.Join(dir, "tls.log")}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "work"), 0o700))
	caFile := syslogtest.WriteFile(t, dir, "ca.pem", ca.CertPEM)
	certFile := syslogtest.WriteFile(t, dir, "server.pem", srv.CertPEM)
	keyFile := syslogtest.WriteFile(t, dir, "server-key.pem", srv.KeyPEM)
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k"
  defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)
module(load="imtcp")
template(name="rfc5424" type="string" string="<%%PRI%%>1 %%TIMESTAMP:::date-rfc3339%% %%HOSTNAME%% %%APP-NAME%% %%PROCID%% %%MSGID%% %%STRUCTURED-DATA%% %%msg%%\n")
ruleset(name="tcp") { action(type="omfile" file=%q template="rfc5424") }
ruleset(name="tls") { action(type="omfile" file=%q template="rfc5424") }
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="tls"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
`, filepath.Join(dir, "work"), caFile, certFile, keyFile, r.TCPFile, r.TLSFile, r.TCPPort, r.TLSPort)
	r.conf = syslogtest.WriteFile(t, dir, "rsyslog.conf", []byte(conf))
	return r
}

// Start runs rsyslogd until Stop or the end of the test, and waits until
// both inputs listen.
func (r *Rsyslog) Start() {
	r.t.Helper()
	r.cmd = exec.Command(binary(r.t), "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	log, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(r.t, err)
	defer log.Close()
	r.cmd.Stdout, r.cmd.Stderr = log, log
	require.NoError(r.t, r.cmd.Start())
	r.t.Cleanup(r.Stop)
	for _, port := range []int{r.TCPPort, r.TLSPort} {
		require.Eventually(r.t, func() bool {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "rsyslogd did not listen on %d (for TLS it needs Debian package rsyslog-gnutls: run scripts/setup.sh); its output:\n%s", port, r.Output())
	}
}

// Stop ends rsyslogd with SIGTERM (SIGKILL after 10 s).
func (r *Rsyslog) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// Output is what rsyslogd printed.
func (r *Rsyslog) Output() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "rsyslogd.out"))
	return string(b)
}

// Lines reads one of rsyslog's output files.
func (r *Rsyslog) Lines(file string) []string {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(r.t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// IDsIn parses every line of file as RFC 5424 and counts the event ids in
// its structured data.
func (r *Rsyslog) IDsIn(file string) map[string]int {
	ids := map[string]int{}
	for _, l := range r.Lines(file) {
		m, err := syslog.Parse(l)
		require.NoError(r.t, err, "rsyslog wrote a line that is not RFC 5424: %q", l)
		id, ok := m.Param(syslog.DefaultSDID, "id")
		require.True(r.t, ok, "no event id in %q", l)
		ids[id]++
	}
	return ids
}
