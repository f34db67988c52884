package spool

import (
	"bytes"
	"testing"
	"time"
)

func benchRecords(n int) []Record {
	rs := recs(0, n, time.Now())
	for i := range rs {
		rs[i].Value = bytes.Repeat([]byte{'v'}, 1024)
	}
	return rs
}

// BenchmarkAppend writes batches of 100 1 KB records (the default fsync
// policy, interval), as the publisher does during an outage; per record.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := benchRecords(100)
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(rs) {
		if err := s.Append(rs[:min(len(rs), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay reads and acknowledges 1 KB records in batches of 1000,
// as the replayer does; per record.
func BenchmarkReplay(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir(), Fsync: FsyncNever}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := benchRecords(1000)
	for i := 0; i < b.N; i += len(rs) {
		if err := s.Append(rs[:min(len(rs), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	for read := 0; read < b.N; {
		got, cur, err := s.Peek(1000, 1<<20)
		if err != nil || len(got) == 0 {
			b.Fatalf("read %d of %d: %v", read, b.N, err)
		}
		if err := s.Ack(cur); err != nil {
			b.Fatal(err)
		}
		read += len(got)
	}
}
