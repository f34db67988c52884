package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/alert/consumer"
)

// BenchmarkEventToAlertmanager measures, per iteration, the time from
// producing a brute-force burst for a new client IP to the alert being
// visible in a real Alertmanager's API, and reports the median and p99.
// Run with a fixed count: go test -run '^$' -bench EventToAlertmanager -benchtime 100x ./cmd/gwctl/
func BenchmarkEventToAlertmanager(b *testing.B) {
	cluster := testkafka.Start(b)
	brokers := cluster.ListenAddrs()
	amURL := startAlertmanager(b)
	hs := httptest.NewServer(&recorder{})
	defer hs.Close()
	rules := filepath.Join(b.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(fmt.Sprintf(e2eRules, amURL, hs.URL)), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan *consumer.Consumer, 1)
	done := make(chan int, 1)
	go func() {
		done <- runAlertWith(ctx, []string{"-rules", rules, "-brokers", strings.Join(brokers, ","), "-group", "bench", "-from-start", "-tick", "50ms"},
			io.Discard, io.Discard, alertOpts{ready: func(c *consumer.Consumer) { ready <- c }})
	}()
	select {
	case <-ready:
	case <-done:
		b.Fatal("gwctl alert exited")
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ip := fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)
		start := time.Now()
		produceAuthFailures(b, brokers, ip, 20, start.UTC())
		for !amHas(b, amURL, ip) {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("alert for %s not visible after 10s", ip)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	cancel()
	<-done
}
