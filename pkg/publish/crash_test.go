package publish

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/spool"
)

// The SIGKILL test runs a child copy of this test binary (see TestMain):
// it spools events while the broker is down, says so, and is killed.
const (
	helperEnv   = "GATEWATCH_PUBLISH_TEST_CHILD"
	helperDir   = "GATEWATCH_PUBLISH_TEST_SPOOL"
	helperCount = 2000
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(spoolAndWaitToBeKilled())
	}
	os.Exit(m.Run())
}

func spoolAndWaitToBeKilled() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 2
	}
	addr := l.Addr().String()
	_ = l.Close()
	p, err := New(Config{Brokers: []string{addr}, Topic: testTopic, Spool: spool.Config{Dir: os.Getenv(helperDir), Fsync: spool.FsyncAlways}})
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	for i := range helperCount {
		if !p.Enqueue(event(i, 100)) {
			fmt.Println("error: refused")
			return 2
		}
	}
	for p.Stats().Spooled < helperCount {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("spooled")
	time.Sleep(time.Hour) // until SIGKILL
	return 0
}

func TestAProcessKilledWithEventsSpooledLosesNone(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperDir+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "spooled\n", line)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	c := startCluster(t)
	cfg := testConfig(c.ListenAddrs())
	cfg.Spool = spool.Config{Dir: dir}
	p := newPublisher(t, cfg)
	waitDrained(t, p, 30*time.Second)
	require.NoError(t, p.Close(context.Background()))
	assertEveryID(t, readAll(t, c.ListenAddrs(), helperCount, testkafka.Security{}), eventIDs(0, helperCount))
	assert.EqualValues(t, helperCount, p.Stats().Replayed)
}
