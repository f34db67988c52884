package detect

import (
	"bytes"
	"unsafe"

	"github.com/corazawaf/libinjection-go"

	"github.com/gatewatch/gatewatch/pkg/detect/normalize"
)

// checkFunc is a built-in check a rule can name instead of a pattern. It sees
// the rule's view of the value and reports the matched span.
type checkFunc func(s *state, f field, v []byte) (start, end int, ok bool)

// checks are the built-in checks rule files can name.
var checks = map[string]checkFunc{
	"libinjection-sqli": checkLibinjectionSQLi,
	"libinjection-xss":  checkLibinjectionXSS,
	"ssrf-url":          checkSSRF,
	"jndi-lookup":       checkJNDI,
	"log4j-lookup":      checkLog4jLookup,
	"traversal-depth":   checkTraversalDepth,
	"event-handler":     checkEventHandler,
	"shell-command":     checkShellCommand,
	"command-line":      checkCommandLine,
	"brace-expansion":   checkBraceExpansion,
	"glob-path":         checkGlobPath,
	"shell-function":    checkShellFunction,
	"leading-step":      checkTraversalLeadingStep,
	"hidden-segment":    checkHiddenSegment,
	"double-encoding":   checkSignal(normalize.DoubleEncoded),
	"null-byte":         checkSignal(normalize.NullByte),
	"overlong-utf8":     checkSignal(normalize.Overlong),
	"encoded-angle":     checkSignal(normalize.EncodedAngle),
	"split-script-uri":  checkSplitScriptURI,
	"ascii7-tag":        checkASCII7Tag,
	"sql-function-call": checkSQLFunctionCall,
	"sql-leading-logic": checkSQLLeadingLogic,
	"sql-quote-tail":    checkSQLQuoteTail,
}

// signalChecks are the checks that only look at decode signals: a value
// decoded without any signal skips them.
var signalChecks = map[string]bool{
	"double-encoding": true, "null-byte": true, "overlong-utf8": true, "encoded-angle": true,
	"ascii7-tag": true,
}

func checkLibinjectionSQLi(s *state, f field, v []byte) (int, int, bool) {
	// libinjection works on the decoded value with its original case. It
	// also fires on prose with quotes or "and" ("35% cotton and 65%
	// polyester"), so a hit counts only when the value also has SQL syntax.
	// Browser user agents are full of parentheses and semicolons; there, only
	// quotes, comparisons and comments are worth the tokenizer's time.
	if !sqlEvidence(v) || (f.kind == locHeader && f.name == "user-agent" && !hasAnyByte(v, "'\"`=#-*")) {
		return 0, 0, false
	}
	if proseQuotes(v) {
		return 0, 0, false
	}
	ok, fp := libinjection.IsSQLi(unsafeString(s.dec))
	if !ok {
		return 0, 0, false
	}
	// A value that starts with a function call ("sleep(5) song") and never
	// leaves its quoting context is more often a search term than a payload.
	if len(fp) > 0 && fp[0] == 'f' && !hasAnyByte(v, "'\"`;#=") {
		return 0, 0, false
	}
	// A word, then words, numbers and commas, ending in a comment ("x/*")
	// without any quote or operator cannot change a query's meaning.
	if len(fp) > 0 && fp[0] == 'n' && onlyIn(fp, "n1,c") && !hasAnyByte(v, "'\"`") {
		return 0, 0, false
	}
	// The same for a number glued to words or other numbers ("1611-Iio8--",
	// "1,1--"): a bare number followed by a comment ("5--") is still a probe.
	if len(fp) > 0 && fp[0] == '1' && onlyIn(fp, "n1,c") && !hasAnyByte(v, "'\"`") && numberGlued(v) {
		return 0, 0, false
	}
	// Quotation marks used as quotation ("navy", `code`, 'large') or around
	// HTML attribute values, with nothing left once they are blanked.
	if quotedProse(s.dec) {
		return 0, 0, false
	}
	return 0, len(v), true
}

func checkLibinjectionXSS(s *state, f field, v []byte) (int, int, bool) {
	if libinjection.IsXSS(unsafeString(s.dec)) {
		i := bytes.IndexByte(v, '<')
		return max(i, 0), len(v), true
	}
	return 0, 0, false
}

func checkSignal(sig normalize.Signal) checkFunc {
	return func(s *state, f field, v []byte) (int, int, bool) {
		return 0, len(v), s.sig&sig != 0
	}
}

// checkTraversalDepth fires on two or more parent-directory steps in the
// path view ("../../", "..;/..", "..\\.."), the shape of a traversal whatever
// file it aims at. The URL path itself fires on one step, since clients
// normalise dot segments before sending.
func checkTraversalDepth(s *state, f field, v []byte) (int, int, bool) {
	need := 2
	if f.kind == locPath {
		need = 1
	}
	n, first := 0, -1
	for i := 0; i+2 <= len(v); i++ {
		if v[i] != '.' || v[i+1] != '.' {
			continue
		}
		// A parent step: a run of two or more dots ("....//" survives naive
		// stripping of "../") bounded by start, '/' or ';' on the left and
		// '/', ';' or the end on the right.
		j := i + 2
		for j < len(v) && v[j] == '.' {
			j++
		}
		left := i == 0 || v[i-1] == '/' || v[i-1] == '=' || v[i-1] == ':'
		right := j == len(v) || v[j] == '/' || v[j] == ';'
		if left && right {
			if first < 0 {
				first = i
			}
			n++
		}
		i = j - 1
	}
	if n >= need {
		return first, len(v), true
	}
	return 0, 0, false
}

// checkJNDI resolves Log4j lookups (innermost first, using their defaults
// and case functions, so that ${${lower:j}${::-n}di:...} becomes
// ${jndi:...}) and fires when a jndi lookup results.
func checkJNDI(s *state, f field, v []byte) (int, int, bool) {
	res, _ := resolveLookups(v)
	if i := bytes.Index(res, []byte("jndi:")); i >= 0 {
		start := bytes.Index(v, []byte("${"))
		return max(start, 0), len(v), true
	}
	return 0, 0, false
}

// checkLog4jLookup fires on lookups that read the environment, system
// properties or other context (data exfiltration without jndi).
func checkLog4jLookup(s *state, f field, v []byte) (int, int, bool) {
	_, named := resolveLookups(v)
	if named {
		start := bytes.Index(v, []byte("${"))
		return max(start, 0), len(v), true
	}
	return 0, 0, false
}

var log4jLookups = map[string]bool{
	"jndi": true, "env": true, "sys": true, "ctx": true, "java": true, "main": true,
	"base64": true, "bundle": true, "docker": true, "k8s": true, "log4j": true,
	"marker": true, "map": true, "sd": true, "spring": true, "web": true, "event": true,
	"date": true, "upper": true, "lower": true,
}

// resolveLookups rewrites ${...} lookups from the innermost out, at most 64
// times: a default (${x:-d}) becomes d, ${lower:x} and ${upper:x} become x,
// and other lookups become their text without the braces. named reports
// whether any lookup used a Log4j lookup name.
func resolveLookups(v []byte) (out []byte, named bool) {
	if bytes.Index(v, []byte("${")) < 0 {
		return v, false
	}
	buf := append([]byte(nil), v...)
	for iter := 0; iter < 64; iter++ {
		end := -1
		start := -1
		for i := 0; i+1 < len(buf); i++ {
			if buf[i] == '$' && buf[i+1] == '{' {
				start = i
			} else if buf[i] == '}' && start >= 0 {
				end = i
				break
			}
		}
		if start < 0 || end < 0 {
			break
		}
		inner := buf[start+2 : end]
		var rep []byte
		name, rest, hasColon := bytes.Cut(inner, []byte(":"))
		switch {
		case hasColon && log4jLookups[string(bytes.TrimSpace(name))] && string(bytes.TrimSpace(name)) != "jndi":
			named = true
			if _, d, ok := bytes.Cut(rest, []byte(":-")); ok {
				rep = d
			} else if n := string(name); n == "lower" || n == "upper" {
				rep = rest
			}
		case bytes.Contains(inner, []byte(":-")):
			_, rep, _ = bytes.Cut(inner, []byte(":-"))
		default:
			// Keep the lookup visible but without its braces.
			rep = inner
		}
		nb := make([]byte, 0, len(buf))
		nb = append(append(append(nb, buf[:start]...), rep...), buf[end+1:]...)
		buf = nb
	}
	return buf, named
}

// sqlEvidence reports whether a lower-cased value holds an SQL operator,
// comment or a keyword that prose rarely uses.
func sqlEvidence(v []byte) bool {
	for i, c := range v {
		switch c {
		case '<', '>', '`':
			return true
		case ';':
			// A statement break, not a list separator ("size: 10; color:
			// red", a user agent's "(Android 14; SM-S918B)").
			if semicolonEvidence(v, i) {
				return true
			}
		case '|':
			// "||" or a pipe against an operand, not "Title | Shop".
			if i+1 < len(v) && v[i+1] == '|' || i > 0 && !isSQLSpaceByte(v[i-1]) || i+1 < len(v) && !isSQLSpaceByte(v[i+1]) {
				return true
			}
		case '#':
			// A MySQL comment after a quote, parenthesis, digit or space, not
			// "Pass#2024" or "go#1.22".
			if i == 0 || !isWordByte(v[i-1]) {
				return true
			}
		case '=':
			// Base64 padding ("...==") and key=value pairs of plain tokens are
			// not comparisons worth tokenizing.
			if i+1 < len(v) && v[i+1] != '=' && v[i+1] != '&' {
				return true
			}
		case '@':
			// "@@version" and "@var", not the "@" of an e-mail address or
			// "washes well @ 30".
			if (i == 0 || !isWordByte(v[i-1])) && i+1 < len(v) && (v[i+1] == '@' || isWordByte(v[i+1])) {
				return true
			}
		case '(', ')':
			// Prose uses parentheses around words; SQL around numbers, strings
			// and nested expressions.
			j := i + 1
			for j < len(v) && v[j] == ' ' {
				j++
			}
			if j < len(v) && (v[j] >= '0' && v[j] <= '9' || v[j] == '\'' || v[j] == '"' || v[j] == '(' || v[j] == ')' || v[j] == '@' || v[j] == '-') {
				return true
			}
		case '-':
			if i+1 < len(v) && v[i+1] == '-' {
				return true
			}
		case '/':
			if i+1 < len(v) && v[i+1] == '*' {
				return true
			}
		}
	}
	return hasSQLWord(v)
}

// hasSQLWord reports whether v (lower case) holds one of sqlWords at word
// boundaries: one pass over its words instead of a search per keyword.
func hasSQLWord(v []byte) bool {
	for i := 0; i < len(v); {
		if !isWordByte(v[i]) {
			i++
			continue
		}
		j := i
		for j < len(v) && isWordByte(v[j]) {
			j++
		}
		w := v[i:j]
		if sqlWord[string(w)] {
			return true
		}
		if (string(w) == "order" || string(w) == "group") && j+3 <= len(v) && v[j] == ' ' && v[j+1] == 'b' && v[j+2] == 'y' &&
			(j+3 == len(v) || !isWordByte(v[j+3])) {
			return true
		}
		i = j
	}
	return false
}

// sqlWords are SQL keywords that are rare in prose; "from", "into" or
// "where" would let every other sentence through.
// semicolonEvidence reports whether the ';' at v[i] ends a statement: it
// closes the value, or a comment, quote, parenthesis or statement keyword
// follows it.
func semicolonEvidence(v []byte, i int) bool {
	j := i + 1
	for j < len(v) && isSQLSpaceByte(v[j]) {
		j++
	}
	if j == len(v) {
		return true
	}
	switch v[j] {
	case '-', '#', '/', '\'', '"', '`', '(', ';', '@', '%', '{':
		return true
	}
	k := j
	for k < len(v) && isWordByte(v[k]) {
		k++
	}
	w := v[j:k]
	if len(w) > 16 {
		return false
	}
	var buf [16]byte
	for n, c := range w {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
	}
	lw := buf[:len(w)]
	if sqlStatement[string(lw)] {
		return true
	}
	// Prefixes of procedure families: dbms_lock, sp_executesql, xp_cmdshell.
	for _, p := range [...]string{"dbms_", "sp_", "xp_"} {
		if len(lw) >= len(p) && string(lw[:len(p)]) == p {
			return true
		}
	}
	return false
}

func isSQLSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '+'
}

var sqlStatement = setOf(sqlStatements...)

var sqlStatements = []string{
	"select", "insert", "update", "delete", "drop", "create", "alter", "truncate", "exec", "execute",
	"declare", "set", "shutdown", "waitfor", "grant", "revoke", "begin", "commit", "rollback", "if",
	"while", "union", "call", "load", "copy", "merge", "replace", "rename", "use", "show", "handler",
	"do", "prepare", "sleep", "benchmark", "pg_sleep", "backup", "restore", "kill", "with",
	"lock", "open", "fetch", "print", "raiserror", "bulk", "and", "or", "having", "order",
}

var sqlWord = setOf(sqlWords...)

var sqlWords = []string{
	"select", "union", "insert", "update", "delete", "drop", "sleep", "benchmark", "waitfor",
	"having", "order by", "group by", "null", "xor", "rlike", "regexp", "concat", "substr",
	"ascii", "declare", "procedure", "varchar", "nvarchar", "case", "true", "false", "char",
	"exec", "div", "cast", "convert", "version", "like",
}

// indexWord finds w in v at word boundaries.
func indexWord(v []byte, w string) int {
	for off := 0; off < len(v); {
		i := bytes.Index(v[off:], []byte(w))
		if i < 0 {
			return -1
		}
		i += off
		j := i + len(w)
		if (i == 0 || !isWordByte(v[i-1])) && (j == len(v) || !isWordByte(v[j])) {
			return i
		}
		off = i + 1
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c >= 'A' && c <= 'Z'
}

func hasAnyByte(v []byte, set string) bool {
	for _, c := range v {
		for i := 0; i < len(set); i++ {
			if c == set[i] {
				return true
			}
		}
	}
	return false
}

// checkEventHandler finds an HTML event-handler attribute: "on" and 3 to 48
// letters, at the start of the value or after a delimiter, then '=' and a
// value ("onerror=alert(1)", "\" onmouseover = x"). Plain code replaces a
// regular expression here because "on" occurs in almost every header.
func checkEventHandler(s *state, f field, v []byte) (int, int, bool) {
	for i := 0; i+2 < len(v); i++ {
		j := bytes.Index(v[i:], []byte("on"))
		if j < 0 {
			break
		}
		i += j
		if i > 0 && !isHandlerDelim(v[i-1]) {
			continue
		}
		k := i + 2
		for k < len(v) && k-i-2 <= 48 && v[k] >= 'a' && v[k] <= 'z' {
			k++
		}
		if k-i-2 < 3 {
			continue
		}
		for k < len(v) && (v[k] == ' ' || v[k] == '\t' || v[k] == '\n' || v[k] == '\r' || v[k] == '\f') {
			k++
		}
		if k >= len(v) || v[k] != '=' {
			continue
		}
		k++
		for k < len(v) && (v[k] == ' ' || v[k] == '\t' || v[k] == '\n') {
			k++
		}
		if k < len(v) && v[k] != '=' {
			return i, min(len(v), k+20), true
		}
		// A handler with its value cut off ("<x onend=", "\"onzoom="): the
		// attribute is in markup or after a closing quote, or the value is
		// a parameter name holding an encoded '='.
		if k >= len(v) && (f.kind == locName || i > 0 && (v[i-1] == '"' || v[i-1] == '\'' || v[i-1] == '/' || v[i-1] == '<') || bytes.IndexByte(v[:i], '<') >= 0) {
			return i, len(v), true
		}
	}
	return 0, 0, false
}

func isHandlerDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '"', '\'', '/', '`', '<', '>', ';', '+':
		return true
	}
	return false
}

func onlyIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		found := false
		for j := 0; j < len(set); j++ {
			if s[i] == set[j] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// checkHiddenSegment fires on a URL path segment naming a hidden file or
// directory (/.env, /.git/config, /.aws/credentials, /.claude/settings.json):
// web servers should never serve them, and scanners probe for them.
// /.well-known/ is the standard exception.
func checkHiddenSegment(s *state, f field, v []byte) (int, int, bool) {
	for i := 0; i+2 < len(v); i++ {
		if v[i] != '/' || v[i+1] != '.' {
			continue
		}
		c := v[i+2]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			continue
		}
		if bytes.HasPrefix(v[i+1:], []byte(".well-known")) {
			continue
		}
		return i, len(v), true
	}
	return 0, 0, false
}

// unsafeString views b as a string without copying. libinjection only reads
// its argument during the call, and b is not modified while it runs.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// proseQuotes reports text that quotes words the way people do ("navy" not
// "black"): only double quotes, balanced, and no comparison or comment that
// could close a quoted SQL context and continue the statement.
func proseQuotes(v []byte) bool {
	n := 0
	for i, c := range v {
		switch c {
		case '\'', '`', '=', ';':
			return false
		case '"':
			n++
		case '-', '/':
			if i+1 < len(v) && (v[i+1] == '-' || v[i+1] == '*') {
				return false
			}
		}
	}
	return n >= 2 && n%2 == 0
}
