package kongentry

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Kong 3.9 entry as cjson encodes it (kong-reference §5.1): escaped
// slashes, multi-valued headers as arrays, a numeric upstream_status with
// buffered proxying, empty tables as {}.
const kong39 = `{"request":{"id":"4c2d7e0f9a1b4c3d8e7f6a5b4c3d2e1f","uri":"\/echo?x=1&y=2","url":"http:\/\/localhost:8000\/echo?x=1&y=2",
"querystring":{"x":"1","y":"2"},"method":"GET","headers":{"host":"localhost:8000","user-agent":"curl\/8.5.0","accept":["a","b"],"x-flag":true},"size":112},
"upstream_uri":"\/echo?x=1","upstream_status":200,
"response":{"status":200,"headers":{"content-type":"application\/json","x-kong-request-id":"4c2d"},"size":402},
"latencies":{"kong":1,"proxy":3,"request":5.5,"receive":0},
"tries":[{"balancer_start":1700000000101,"ip":"127.0.0.1","port":9000,"balancer_latency":0}],
"authenticated_entity":{"id":"c1d2"},
"route":{"id":"r1","name":"echo-route","paths":["\/echo"],"service":{"id":"s1"}},
"service":{"id":"s1","name":"echo","host":"127.0.0.1","port":9000},
"consumer":{"id":"9a2b","username":"alice","created_at":1700000000},
"client_ip":"127.0.0.1","started_at":1700000000100,"source":"upstream",
"workspace":"0dc6","workspace_name":"default","gatewatch":{"action":"logged"}}`

func TestDecodesAKong39Entry(t *testing.T) {
	var e Entry
	require.NoError(t, Decode([]byte(kong39), &e))
	assert.Equal(t, "4c2d7e0f9a1b4c3d8e7f6a5b4c3d2e1f", e.Request.ID)
	assert.Equal(t, "/echo", e.Request.Path())
	assert.Equal(t, "x=1&y=2", e.Request.RawQuery())
	assert.Equal(t, "localhost:8000", e.Request.Host())
	assert.Equal(t, 2, e.Request.Headers.Count("accept"))
	assert.Equal(t, "a", e.Request.Headers.Get("accept"))
	assert.Equal(t, "true", e.Request.Headers.Get("x-flag"))
	assert.Equal(t, UpstreamStatus("200"), e.UpstreamStatus)
	assert.Equal(t, 200, e.Response.Status)
	assert.Equal(t, 5.5, e.Latencies.Request)
	assert.True(t, e.Tries.Present)
	assert.Len(t, e.Tries.List, 1)
	assert.Equal(t, "echo-route", e.Route.Name)
	assert.Equal(t, "echo", e.Service.Name)
	assert.Equal(t, "alice", e.Consumer.Username)
	assert.Equal(t, "c1d2", e.Authenticated.ID)
	assert.Equal(t, "upstream", e.Source)
	assert.Equal(t, "default", e.WorkspaceName)
	assert.JSONEq(t, `{"action":"logged"}`, e.Gatewatch)
}

func TestDistinguishesAbsentFromEmptyTries(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		present bool
	}{
		{"no route matched: no tries", `{"response":{"status":404}}`, false},
		{"short-circuited: empty array", `{"response":{"status":401},"tries":[]}`, true},
		{"cjson's empty table", `{"response":{"status":401},"tries":{}}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e Entry
			require.NoError(t, Decode([]byte(c.doc), &e))
			assert.Equal(t, c.present, e.Tries.Present)
		})
	}
}

func TestSkipsDeeplyNestedValuesItDoesNotRead(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 10000) + strings.Repeat(`]}`, 10000)
	var e Entry
	require.NoError(t, DecodeString(`{"extra":`+deep+`,"response":{"status":200}}`, &e))
	assert.Equal(t, 200, e.Response.Status)
}

func TestUpstreamStatusLastAttempt(t *testing.T) {
	assert.Equal(t, 200, UpstreamStatus("502, 200").Last())
	assert.Equal(t, 504, UpstreamStatus("504").Last())
	assert.Equal(t, 0, UpstreamStatus("").Last())
}

func TestRejectsWhatIsNotAnEntry(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":               `{"request":`,
		"no response status":     `{"request":{}}`,
		"a string status":        `{"response":{"status":"200"}}`,
		"headers of a bad shape": `{"response":{"status":200},"request":{"headers":["a"]}}`,
		"a nested header value":  `{"response":{"status":200},"request":{"headers":{"a":{"b":1}}}}`,
		"a fractional status":    `{"response":{"status":200.5}}`,
		"trailing garbage":       `{"response":{"status":200}} x`,
		"an unterminated string": `{"response":{"status":200},"client_ip":"1.2.3.4`,
		"unbalanced nesting":     `{"response":{"status":200},"x":` + strings.Repeat("[", 100) + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			var e Entry
			assert.Error(t, Decode([]byte(doc), &e))
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(kong39))
	f.Add([]byte(`{"response":{"status":1},"tries":{},"upstream_status":"1, 2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Entry
		err := Decode(data, &e)
		if err == nil {
			_ = e.Request.Path()
			_ = e.Request.Host()
			_ = e.UpstreamStatus.Last()
		}
		// An Entry that held another document decodes to the same thing.
		var used Entry
		require.NoError(t, DecodeString(kong39, &used))
		errUsed := DecodeString(string(data), &used)
		require.Equal(t, err == nil, errUsed == nil, "error %v, into a used Entry %v", err, errUsed)
		if err == nil {
			require.Equal(t, exported(e), exported(used))
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(kong39)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var e Entry
		if err := Decode(data, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// The hand-written decoder must agree with encoding/json on every string it
// unescapes, including surrogate pairs and every escape cjson emits.
func TestUnescapesLikeEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`"\/echo\/x"`, `"a\"b\\c"`, `"\u00e9\u4e16"`, `"\ud83d\ude00"`, `"\b\f\n\r\t"`, `"plain"`, `""`,
	} {
		var want string
		require.NoError(t, json.Unmarshal([]byte(lit), &want), lit)
		var e Entry
		require.NoError(t, DecodeString(`{"client_ip":`+lit+`,"response":{"status":200}}`, &e), lit)
		assert.Equal(t, want, e.ClientIP, lit)
	}
}

func TestDecodingIntoAUsedEntryForgetsTheOldOne(t *testing.T) {
	var e Entry
	require.NoError(t, Decode([]byte(kong39), &e))
	require.NoError(t, DecodeString(`{"response":{"status":404}}`, &e))
	assert.Empty(t, e.Request.Headers)
	assert.False(t, e.Route.Present)
	assert.False(t, e.Tries.Present)
	assert.Equal(t, 404, e.Response.Status)
}

func BenchmarkDecodeEncodingJSONMap(b *testing.B) {
	data := []byte(kong39)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeReused(b *testing.B) {
	data := kong39
	var e Entry
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DecodeString(data, &e); err != nil {
			b.Fatal(err)
		}
	}
}
