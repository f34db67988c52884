package detect

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/detect/corpus"
)

func loadRequests(b testing.TB, file string) []Request {
	f, err := os.Open(filepath.Join(corpusDir, file))
	require.NoError(b, err)
	defer f.Close()
	var out []Request
	err = corpus.Read(f, func(_ int, rec *corpus.Record) error {
		req := NewRequest(rec.Method, rec.URI, rec.Headers, rec.Body)
		out = append(out, req)
		return nil
	}, func(e *corpus.LineError) { b.Fatal(e) })
	require.NoError(b, err)
	return out
}

func benchmarkFile(b *testing.B, file string) {
	e, err := New(nil)
	require.NoError(b, err)
	p, err := e.Profile(Policy{})
	require.NoError(b, err)
	reqs := loadRequests(b, file)
	var dst []Finding
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(reqs) == 0 {
			// Each pass over the file starts with an empty cache of clean
			// header values, so a value is cheap only from its second
			// occurrence within the file, as on a gateway.
			b.StopTimer()
			p, _ = e.Profile(Policy{})
			b.StartTimer()
		}
		dst = p.Inspect(&reqs[i%len(reqs)], dst[:0])
	}
}

func BenchmarkInspectBenignSynthetic(b *testing.B) { benchmarkFile(b, "benign_synthetic.jsonl") }
func BenchmarkInspectAttacksPATT(b *testing.B) {
	benchmarkFile(b, "attacks_payloadsallthethings.jsonl")
}
