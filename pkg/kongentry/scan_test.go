package kongentry

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scanPlainBytewise is scanPlain one byte at a time: the definition the
// word-at-a-time version must agree with.
func scanPlainBytewise(s string, i int) int {
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

func TestScanPlainFindsTheFirstSpecialByteAtEveryOffset(t *testing.T) {
	for _, stop := range []byte{'"', '\\', 0x00, 0x01, 0x1f} {
		for _, filler := range []byte{'a', 0x20, 0x21, 0x7f, 0x80, 0xa0, 0xff} {
			for n := 0; n < 24; n++ {
				for at := 0; at <= n; at++ {
					b := []byte(strings.Repeat(string(filler), n))
					if at < n {
						b[at] = stop
					}
					s := string(b)
					for from := 0; from <= n; from++ {
						want := scanPlainBytewise(s, from)
						require.Equal(t, want, scanPlain(s, from), "stop %#x filler %#x len %d at %d from %d", stop, filler, n, at, from)
					}
				}
			}
		}
	}
}

func FuzzScanPlain(f *testing.F) {
	f.Add("abcdefgh\"ijkl", 0)
	f.Add("\x1f\\\"", 1)
	f.Fuzz(func(t *testing.T, s string, from int) {
		if from < 0 || from > len(s) {
			from = 0
		}
		if got, want := scanPlain(s, from), scanPlainBytewise(s, from); got != want {
			t.Fatalf("scanPlain(%q, %d) = %d, want %d", s, from, got, want)
		}
	})
}

// Strings of every length up to a few words, with escapes and multi-byte
// characters at every position, decode as encoding/json decodes them, and
// raw control characters are refused as encoding/json refuses them.
func TestStringsAtEveryAlignmentLikeEncodingJSON(t *testing.T) {
	for _, piece := range []string{`\"`, `\\`, `\/`, `\n`, `\u00e9`, `\ud83d\ude00`, "é", "世", "\x1f", "\x7f", `x`} {
		for pad := 0; pad < 9; pad++ {
			for n := 0; n < 20; n++ {
				for at := 0; at <= n; at += 3 {
					lit := `"` + strings.Repeat("a", at) + piece + strings.Repeat("b", n-at) + `"`
					doc := `{"request":{"uri":"` + strings.Repeat("p", pad) + `"},"client_ip":` + lit + `,"response":{"status":200}}`
					var want string
					wantErr := json.Unmarshal([]byte(lit), &want)
					var e Entry
					err := DecodeString(doc, &e)
					if wantErr != nil {
						assert.Error(t, err, lit)
						continue
					}
					require.NoError(t, err, lit)
					require.Equal(t, want, e.ClientIP, lit)
				}
			}
		}
	}
}

// Numbers read without strconv.ParseFloat give exactly its value (sign of
// zero included), and what it refuses the decoder refuses.
func TestNumbersLikeParseFloat(t *testing.T) {
	nums := []string{
		"0", "-0", "00", "-00", "7", "-1", "007", "-007", "426", "1764500000000", "1700000000100",
		"123456789012345", "-123456789012345", "999999999999999", "1234567890123456", "9007199254740993",
		"-9007199254740993", "12345678901234567890", "1e3", "1E+2", "1.5", "-0.0", "5.", ".5", "1e400",
		"-1e400", "1e-400", "+1", "-", "--1", "1-2", "1e", "0.1e", "2e2e2",
	}
	for i := int64(1); i < 1e15; i = i*7 + 3 {
		nums = append(nums, strconv.FormatInt(i, 10), strconv.FormatInt(-i, 10))
	}
	for _, n := range nums {
		checkNumber(t, n)
	}
}

func FuzzNumbersLikeParseFloat(f *testing.F) {
	for _, s := range []string{"0", "-0", "1764500000000", "1e400", "-1.5e-3", "123456789012345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || strings.IndexFunc(s, func(r rune) bool { return r >= 256 || !numByte[r] }) >= 0 {
			return // only what num collects
		}
		checkNumber(t, s)
	})
}

func checkNumber(t *testing.T, n string) {
	t.Helper()
	want, wantErr := strconv.ParseFloat(n, 64)
	var e Entry
	err := DecodeString(`{"started_at":`+n+`,"response":{"status":200}}`, &e)
	if wantErr != nil {
		require.Error(t, err, n)
		return
	}
	require.NoError(t, err, n)
	require.Equal(t, math.Float64bits(want), math.Float64bits(e.StartedAt), "%s: got %v, want %v", n, e.StartedAt, want)
	// A skipped number is checked the same way.
	require.NoError(t, DecodeString(`{"x":`+n+`,"response":{"status":200}}`, &e), n)
}

// exported is e without its reusable buffers, for comparing two entries'
// contents.
func exported(e Entry) Entry {
	e.doc, e.arena = nil, nil
	// A reused Entry's slices are empty rather than nil.
	if len(e.Request.Headers) == 0 {
		e.Request.Headers = nil
	}
	if len(e.Response.Headers) == 0 {
		e.Response.Headers = nil
	}
	if len(e.Tries.List) == 0 {
		e.Tries.List = nil
	}
	return e
}

// An Entry decoded into again and again (as the monitor's pooled one is)
// holds exactly what a fresh Entry would, whatever it held before.
func TestAReusedEntryDecodesLikeAFreshOne(t *testing.T) {
	big := `{"request":{"uri":"` + strings.Repeat(`\/x`, 40000) + `","headers":{"a":"` + strings.Repeat(`\"`, 100) + `"}},"response":{"status":500}}`
	docs := []string{
		kong39,
		`{"response":{"status":404}}`,
		`{"request":{"uri":"\/a\/b","headers":{"x":["\/1","\/2","\/3"]}},"response":{"status":401,"headers":{"www-authenticate":"Key"}},"route":{"id":"\u0072"},"consumer":null}`,
		big,
		kong39,
		`{"route":{"name":"a"},"route":{"id":"b"},"response":{"status":200}}`,
		`{"request":{"uri":"\/short"},"response":{"status":200},"upstream_status":502}`,
		`{"response":{"status":502},"upstream_status":-0}`,
		`{"response":{"status":502},"upstream_status":0502}`,
		`{"response":{"status":502},"upstream_status":5.02e2}`,
		`{"response":{"status":502},"upstream_status":-7}`,
		`{"response":{"status":502},"upstream_status":0}`,
	}
	var reused Entry
	for round := 0; round < 2; round++ {
		for i, doc := range docs {
			var fresh Entry
			errFresh := DecodeString(doc, &fresh)
			err := DecodeString(doc, &reused)
			require.Equal(t, errFresh == nil, err == nil, "doc %d", i)
			require.Equal(t, exported(fresh), exported(reused), "doc %d", i)
			// And through Decode, which copies the document into the Entry.
			require.NoError(t, Decode([]byte(doc), &reused))
			require.Equal(t, exported(fresh), exported(reused), "doc %d", i)
		}
	}
	assert.LessOrEqual(t, cap(reused.arena), maxRetained, "a huge entry's arena is not kept")
}

// A reused Entry decodes a typical entry without allocating; this is what
// lets the monitor's hot path run allocation-free.
func TestAReusedEntryDoesNotAllocate(t *testing.T) {
	var e Entry
	data := []byte(kong39)
	require.NoError(t, Decode(data, &e))
	require.NoError(t, DecodeString(kong39, &e))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if err := DecodeString(kong39, &e); err != nil {
			t.Fatal(err)
		}
	}), "DecodeString")
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if err := Decode(data, &e); err != nil {
			t.Fatal(err)
		}
	}), "Decode")
}

// A numeric upstream_status (buffered proxying) reads as strconv.Itoa
// writes the number, whether or not the document already spells it so.
func TestNumericUpstreamStatusReadsLikeItoa(t *testing.T) {
	for _, n := range []string{"200", "0", "-0", "0502", "5.02e2", "-7", "502.9", "123456789012345", "1234567890123456"} {
		f, err := strconv.ParseFloat(n, 64)
		require.NoError(t, err)
		var e Entry
		require.NoError(t, DecodeString(`{"response":{"status":502},"upstream_status":`+n+`}`, &e), n)
		assert.Equal(t, UpstreamStatus(strconv.Itoa(int(f))), e.UpstreamStatus, n)
	}
}
