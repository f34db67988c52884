package kongsim

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Appendix A 3 and 6, §1.4, §2.7: a killed plugin server is respawned
// within about a second; requests in the gap get Kong's 500; traffic
// recovers through the closed-connection retry without restarting kongsim.
func TestKilledPluginServerIsRespawnedAndTrafficRecovers(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: probeYML(out, []string{"method"}, nil)})
	require.Equal(t, http.StatusOK, e.get(t, "/open", nil).status)
	// Let the first spawn age past the one-per-second limit so the
	// respawn delay is measured from the kill.
	time.Sleep(1100 * time.Millisecond)

	pid := e.gw.PluginServerPIDs()["probe"]
	require.NotZero(t, pid)
	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))

	gap, recovered := untilOK(t, e, killed)
	require.NotZero(t, recovered, "traffic recovered")
	t.Logf("recovered %v after the kill; %d requests in the gap", recovered, len(gap))
	assert.Less(t, recovered, 2*time.Second, "respawned within about a second")
	require.NotEmpty(t, gap, "requests during the gap fail")
	for _, r := range gap {
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "{\n  \"message\":\"An unexpected error occurred\",\n  \"request_id\":\""+r.header.Get("X-Kong-Request-Id")+"\"\n}", r.body)
	}
	assert.NotEqual(t, pid, e.gw.PluginServerPIDs()["probe"], "a new process")
	assert.Contains(t, e.log.String(), "external pluginserver 'probe' terminated: signal 9")
	assert.Contains(t, e.log.String(), "restarting instances and retrying", "the closed-connection retry path ran")

	t.Run("§1.4 respawns are at most one per second", func(t *testing.T) {
		pid := e.gw.PluginServerPIDs()["probe"]
		killed := time.Now()
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		_, recovered := untilOK(t, e, killed)
		require.NotZero(t, recovered)
		// The previous spawn happened just before this kill (the recovery
		// above took well under 400 ms), so the respawn waits most of a
		// second.
		assert.Greater(t, recovered, 600*time.Millisecond)
	})
}

func untilOK(t *testing.T, e *env, since time.Time) ([]response, time.Duration) {
	var gap []response
	for time.Since(since) < 5*time.Second {
		r := e.get(t, "/open", nil)
		if r.status == http.StatusOK {
			return gap, time.Since(since)
		}
		gap = append(gap, r)
		time.Sleep(20 * time.Millisecond)
	}
	return gap, 0
}
