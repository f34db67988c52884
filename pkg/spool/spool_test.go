package spool

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

var update = flag.Bool("update", false, "rewrite golden files")

func rec(i int, at time.Time) Record {
	return Record{
		Topic:   "gatewatch.events",
		Key:     []byte(fmt.Sprintf("10.0.0.%d", i%250)),
		Value:   []byte(fmt.Sprintf(`{"id":"ev-%06d","pad":"%s"}`, i, bytes.Repeat([]byte{'x'}, 100))),
		Headers: []Header{{Key: "ce_id", Value: []byte(fmt.Sprintf("ev-%06d", i))}},
		ID:      fmt.Sprintf("ev-%06d", i),
		Time:    at,
	}
}

func recs(from, n int, at time.Time) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = rec(from+i, at)
	}
	return out
}

// drops collects what a spool reports as lost.
type drops map[string]int

func (d drops) add(n int, reason string) { d[reason] += n }

func open(t *testing.T, c Config, d drops) *Spool {
	t.Helper()
	s, err := Open(c, d.add)
	require.NoError(t, err)
	return s
}

// drain peeks and acks until the spool is empty and returns the ids read.
func drain(t *testing.T, s *Spool, batch int) []string {
	t.Helper()
	var ids []string
	for {
		rs, cur, err := s.Peek(batch, 1<<20)
		require.NoError(t, err)
		if len(rs) == 0 {
			return ids
		}
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		require.NoError(t, s.Ack(cur))
	}
}

func idRange(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ev-%06d", from+i)
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

func TestRecordsComeBackInOrderWithEveryFsyncPolicy(t *testing.T) {
	for _, fsync := range []string{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run("fsync "+fsync+" keeps order across segments", func(t *testing.T) {
			dir := t.TempDir()
			d := drops{}
			s := open(t, Config{Dir: dir, Fsync: fsync, SegmentBytes: 4096, FsyncInterval: time.Millisecond}, d)
			now := time.Now()
			for i := 0; i < 500; i += 50 {
				require.NoError(t, s.Append(recs(i, 50, now)))
			}
			assert.Greater(t, len(segments(t, dir)), 5, "small segments rotate")
			st := s.Stats()
			assert.EqualValues(t, 500, st.Records)
			assert.Equal(t, now.UnixNano(), st.Oldest.UnixNano())
			assert.Equal(t, idRange(0, 500), drain(t, s, 37))
			assert.Zero(t, s.Stats().Records)
			assert.LessOrEqual(t, len(segments(t, dir)), 1, "acknowledged segments are deleted")
			require.NoError(t, s.Close())
			assert.Empty(t, segments(t, dir), "a closed, fully acknowledged spool leaves no segment")
			assert.Empty(t, d)
		})
	}
}

func TestRecordsSurviveEveryFieldIntact(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir()}, drops{})
	defer s.Close()
	in := Record{Topic: "t", Key: nil, Value: []byte{0, 1, 2}, ID: "x", Time: time.Unix(1700000000, 123456789)}
	in2 := rec(7, time.Unix(0, 1))
	require.NoError(t, s.Append([]Record{in, in2}))
	out, _, err := s.Peek(10, 1<<20)
	require.NoError(t, err)
	require.Len(t, out, 2)
	assert.Equal(t, in.Topic, out[0].Topic)
	assert.Empty(t, out[0].Key)
	assert.Equal(t, in.Value, out[0].Value)
	assert.Empty(t, out[0].Headers)
	assert.True(t, in.Time.Equal(out[0].Time))
	assert.Equal(t, in2.Headers, out[1].Headers)
	assert.Equal(t, in2.Key, out[1].Key)
}

func TestAnUnacknowledgedPeekIsReadAgain(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir()}, drops{})
	defer s.Close()
	require.NoError(t, s.Append(recs(0, 10, time.Now())))
	a, _, err := s.Peek(5, 1<<20)
	require.NoError(t, err)
	b, _, err := s.Peek(5, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, a, b, "until Ack, Peek returns the same records (Kafka may not have them)")
}

func TestASpoolEmptiedThenRefilledAndKilledLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentBytes: 4096}, drops{})
	for i := 0; i < 100; i += 10 {
		require.NoError(t, s.Append(recs(i, 10, time.Now())))
	}
	require.Len(t, drain(t, s, 30), 100)
	require.NoError(t, s.Close()) // every segment acknowledged and gone

	s2 := open(t, Config{Dir: dir, SegmentBytes: 4096}, drops{})
	require.NoError(t, s2.Append(recs(100, 10, time.Now())))
	// killed: no Close

	s3 := open(t, Config{Dir: dir, SegmentBytes: 4096}, drops{})
	defer s3.Close()
	assert.Equal(t, idRange(100, 10), drain(t, s3, 30), "new segments never reuse a number the cursor calls acknowledged")
}

func TestASpoolLeftByAKilledProcessIsFoundAgain(t *testing.T) {
	tests := []struct {
		name   string
		acked  int
		closed bool
		want   []string
	}{
		{"an unclosed spool gives back every record", 0, false, idRange(0, 300)},
		{"an unclosed spool skips what was acknowledged", 120, false, idRange(120, 180)},
		{"a closed spool skips what was acknowledged", 120, true, idRange(120, 180)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, Config{Dir: dir, SegmentBytes: 8192, Fsync: FsyncNever}, drops{})
			require.NoError(t, s.Append(recs(0, 300, time.Now())))
			for done := 0; done < tt.acked; {
				rs, cur, err := s.Peek(min(40, tt.acked-done), 1<<20)
				require.NoError(t, err)
				require.NoError(t, s.Ack(cur))
				done += len(rs)
			}
			if tt.closed {
				require.NoError(t, s.Close())
			}
			// Without Close the files stay as a SIGKILL leaves them.
			d := drops{}
			s2 := open(t, Config{Dir: dir, SegmentBytes: 8192}, d)
			defer s2.Close()
			assert.EqualValues(t, len(tt.want), s2.Stats().Records)
			assert.Equal(t, tt.want, drain(t, s2, 64))
			assert.Empty(t, d)
		})
	}
}

func TestDamagedRecordsAreSkippedAndCounted(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, segs []string)
		lostMax int
	}{
		{"a torn final record is skipped", func(t *testing.T, segs []string) {
			last := segs[len(segs)-1]
			fi, err := os.Stat(last)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(last, fi.Size()-7))
		}, 1},
		{"a record with flipped bytes mid-segment is skipped", func(t *testing.T, segs []string) {
			flip(t, segs[1], 300)
		}, 1},
		{"a destroyed frame header is skipped", func(t *testing.T, segs []string) {
			b, err := os.ReadFile(segs[2])
			require.NoError(t, err)
			copy(b[0:], []byte("XXXXXXXXXX")) // magic, length and checksum of the first record
			require.NoError(t, os.WriteFile(segs[2], b, 0o600))
		}, 1},
		{"a zeroed block across several records is skipped", func(t *testing.T, segs []string) {
			b, err := os.ReadFile(segs[0])
			require.NoError(t, err)
			for i := 500; i < 1500 && i < len(b); i++ {
				b[i] = 0
			}
			require.NoError(t, os.WriteFile(segs[0], b, 0o600))
		}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, Config{Dir: dir, SegmentBytes: 4096}, drops{})
			for i := 0; i < 100; i += 10 {
				require.NoError(t, s.Append(recs(i, 10, time.Now())))
			}
			require.NoError(t, s.Close())
			segs := segments(t, dir)
			require.GreaterOrEqual(t, len(segs), 3)
			tt.damage(t, segs)

			d := drops{}
			s2 := open(t, Config{Dir: dir, SegmentBytes: 4096}, d)
			defer s2.Close()
			ids := drain(t, s2, 7)
			assert.Equal(t, 1, d[DropCorrupt], "one damaged region, counted once")
			lost := 100 - len(ids)
			assert.GreaterOrEqual(t, lost, 1)
			assert.LessOrEqual(t, lost, tt.lostMax, "nothing but the damaged records is lost")
			assertOrdered(t, ids)
		})
	}
}

func flip(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[at] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func assertOrdered(t *testing.T, ids []string) {
	t.Helper()
	assert.True(t, sort.StringsAreSorted(ids), "records come back in order")
}

func TestTheByteLimitDropsTheOldestSegment(t *testing.T) {
	dir := t.TempDir()
	d := drops{}
	s := open(t, Config{Dir: dir, MaxBytes: 16 << 10}, d) // segments of 4 KiB
	defer s.Close()
	for i := 0; i < 1000; i += 10 {
		require.NoError(t, s.Append(recs(i, 10, time.Now())))
		assert.LessOrEqual(t, s.Stats().Bytes, int64(16<<10), "the spool never grows past MaxBytes")
	}
	st := s.Stats()
	assert.Positive(t, d[DropFull])
	assert.EqualValues(t, 1000, int64(d[DropFull])+st.Records, "every record is either kept or counted as dropped")
	ids := drain(t, s, 100)
	assert.Equal(t, idRange(1000-len(ids), len(ids)), ids, "the newest records are kept")
}

func TestABatchLargerThanTheLimitIsDroppedWhole(t *testing.T) {
	d := drops{}
	s := open(t, Config{Dir: t.TempDir(), MaxBytes: 1024}, d)
	defer s.Close()
	require.NoError(t, s.Append(recs(0, 20, time.Now())))
	assert.Equal(t, 20, d[DropFull])
	assert.Zero(t, s.Stats().Records)
}

func TestTheAgeLimitDropsOldSegments(t *testing.T) {
	d := drops{}
	s := open(t, Config{Dir: t.TempDir(), MaxAge: time.Hour, SegmentBytes: 4096}, d)
	defer s.Close()
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, s.Append(recs(0, 60, old)))
	require.NoError(t, s.Append(recs(60, 10, time.Now())))
	s.Enforce(time.Now())
	assert.Equal(t, 60, d[DropAge])
	assert.Equal(t, idRange(60, 10), drain(t, s, 100))
}

func TestAcknowledgingARecordOfADroppedSegmentIsHarmless(t *testing.T) {
	d := drops{}
	s := open(t, Config{Dir: t.TempDir(), MaxBytes: 8 << 10}, d)
	defer s.Close()
	require.NoError(t, s.Append(recs(0, 10, time.Now())))
	_, cur, err := s.Peek(5, 1<<20)
	require.NoError(t, err)
	for i := 10; i < 200; i += 10 {
		require.NoError(t, s.Append(recs(i, 10, time.Now())))
	}
	require.NoError(t, s.Ack(cur))
	assert.EqualValues(t, 200, int64(d[DropFull])+s.Stats().Records)
}

func TestClosedSpoolRefusesWork(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir()}, drops{})
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Append(recs(0, 1, time.Now())), ErrClosed)
	_, _, err := s.Peek(1, 1)
	assert.ErrorIs(t, err, ErrClosed)
	assert.NoError(t, s.Close(), "closing twice is harmless")
}

func TestOpenRejectsBadConfigNamingTheField(t *testing.T) {
	tests := []struct {
		name  string
		c     Config
		field string
	}{
		{"an empty directory is refused", Config{}, "Dir"},
		{"an unknown fsync policy is refused", Config{Dir: "x", Fsync: "sometimes"}, "Fsync"},
		{"a negative byte limit is refused", Config{Dir: "x", MaxBytes: -1}, "MaxBytes"},
		{"a negative age is refused", Config{Dir: "x", MaxAge: -1}, "MaxAge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.c, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestTheRecordFormatIsStable(t *testing.T) {
	var buf bytes.Buffer
	r := Record{Topic: "gatewatch.events", Key: []byte("203.0.113.7"), Value: []byte(`{"id":"e1"}`),
		Headers: []Header{{Key: "ce_id", Value: []byte("e1")}}, ID: "e1", Time: time.Unix(1764000000, 42)}
	require.NoError(t, appendFrame(&buf, msgpack.NewEncoder(nil), &r))
	golden := filepath.Join("testdata", "record.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, want, buf.Bytes(), "a spool written by an older gatewatch must stay readable")
	payload, n, st := parseFrame(want)
	require.Equal(t, frameOK, st)
	assert.Equal(t, len(want), n)
	got, err := decodeRecord(payload, msgpack.NewDecoder(nil))
	require.NoError(t, err)
	assert.Equal(t, r.ID, got.ID)
	assert.True(t, r.Time.Equal(got.Time))
}

// FuzzFrames feeds arbitrary segment contents to the frame reader and
// record decoder: they must neither panic nor stall, and every byte is
// either part of a good frame or skipped.
func FuzzFrames(f *testing.F) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(nil)
	for i := range 3 {
		r := rec(i, time.Unix(1, 0))
		_ = appendFrame(&buf, enc, &r)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-3])
	f.Add([]byte("GW\x00\x00\x00\x05\x00\x00\x00\x00hello"))
	f.Add([]byte{})
	dec := msgpack.NewDecoder(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		good, skipped := 0, 0
		for off := 0; off < len(data); {
			payload, n, st := parseFrame(data[off:])
			if st != frameOK {
				step := resync(data[off:])
				require.Positive(t, step, "the reader makes progress")
				off += step
				skipped++
				continue
			}
			require.Equal(t, frameHeader+len(payload), n)
			if _, err := decodeRecord(payload, dec); err == nil {
				good++
			}
			off += n
		}
		assert.LessOrEqual(t, good+skipped, len(data))
	})
}

// TestRandomlyDamagedSegmentsAreReadToTheEnd damages a good segment in
// random ways (seeded, so a failure repeats) and checks that the spool
// opens it and reads to its end without error or stall.
func TestRandomlyDamagedSegmentsAreReadToTheEnd(t *testing.T) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(nil)
	for i := range 5 {
		r := rec(i, time.Unix(1, 0))
		require.NoError(t, appendFrame(&buf, enc, &r))
	}
	seed := buf.Bytes()
	rnd := rand.New(rand.NewPCG(1, 2))
	for it := range 300 {
		data := bytes.Clone(seed)
		for range 1 + rnd.IntN(8) {
			switch rnd.IntN(3) {
			case 0:
				data[rnd.IntN(len(data))] = byte(rnd.IntN(256))
			case 1:
				data = data[:1+rnd.IntN(len(data))]
			case 2:
				i := rnd.IntN(len(data) + 1)
				data = slices.Insert(data, i, byte(rnd.IntN(256)))
			}
		}
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000001"+segExt), data, 0o600))
		d := drops{}
		s, err := Open(Config{Dir: dir, Fsync: FsyncNever}, d.add)
		require.NoError(t, err)
		read := 0
		for i := 0; ; i++ {
			require.Less(t, i, len(data)+2, "iteration %d: the reader makes progress", it)
			rs, cur, err := s.Peek(2, 1<<20)
			require.NoError(t, err)
			if len(rs) == 0 {
				break
			}
			read += len(rs)
			require.NoError(t, s.Ack(cur))
		}
		assert.LessOrEqual(t, read, 5+1, "iteration %d", it)
		assert.Zero(t, s.Stats().Records, "iteration %d: nothing left unread", it)
		require.NoError(t, s.Close())
	}
}
