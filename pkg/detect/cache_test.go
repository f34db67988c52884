package detect

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cacheProfile(t *testing.T) *Profile {
	t.Helper()
	e, err := New(nil)
	require.NoError(t, err)
	p, err := e.Profile(Policy{})
	require.NoError(t, err)
	return p
}

const cachedSQLi = "x' UNION SELECT password FROM users--"

func TestARepeatedAttackInAHeaderIsFoundEveryTime(t *testing.T) {
	p := cacheProfile(t)
	r := &Request{Method: "GET", Path: "/", Headers: []Header{{"X-Search", cachedSQLi}}}
	for i := 0; i < 3; i++ {
		fs := p.Inspect(r, nil)
		require.NotEmpty(t, fs, "round %d", i)
		assert.Equal(t, "header:x-search", fs[0].Location)
	}
}

func TestACleanHeaderValueIsCachedForItsLocationOnly(t *testing.T) {
	p := cacheProfile(t)
	// The same bytes are clean in a User-Agent ...
	ua := "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/126.0"
	clean := &Request{Method: "GET", Path: "/", Headers: []Header{{"User-Agent", ua}}}
	require.Empty(t, p.Inspect(clean, nil))
	require.Empty(t, p.Inspect(clean, nil))
	// ... and a value that differs from a cached one only by its location
	// or its content is inspected anew.
	attack := &Request{Method: "GET", Path: "/", Headers: []Header{{"User-Agent", ua + "' OR 1=1--"}}}
	assert.NotEmpty(t, p.Inspect(attack, nil))
	key := &Request{Method: "GET", Path: "/", Headers: []Header{{"X-Api-Version", cachedSQLi}}}
	assert.NotEmpty(t, p.Inspect(key, nil))
}

func TestAMatchThatMadeNoNewFindingIsNotCachedAsClean(t *testing.T) {
	p := cacheProfile(t)
	// Two values of one header: the second matches the same class at the
	// same location, so it adds no finding; it must still not be remembered
	// as clean.
	second := "1' UNION ALL SELECT table_name FROM information_schema.tables--"
	both := &Request{Method: "GET", Path: "/", Headers: []Header{{"X-Q", cachedSQLi}, {"X-Q", second}}}
	require.Len(t, p.Inspect(both, nil), 1)
	alone := &Request{Method: "GET", Path: "/", Headers: []Header{{"X-Q", second}}}
	assert.NotEmpty(t, p.Inspect(alone, nil))
}

func TestTheCacheIsSafeForConcurrentUse(t *testing.T) {
	p := cacheProfile(t)
	values := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
		cachedSQLi,
		"curl/8.5.0 and some more words to make it long",
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				v := values[(i+g)%len(values)]
				fs := p.Inspect(&Request{Method: "GET", Path: "/", Headers: []Header{{"X-V", v}}}, nil)
				if (v == cachedSQLi) != (len(fs) > 0) {
					t.Errorf("value %q: %d findings", v, len(fs))
					return
				}
			}
		}()
	}
	wg.Wait()
}
