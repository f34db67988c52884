package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/detect"
)

// benignSample loads the first n records of the shared benign corpus
// (GATEWATCH_CORPUS overrides the directory); a missing corpus fails.
func benignSample(b *testing.B, n int) []*record {
	b.Helper()
	dir := os.Getenv("GATEWATCH_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "corpus")
	}
	cf, err := loadFile(filepath.Join(dir, "benign_synthetic.jsonl"))
	require.NoError(b, err, "set GATEWATCH_CORPUS to the corpus directory")
	if len(cf.records) > n {
		cf.records = cf.records[:n]
	}
	return cf.records
}

// BenchmarkGatewatchBenign is one Inspect per op over benign traffic, the
// monitor's steady state.
func BenchmarkGatewatchBenign(b *testing.B) {
	rs := benignSample(b, 1000)
	eng, err := detect.New(nil)
	require.NoError(b, err)
	p, err := eng.Profile(detect.Policy{Paranoia: 1})
	require.NoError(b, err)
	var buf []detect.Finding
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = p.Inspect(&rs[i%len(rs)].req, buf[:0])
	}
}

// BenchmarkCorazaCRSBenign is one Coraza transaction per op over the same
// requests, with the CRS at paranoia 1.
func BenchmarkCorazaCRSBenign(b *testing.B) {
	rs := benignSample(b, 1000)
	c, err := newCoraza(1)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.detect(rs[i%len(rs)])
	}
}
