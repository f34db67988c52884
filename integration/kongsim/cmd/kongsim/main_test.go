package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// The command serves kong.yml from a kong.conf, answers like Kong 3.4 when
// asked, and prints the statistics at exit.
func TestCommandServesAndPrintsStatsAtExit(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	dir := t.TempDir()
	yml := filepath.Join(dir, "kong.yml")
	require.NoError(t, os.WriteFile(yml, []byte(fmt.Sprintf(`_format_version: "3.0"
services:
  - name: s
    url: %s
    routes:
      - name: r
        paths: ["/r"]
        plugins: [ { name: key-auth } ]
`, up.URL)), 0o644))
	conf := filepath.Join(dir, "kong.conf")
	require.NoError(t, os.WriteFile(conf, []byte("plugins = bundled # all of them\ndeclarative_config = "+yml+"\n"), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-conf", conf, "-listen", "127.0.0.1:0", "-kong-version", "3.4", "-prefix", dir}, stdout, stderr)
	}()
	var url string
	re := regexp.MustCompile(`proxy on (http://\S+)`)
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "stderr: %s", stderr.String())

	resp, err := http.Get(url + "/r")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, `Key realm="kong"`, resp.Header.Get("WWW-Authenticate"), "Kong 3.4's missing-key challenge")
	assert.Equal(t, "{\n  \"message\":\"No API key found in request\"\n}", string(body))

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, stdout.String(), "requests  1")
	assert.Contains(t, stdout.String(), "plugin")
}

func TestCommandRejectsABadConfig(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "kong.yml")
	require.NoError(t, os.WriteFile(yml, []byte(`_format_version: "3.0"
plugins: [ { name: key-auth, config: { key_nmes: [x] } } ]
`), 0o644))
	err := run(context.Background(), []string{"-declarative", yml, "-listen", "127.0.0.1:0", "-prefix", dir}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "config.key_nmes: unknown field")
}
