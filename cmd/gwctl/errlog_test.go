package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/event"
)

func gwctlErrlog(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runErrlog(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func decodeLines(t *testing.T, out string) []event.Event {
	t.Helper()
	var evs []event.Event
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e event.Event
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		evs = append(evs, e)
	}
	return evs
}

func TestErrlogPrintOnceReadsTheFileAndSavesThePosition(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "error.log")
	data, err := os.ReadFile("../../pkg/errlog/testdata/nginx.log")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(log, data, 0o644))
	state := filepath.Join(dir, "state")

	code, out, errOut := gwctlErrlog(t, context.Background(), "-file", log, "-print", "-once", "-from-start", "-state", state, "-tz", "UTC", "-node-id", "n1")
	require.Equal(t, 0, code, errOut)
	evs := decodeLines(t, out)
	cats := map[string]int{}
	for _, e := range evs {
		assert.Equal(t, event.KongError, e.Type)
		assert.Equal(t, "n1", e.Kong.NodeID)
		cats[e.Detail.Category] += e.Detail.Count
	}
	assert.Equal(t, map[string]int{"upstream_connect": 2, "upstream_timeout": 1, "dns": 3, "worker_crash": 1, "certificate": 1, "critical": 1}, cats)

	// The second run starts where the first stopped: only the new line.
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("2026/11/25 22:00:00 [error] 1#1: *3 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.1.1.1, server: s\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	code, out, errOut = gwctlErrlog(t, context.Background(), "-file", log, "-print", "-once", "-state", state, "-tz", "UTC")
	require.Equal(t, 0, code, errOut)
	evs = decodeLines(t, out)
	require.Len(t, evs, 1)
	assert.Equal(t, "upstream_timeout", evs[0].Detail.Category)
	assert.Equal(t, "10.1.1.1", evs[0].Client.IP)
}

func TestErrlogPublishesToKafka(t *testing.T) {
	c := testkafka.Start(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "error.log")
	require.NoError(t, os.WriteFile(log, []byte(strings.Repeat(
		"2026/11/25 21:51:09 [notice] 1201#0: *2 [kong] process.lua:232 external pluginserver 'gatewatch' terminated: exit 2, context: ngx.timer\n", 3)), 0o644))
	code, _, errOut := gwctlErrlog(t, context.Background(), "-file", log, "-once", "-from-start", "-brokers", strings.Join(c.ListenAddrs(), ","))
	require.Equal(t, 0, code, errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := testkafka.Read(ctx, c.ListenAddrs(), "gatewatch.events", testkafka.AtLeast(1))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	var e event.Event
	require.NoError(t, json.Unmarshal(rs[0].Value, &e))
	assert.Equal(t, event.Detail{Level: "notice", Category: "pluginserver_terminated", Component: "kong",
		Message: "external pluginserver 'gatewatch' terminated: exit 2", Count: 3}, e.Detail)
	assert.Equal(t, event.High, e.Severity)
	headers := map[string]string{}
	for _, h := range rs[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	assert.Equal(t, "kong.error", headers["ce_type"])
}

func TestErrlogRejectsBadFlagsNamingThem(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown level is named", []string{"-print", "-min-level", "loud"}, "-min-level"},
		{"a zero window is refused", []string{"-print", "-window", "0s"}, "-window"},
		{"no brokers without -print is refused", []string{"-brokers", ""}, "-brokers"},
		{"a stray argument is refused", []string{"-print", "extra"}, "extra"},
		{"an unknown time zone is named", []string{"-print", "-tz", "Mars/Olympus"}, "-tz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := gwctlErrlog(t, context.Background(), tt.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut, tt.want)
		})
	}
}
