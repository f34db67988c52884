package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/detect/corpus"
)

// Kinds of request in the mix.
const (
	kindPublic  = iota // benign, no auth
	kindOrders         // alice's key on /orders: 200
	kindBadKey         // wrong key on /orders: 401
	kindNoKey          // no key on /orders: 401
	kindACL            // alice on /reports, bob on /orders: 403 (acl)
	kindLimited        // /limited: 200 until the per-second limit, then 429
	kindAttack         // a corpus payload on /public
	kindScan           // an unknown path: 404
	numKinds
)

var kindNames = [numKinds]string{"benign public", "benign orders (alice)", "bad API key", "missing API key", "ACL denial", "rate-limited route", "attack payload (corpus)", "unknown path (scan)"}

// template is one request the load generator sends.
type template struct {
	kind    int
	method  string
	path    string // request target as sent, unique per template except benign ones
	headers map[string]string
	// attack says whether the detection engine finds something in it (an
	// attack.detected event is expected whatever the status).
	attack bool
}

// mix is the weighted request mix (per 100 requests).
var mix = [numKinds]int{
	kindPublic: 38, kindOrders: 25, kindBadKey: 8, kindNoKey: 2, kindACL: 7,
	kindLimited: 8, kindAttack: 7, kindScan: 5,
}

var hopHeaders = map[string]bool{"host": true, "connection": true, "keep-alive": true, "proxy-connection": true,
	"content-length": true, "transfer-encoding": true, "upgrade": true, "te": true, "trailer": true, "expect": true}

// inspector runs the detection engine the plugins run, at their default
// policy, over a template.
type inspector struct{ p *detect.Profile }

func newInspector() (*inspector, error) {
	e, err := detect.New(nil)
	if err != nil {
		return nil, err
	}
	p, err := e.Profile(detect.Policy{})
	if err != nil {
		return nil, err
	}
	return &inspector{p}, nil
}

// findings returns the highest severity found ("" if none).
func (in *inspector) findings(t template) string {
	path, query, _ := strings.Cut(t.path, "?")
	r := &detect.Request{Method: t.method, Path: path, RawQuery: query}
	for k, v := range t.headers {
		r.Headers = append(r.Headers, detect.Header{Name: k, Value: v})
	}
	best := ""
	rank := map[string]int{"": 0, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
	for _, f := range in.p.Inspect(r, nil) {
		if rank[f.Severity] > rank[best] {
			best = f.Severity
		}
	}
	return best
}

var safeTarget = regexp.MustCompile(`^/[\x21-\x7e]*$`)

// attackTemplates picks up to n GET payloads (query, path or header) from
// the corpus that the engine finds at severity high or above, prefixed
// with /public/a<i> so that each has its own path and reaches a route.
func attackTemplates(corpusDir string, in *inspector, n int) ([]template, error) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "attacks_*.jsonl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("soak: no attacks_*.jsonl in %s", corpusDir)
	}
	sort.Strings(files)
	var cands []template
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		err = corpus.Read(fh, func(_ int, r *corpus.Record) error {
			if r.Label != "attack" || r.Method != "GET" || r.Body != "" {
				return nil
			}
			if r.Location != "query" && r.Location != "path" && r.Location != "header" {
				return nil
			}
			if !safeTarget.MatchString(r.URI) || len(r.URI) > 512 {
				return nil
			}
			h := map[string]string{}
			ok := true
			for k, v := range r.Headers {
				if hopHeaders[strings.ToLower(k)] || strings.EqualFold(k, "apikey") {
					continue
				}
				if strings.ContainsAny(k+v, "\r\n") || len(v) > 1024 {
					ok = false
				}
				h[k] = v
			}
			if !ok {
				return nil
			}
			cands = append(cands, template{kind: kindAttack, method: "GET", path: r.URI, headers: h})
			return nil
		}, func(*corpus.LineError) {}) // a malformed line is no candidate
		fh.Close()
		if err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(11, 11))
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	var out []template
	for _, c := range cands {
		if len(out) == n {
			break
		}
		c.path = fmt.Sprintf("/public/a%d%s", len(out), c.path)
		if sev := in.findings(c); sev == "high" || sev == "critical" {
			c.attack = true
			out = append(out, c)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("soak: only %d corpus payloads the engine flags high, want %d", len(out), n)
	}
	return out, nil
}

var scanWords = []string{".env", "wp-login.php", "admin", "phpmyadmin", "backup.zip", "config.json", "server-status", ".git/HEAD", "actuator/health", "cgi-bin/test", "old", "test.php", "api/v0/debug", "console", "login.aspx"}

// templates builds the request set: benign ones, and a distinct path for
// every rejected or attacking one so that distinct-path counts are real.
func templates(corpus string, in *inspector) ([]template, error) {
	attacks, err := attackTemplates(corpus, in, 60)
	if err != nil {
		return nil, err
	}
	var ts []template
	for i := 0; i < 20; i++ {
		ts = append(ts, template{kind: kindPublic, method: "GET", path: fmt.Sprintf("/public/items/%d?page=%d&sort=name", i, i%3)})
		ts = append(ts, template{kind: kindOrders, method: "GET", path: fmt.Sprintf("/orders/%d", 1000+i), headers: map[string]string{"apikey": "alice-demo-key"}})
		ts = append(ts, template{kind: kindBadKey, method: "GET", path: fmt.Sprintf("/orders/%d", 2000+i), headers: map[string]string{"apikey": fmt.Sprintf("guess-%04d", i)}})
		ts = append(ts, template{kind: kindNoKey, method: "GET", path: fmt.Sprintf("/orders/%d", 3000+i)})
		if i%2 == 0 {
			ts = append(ts, template{kind: kindACL, method: "GET", path: fmt.Sprintf("/reports/%d", i), headers: map[string]string{"apikey": "alice-demo-key"}})
		} else {
			ts = append(ts, template{kind: kindACL, method: "GET", path: fmt.Sprintf("/orders/%d", 4000+i), headers: map[string]string{"apikey": "bob-demo-key"}})
		}
		ts = append(ts, template{kind: kindLimited, method: "GET", path: fmt.Sprintf("/limited/%d", i)})
		ts = append(ts, template{kind: kindScan, method: "GET", path: "/" + scanWords[i%len(scanWords)] + "?n=" + strconv.Itoa(i)})
	}
	ts = append(ts, attacks...)
	for i := range ts {
		if ts[i].kind != kindAttack {
			ts[i].attack = in.findings(ts[i]) != ""
			if ts[i].attack && ts[i].kind != kindScan {
				return nil, fmt.Errorf("soak: benign template %s is flagged by the engine", ts[i].path)
			}
		}
	}
	return ts, nil
}

// scanTemplates is the scanning burst: many distinct unknown paths.
func scanTemplates(in *inspector, n int) []template {
	var ts []template
	for i := 0; i < n; i++ {
		t := template{kind: kindScan, method: "GET", path: fmt.Sprintf("/%s.%d", strings.ReplaceAll(scanWords[i%len(scanWords)], "/", "-"), i)}
		t.attack = in.findings(t) != ""
		ts = append(ts, t)
	}
	return ts
}

// sequence lays the templates out in a weighted, shuffled order of n
// requests that wrk cycles through.
func sequence(ts []template, n int, seed uint64) []int {
	byKind := make([][]int, numKinds)
	for i, t := range ts {
		byKind[t.kind] = append(byKind[t.kind], i)
	}
	var seq []int
	for len(seq) < n {
		for k := 0; k < numKinds; k++ {
			for j := 0; j < mix[k] && len(byKind[k]) > 0; j++ {
				seq = append(seq, byKind[k][(len(seq)+j)%len(byKind[k])])
			}
		}
	}
	seq = seq[:n]
	rng := rand.New(rand.NewPCG(seed, seed))
	rng.Shuffle(len(seq), func(i, j int) { seq[i], seq[j] = seq[j], seq[i] })
	return seq
}

// luaString quotes s for Lua: printable ASCII stays, the rest is \ddd.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wrkScript writes a Lua script that cycles through seq (each thread from
// its own offset) and prints a machine-readable summary.
func wrkScript(path string, ts []template, seq []int) error {
	var b strings.Builder
	b.WriteString("-- generated by integration/soak\nlocal defs = {\n")
	for _, t := range ts {
		keys := make([]string, 0, len(t.headers))
		for k := range t.headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "  {%s, %s, {", luaString(t.method), luaString(t.path))
		for _, k := range keys {
			fmt.Fprintf(&b, "[%s]=%s, ", luaString(k), luaString(t.headers[k]))
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\nlocal seq = {")
	for i, s := range seq {
		if i%40 == 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%d,", s+1)
	}
	b.WriteString(`}
local nthreads = 0
function setup(thread)
  thread:set("offset", nthreads * 7919)
  nthreads = nthreads + 1
end
local reqs = {}
local i = 0
function init(args)
  for k, d in ipairs(defs) do
    reqs[k] = wrk.format(d[1], d[2], d[3])
  end
  i = (offset or 0) % #seq
end
function request()
  i = i + 1
  if i > #seq then i = 1 end
  return reqs[seq[i]]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SOAK requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("SOAK p%s=%d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("SOAK max=%d mean=%d\n", latency.max, latency.mean))
end
`)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// wrkResult is what wrk reported.
type wrkResult struct {
	Requests int
	Duration time.Duration
	Errors   map[string]int
	P50, P90 time.Duration
	P99      time.Duration
	P999     time.Duration
	Max      time.Duration
}

// runWrk runs wrk against target for d and parses its summary.
func runWrk(ctx context.Context, script, target string, threads, conns int, d time.Duration, pidCh chan<- int, log *lockedFile) (wrkResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	cctx, cancel := context.WithTimeout(ctx, d+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", script, target)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return wrkResult{}, fmt.Errorf("soak: wrk (Debian package wrk; scripts/setup.sh installs it): %w", err)
	}
	if pidCh != nil {
		select {
		case pidCh <- cmd.Process.Pid:
		default:
		}
	}
	err := cmd.Wait()
	log.Printf("wrk %s:\n%s", target, out.String())
	if err != nil {
		return wrkResult{}, fmt.Errorf("soak: wrk: %v\n%s", err, out.String())
	}
	return parseWrk(out.String())
}

func parseWrk(out string) (wrkResult, error) {
	r := wrkResult{Errors: map[string]int{}}
	us := func(s string) time.Duration {
		n, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(n) * time.Microsecond
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "SOAK ")
		if !ok {
			continue
		}
		found = true
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "requests":
				r.Requests, _ = strconv.Atoi(v)
			case "duration_us":
				r.Duration = us(v)
			case "connect", "read", "write", "status", "timeout":
				r.Errors[k], _ = strconv.Atoi(v)
			case "p50":
				r.P50 = us(v)
			case "p90":
				r.P90 = us(v)
			case "p99":
				r.P99 = us(v)
			case "p99.9":
				r.P999 = us(v)
			case "max":
				r.Max = us(v)
			}
		}
	}
	if !found {
		return r, fmt.Errorf("soak: no summary in wrk's output:\n%s", out)
	}
	return r, nil
}

func lookWrk() (string, error) { return exec.LookPath("wrk") }
