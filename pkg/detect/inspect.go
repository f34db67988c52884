package detect

import (
	"bytes"
	"math/bits"
	"net/url"

	"github.com/gatewatch/gatewatch/pkg/detect/normalize"
)

// state is the per-call scratch space, pooled in the Engine so that a benign
// request allocates nothing.
type state struct {
	p        *Profile
	findings []Finding
	budget   int // bytes still allowed to be inspected
	fields   int // values still allowed to be inspected

	dec, tmp, low []byte           // decoded value, decode scratch, lower-cased
	lowValid      bool             // low holds dec lower-cased
	views         [numViews][]byte // the sql, shell and path views of the current value
	viewValid     [numViews]bool
	jstr          []byte // a JSON string with escapes, decoded
	sig           normalize.Signal
	name          []byte // lower-cased header name, JSON path
	path          []byte // JSON path being built
}

// Inspect appends to dst the findings for r and returns the extended slice.
// It is safe for concurrent use and bounded in time and memory (see the
// package documentation).
func (p *Profile) Inspect(r *Request, dst []Finding) []Finding {
	if r == nil {
		return dst
	}
	s := p.e.scratch.Get().(*state)
	s.p, s.findings = p, dst
	s.budget, s.fields = MaxRequestBytes, MaxFields
	s.inspectRequest(r)
	dst = s.findings
	s.findings, s.p = nil, nil
	p.e.scratch.Put(s)
	return dst
}

// field identifies where a value came from.
type field struct {
	kind   locMask
	parent locMask // for a name (locName): where the name was found
	name   string  // parameter, header (lower case), cookie name or JSON path
	nameb  []byte  // name, when it lives in scratch space (JSON paths)
	secret bool    // never quote the value in a fragment (also decided by name, lazily)
}

var (
	optsQuery = normalize.Options{Percent: true, PlusIsSpace: true}
	optsPlain = normalize.Options{Percent: true}
)

// inspectValue runs the enabled rules of f's kind over one value.
func inspectValue[S ~string | ~[]byte](s *state, f field, raw S, o normalize.Options) {
	if s.fields <= 0 || s.budget <= 0 || len(raw) == 0 || len(s.findings) >= MaxFindings {
		return
	}
	s.fields--
	if len(raw) > MaxValueBytes {
		raw = raw[:MaxValueBytes]
	}
	if len(raw) > s.budget {
		raw = raw[:s.budget]
	}
	s.budget -= len(raw)

	kr := s.p.byKind[kindIndex(f.kind)]
	if f.kind == locName && f.parent != 0 {
		// Names are attacker-controlled too (CRS inspects ARGS_NAMES): they get
		// the rules of where they were found as well as the name-only rules.
		pr := s.p.byKind[kindIndex(f.parent)]
		kr.triggered.or(&pr.triggered)
		kr.always.or(&pr.always)
	}
	if (f.kind == locHeader || f.kind == locProtoHeader) && len(s.p.headers) > 0 {
		if hr, ok := s.p.headers[f.name]; ok {
			kr.triggered.or(&hr.triggered)
			kr.always.or(&hr.always)
		}
	}
	if kr.triggered.empty() && kr.always.empty() {
		return
	}
	var ch, cm uint64
	// The key covers exactly the bytes inspected (a value cut by the
	// budget is cached as its inspected prefix).
	cache := cacheable(f, len(raw))
	if cache {
		ch, cm = cacheKey(s.p.cache, f, o, raw)
		if s.p.cache.has(ch, cm) {
			return
		}
	}
	s.dec, s.tmp, s.sig = normalize.Decode(s.dec[:0], s.tmp, raw, o)
	s.lowValid = false
	var set ruleSet
	if !kr.triggered.empty() {
		s.p.e.matcher.scan(s.dec, &set)
		set.and(&kr.triggered)
	}
	set.or(&kr.always)
	if s.sig == 0 {
		set.andNot(&s.p.e.signals)
	}
	if !set.empty() {
		s.viewValid = [numViews]bool{}
		if s.evaluate(f, &set) {
			return
		}
	}
	if cache {
		s.p.cache.add(ch, cm)
	}
}

// evaluate runs the selected rules in file order and records their findings.
// It reports whether any rule matched (whether or not that made a new
// finding: a match may be excluded by policy or repeat an earlier finding).
func (s *state) evaluate(f field, set *ruleSet) (matched bool) {
	var classesHit uint16
	for w, word := range set {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			r := s.p.e.rules[i]
			ci := classBit(r.Class)
			if classesHit&ci != 0 {
				continue // one finding per class and location is enough
			}
			if len(r.req) > 0 && !containsAny(s.view(viewLower), r.req) {
				continue
			}
			v := s.view(r.view)
			start, end, ok := 0, len(v), false
			switch {
			case r.at != nil:
				start, end, ok = anchoredMatch(r, v)
			case r.re != nil:
				if loc := r.re.FindIndex(v); loc != nil {
					start, end, ok = loc[0], loc[1], true
				}
			case r.check != nil:
				start, end, ok = r.check(s, f, v)
			default:
				ok = true // a trigger occurring is the match
			}
			if !ok {
				continue
			}
			matched = true
			if s.addFinding(r, f, v, start, end) {
				classesHit |= ci
			}
		}
	}
	return matched
}

func containsAny(v []byte, lits [][]byte) bool {
	for _, l := range lits {
		if bytes.Contains(v, l) {
			return true
		}
	}
	return false
}

// maxAnchorTries bounds the anchored attempts per rule and value; a value
// with more trigger occurrences than that ("${${${…") is searched whole
// instead, in the time RE2 guarantees (linear in the value).
const maxAnchorTries = 32

// anchoredMatch tries an anchored rule's pattern at each occurrence of its
// triggers in v.
func anchoredMatch(r *rule, v []byte) (start, end int, ok bool) {
	tries := 0
	for _, t := range r.trig {
		for off := 0; off < len(v); {
			i := bytes.Index(v[off:], t)
			if i < 0 {
				break
			}
			i += off
			if tries++; tries > maxAnchorTries {
				if loc := r.re.FindIndex(v); loc != nil {
					return loc[0], loc[1], true
				}
				return 0, 0, false
			}
			if i == 0 {
				if loc := r.at.FindIndex(v); loc != nil {
					return 0, loc[1], true
				}
			} else if loc := r.after.FindIndex(v[i-1:]); loc != nil {
				return i, i - 1 + loc[1], true
			}
			off = i + 1
		}
	}
	return 0, 0, false
}

func classBit(c string) uint16 {
	switch c {
	case ClassSQLi:
		return 1
	case ClassXSS:
		return 2
	case ClassTraversal:
		return 4
	case ClassCmdi:
		return 8
	case ClassSSRF:
		return 16
	case ClassJNDI:
		return 32
	case ClassScanner:
		return 64
	}
	return 128
}

// view returns the normalised form of the current value a rule asks for,
// computing the alternate views lazily.
func (s *state) view(k viewKind) []byte {
	if !s.lowValid {
		s.low = normalize.AppendLower(s.low[:0], s.dec)
		s.lowValid = true
	}
	if k == viewLower {
		return s.low
	}
	if s.viewValid[k] {
		return s.views[k]
	}
	switch k {
	case viewSQL:
		s.views[k] = normalize.AppendSQL(s.views[k][:0], s.low)
	case viewShell:
		s.views[k] = normalize.AppendShell(s.views[k][:0], s.low)
	case viewPath:
		s.views[k] = normalize.AppendPath(s.views[k][:0], s.low)
	}
	s.viewValid[k] = true
	return s.views[k]
}

func (s *state) addFinding(r *rule, f field, v []byte, start, end int) bool {
	loc := location(f)
	if s.p.excluded(loc, r.Class) {
		return false
	}
	for _, prev := range s.findings {
		if prev.Location == loc && prev.Class == r.Class {
			return true
		}
	}
	if len(s.findings) >= MaxFindings {
		return true
	}
	frag := redacted
	if !f.isSecret() {
		frag = fragment(v, start, end)
	}
	s.findings = append(s.findings, Finding{
		RuleID: r.ID, Class: r.Class, Severity: r.Severity, Location: loc,
		Fragment: frag, CWE: r.CWE, Technique: r.Technique,
	})
	return true
}

const redacted = "[redacted]"

func location(f field) string {
	if f.nameb != nil {
		f.name = string(f.nameb)
	}
	k := f.kind
	if k == locName {
		k = f.parent
	}
	if k == locQuery || k == locCookie || k == locBody && f.nameb == nil {
		// Names are reported decoded ("user[$ne]", not "user%5B%24ne%5D").
		if n, err := url.QueryUnescape(f.name); err == nil {
			f.name = n
		}
	}
	switch k {
	case locPath:
		return "path"
	case locQuery:
		return "query:" + f.name
	case locHeader, locProtoHeader:
		return "header:" + f.name
	case locCookie:
		return "cookie:" + f.name
	}
	if f.name == "" {
		return "body"
	}
	return "body:" + f.name
}

// fragment quotes at most maxFragment bytes of the match, escaping anything
// that is not printable ASCII as \xNN so that logs stay one line and safe.
func fragment(v []byte, start, end int) string {
	if start < 0 || start > len(v) {
		start = 0
	}
	if end < start || end > len(v) {
		end = len(v)
	}
	if end == start {
		end = min(len(v), start+maxFragment)
	}
	var buf [maxFragment]byte
	n := 0
	const hexdigits = "0123456789abcdef"
	for _, c := range v[start:end] {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			if n+1 > maxFragment {
				break
			}
			buf[n] = c
			n++
			continue
		}
		if n+4 > maxFragment {
			break
		}
		buf[n], buf[n+1], buf[n+2], buf[n+3] = '\\', 'x', hexdigits[c>>4], hexdigits[c&15]
		n += 4
	}
	return string(buf[:n])
}

// isSecret reports whether the field's value must not be quoted: credential
// headers, cookies, and fields whose name suggests a credential. It is
// decided when a finding is made, not for every value inspected.
func (f field) isSecret() bool {
	switch {
	case f.secret || f.kind == locCookie:
		return true
	case f.kind == locHeader || f.kind == locProtoHeader:
		return secretHeader(f.name)
	case f.nameb != nil:
		return secretName(lastKey(f.nameb))
	}
	return secretName(f.name)
}
