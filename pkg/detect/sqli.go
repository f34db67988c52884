package detect

import (
	"bytes"
	"regexp"
	"strings"
	"sync"

	"github.com/corazawaf/libinjection-go"
)

// Helpers for the SQL injection checks.

// quotedProse reports whether libinjection stops recognising an injection
// once the quotes that read as ordinary quoting are blanked out: "navy",
// `code`, 'large', href="/apps/". Each such pair opens after a delimiter and
// before a non-space character and closes after a non-space character and
// before a delimiter, and holds no comparison, comment or statement break
// and more than operator words ('MOD' is an implicit-conversion attack, see
// quotableText); a pair like that cannot close the application's string and
// go on with SQL of its own, because whatever it holds is re-checked as
// bare text. A value with an SQL comment keeps the verdict.
// Apostrophes inside a word (O'Brien, d'applications) are left to the
// tokenizer, which reads them as text. Any other quote keeps the verdict.
func quotedProse(v []byte) bool {
	if !hasAnyByte(v, "'\"`") || hasComment(v) {
		return false
	}
	bp := sqliScratch.Get().(*[]byte)
	buf := append((*bp)[:0], v...)
	defer func() { *bp = buf[:0]; sqliScratch.Put(bp) }()
	changed := false
	for i := 0; i < len(buf); i++ {
		q := buf[i]
		if q != '\'' && q != '"' && q != '`' {
			continue
		}
		if q == '\'' && i > 0 && i+1 < len(buf) && isLetter(buf[i-1]) && isLetter(buf[i+1]) {
			continue // an apostrophe inside a word
		}
		if !(i == 0 || isQuoteOpener(buf[i-1])) || i+1 >= len(buf) || isSpaceOrQuote(buf[i+1]) {
			return false
		}
		j := i + 1
		for j < len(buf) && buf[j] != q {
			switch buf[j] {
			case '=', '<', '>', ';', '#', '\n', '\r':
				return false
			case '-':
				if j+1 < len(buf) && buf[j+1] == '-' {
					return false
				}
			case '/':
				if j+1 < len(buf) && buf[j+1] == '*' {
					return false
				}
			}
			j++
		}
		if j >= len(buf) || isSpaceOrQuote(buf[j-1]) || j+1 < len(buf) && !isQuoteCloser(buf[j+1]) {
			return false
		}
		if !quotableText(buf[i+1 : j]) {
			return false
		}
		buf[i], buf[j] = ' ', ' '
		changed = true
		i = j
	}
	if !changed {
		return false
	}
	ok, _ := libinjection.IsSQLi(unsafeString(buf))
	return !ok
}

// quotableText reports whether the text between two quotes reads as a quoted
// word or phrase rather than an operator: MySQL converts 'a' MOD 'b', ” + ”
// or 'x' RLIKE 'y' to numbers, so a quoted operator is an implicit-conversion
// tautology ("A 'DIV' B"), not a quotation.
func quotableText(t []byte) bool {
	alnum, word := false, true
	for i := 0; i < len(t); {
		if !isLetter(t[i]) {
			if t[i] >= '0' && t[i] <= '9' {
				alnum = true
			}
			i++
			continue
		}
		j := i
		for j < len(t) && isLetter(t[j]) {
			j++
		}
		alnum = true
		if !sqlOperatorWords[string(sqlFoldWord(t[i:j]))] {
			word = false
		}
		i = j
	}
	return alnum && !word
}

// sqlOperatorWords are the words that act as operators between two values.
var sqlOperatorWords = map[string]bool{
	"and": true, "or": true, "xor": true, "not": true, "mod": true, "div": true,
	"like": true, "rlike": true, "ilike": true, "regexp": true, "similar": true,
	"to": true, "sounds": true, "is": true, "in": true, "between": true,
	"binary": true, "collate": true, "escape": true, "glob": true, "match": true,
	"null": true, "notnull": true, "isnull": true, "union": true, "select": true,
}

func sqlFoldWord(b []byte) []byte {
	var buf [16]byte
	if len(b) > len(buf) {
		return b
	}
	out := buf[:len(b)]
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// hasComment reports an SQL comment in v that reads as one: "/*", a "#"
// not starting a word ("#1", "#tag") or a "--" not used as a dash between
// words ("at checkout -- it worked").
func hasComment(v []byte) bool {
	for i, c := range v {
		next := byte(0)
		if i+1 < len(v) {
			next = v[i+1]
		}
		switch {
		case c == '/' && next == '*':
			return true
		case c == '#' && !(isLetter(next) || next >= '0' && next <= '9'):
			return true
		case c == '-' && next == '-':
			if !(i+3 < len(v) && v[i+2] == ' ' && isLetter(v[i+3])) || i > 0 && v[i-1] != ' ' {
				return true
			}
		}
	}
	return false
}

var sqliScratch = sync.Pool{New: func() any { return new([]byte) }}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 }

func isSpaceOrQuote(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '\'', '"', '`':
		return true
	}
	return false
}

// isQuoteOpener: characters after which a quote opens a quotation.
func isQuoteOpener(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '(', '[', '=', '>', ':', ',', '*', '_':
		return true
	}
	return false
}

// isQuoteCloser: characters before which a quote closes a quotation.
func isQuoteCloser(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '.', ',', ';', ':', '!', '?', ')', ']', '>', '<', '&', '/', '*', '_', '+':
		return true
	}
	return false
}

// numberGlued reports a value that starts with a digit and, before any
// comment, holds a letter or a comma right next to a character of the same
// token: an identifier or a list, not a number closing a numeric context.
func numberGlued(v []byte) bool {
	for i, c := range v {
		switch {
		case c == '-' && i+1 < len(v) && v[i+1] == '-', c == '#', c == '/' && i+1 < len(v) && v[i+1] == '*':
			return false
		case c == ',', isLetter(c):
			return true
		}
	}
	return false
}

// sqlOnlyFunctions are SQL built-ins whose names hardly occur anywhere but
// in SQL: calling one outside a method call ("str.trim(") is evidence enough.
var sqlOnlyFunctions = wordSet(`group_concat concat_ws make_set export_set name_const extractvalue
	updatexml load_file unhex ifnull substring_index find_in_set db_name schema_name current_user
	session_user system_user suser_sname suser_name user_name xmltype sys_context lo_import lo_export
	lo_get pg_read_file pg_ls_dir char_length octet_length bit_length unistr json_build_object
	row_to_json array_to_string string_agg sysdate master_pos_wait is_free_lock release_lock
	is_srvrolemember has_dbaccess fn_varbintohexstr get_host_address get_host_name pg_sleep
	benchmark convert_from query_to_xml database_to_xml json_keys json_agg jsonb_agg regexp_substr
	current_database current_schema inet_server_addr pg_backend_pid datalength`)

// sqlCommonFunctions are SQL built-ins whose names are also English words or
// common in program code; a call counts only with an argument shape typical
// of injection.
var sqlCommonFunctions = wordSet(`concat substr substring mid ascii char chr hex md5 sha1 sha2 rand
	trim ltrim rtrim sin cos tan cot pow power ord insert decode encode database schema user version
	length left right replace reverse space repeat lower upper lcase ucase count sum avg min max if
	iif elt field locate instr position strcmp floor ceil ceiling round abs now curdate curtime uuid
	date time year month day minute hour quarter format default values ln log log10 exp sqrt pi sign
	div cast convert coalesce compress uncompress nullif isnull greatest least conv bin oct soundex
	len stuff overlay lpad rpad crc32 sleep`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// sqlCallArgs matches, from the opening parenthesis of a call, the argument
// shapes that mark SQL rather than prose or program code: an empty call in
// an expression (user() = 'x'), literal arguments (div(23,-2), md5(1)=1), a
// column compared through the function (length(password)>5).
var sqlCallArgs = regexp.MustCompile(`^\(\s*(?:` +
	`\)\s*(?:$|[-+*/=<>,;)|&^%]|--|#|::|\b(?:and|or|xor|from|as|is|like|limit|union|in|between|then|else|end|collate|div|mod|regexp|rlike)\b)` +
	`|` + sqlLiteral + `\s*(?:,\s*(?:` + sqlLiteral + `|[a-z_]\w*)\s*)+\)` +
	`|` + sqlLiteral + `\s*\)\s*(?:[-+*/=<>,;)|&^%]|--|#|::|\b(?:and|or|xor|from|as|is|like|limit|union|between|then|div|mod|regexp|rlike)\b)` +
	`|[a-z_][\w.]*\s*\)\s*(?:[=<>!]=?\s*(?:\d|'|")|::|\b(?:like|rlike|regexp|between)\b))`)

const sqlLiteral = `(?:-?\d+(?:\.\d+)?|'[^']*'|"[^"]*"|@@?\w+|0x[0-9a-f]+|null)`

// checkSQLFunctionCall finds a call of an SQL built-in (lower view) that
// is not a method call and either names an SQL-only function, nests a query,
// a variable or another SQL call, has an SQL-typical argument shape, or is
// all the value holds, cut short after the parenthesis ("concat(").
func checkSQLFunctionCall(s *state, f field, v []byte) (int, int, bool) {
	for off := 0; off < len(v); {
		p := bytes.IndexByte(v[off:], '(')
		if p < 0 {
			break
		}
		p += off
		off = p + 1
		e := p
		for e > 0 && isSpaceByte(v[e-1]) {
			e--
		}
		b := e
		for b > 0 && (isWordByte(v[b-1]) || v[b-1] == '.' && b-1 > 0 && isWordByte(v[b-2])) {
			b--
		}
		if b == e {
			continue
		}
		name := v[b:e]
		if dot := bytes.LastIndexByte(name, '.'); dot >= 0 {
			// A qualified name: only an SQL-only function counts
			// (utl_inaddr.get_host_name, sys.fn_varbintohexstr).
			if sqlOnlyFunctions[string(name[dot+1:])] {
				return b, len(v), true
			}
			continue
		}
		if b > 0 && (v[b-1] == '$' || v[b-1] == '>' || v[b-1] == '#') {
			continue
		}
		if sqlOnlyFunctions[string(name)] {
			return b, len(v), true
		}
		if !sqlCommonFunctions[string(name)] {
			continue
		}
		rest := v[p:]
		// All the value holds: an open call and at most a few quotes or
		// separators before it.
		if len(bytes.TrimSpace(rest[1:])) == 0 && (b <= 3 && !hasWordByte(v[:b]) || b == assignmentPrefix(v)) {
			return b, len(v), true
		}
		// A nested query, variable, hex literal or SQL call.
		j := 1
		for j < len(rest) && (isSpaceByte(rest[j]) || rest[j] == '(') {
			j++
		}
		if j < len(rest) && (rest[j] == '@' || bytes.HasPrefix(rest[j:], []byte("0x"))) {
			return b, len(v), true
		}
		k := j
		for k < len(rest) && isWordByte(rest[k]) {
			k++
		}
		if k > j {
			inner := string(rest[j:k])
			if inner == "select" && (k == len(rest) || !isWordByte(rest[k])) {
				return b, len(v), true
			}
			m := k
			for m < len(rest) && isSpaceByte(rest[m]) {
				m++
			}
			if m < len(rest) && rest[m] == '(' && (sqlOnlyFunctions[inner] || sqlCommonFunctions[inner]) {
				return b, len(v), true
			}
		}
		if sqlCallArgs.Match(rest) {
			return b, len(v), true
		}
	}
	return 0, 0, false
}

func hasWordByte(v []byte) bool {
	for _, c := range v {
		if isWordByte(c) {
			return true
		}
	}
	return false
}

// sqlLeadingComparison matches, after a leading AND/OR/&&/||, a comparison
// of a number, column or NULL with a number, string, sub-expression or
// nothing yet (AND 2771=1709), OR (7319=8742), || c == ', AND uid!=().
var sqlLeadingComparison = regexp.MustCompile(`^\s*\(?\s*(?:-?\d+|[a-z_]\w*)\s*(?:={1,3}|!={1,2}|<>|<=>|<=?|>=?|=!)\s*(?:$|[-\d('"!]|null\b)`)

// bareTautology reports a value that is nothing but two numbers compared so
// that the comparison is always true (1=1, 42 like 42, 11!=1, 1 is not 2,
// "b,1=1"); "1=5" is as likely a note as a probe.
func bareTautology(v []byte) bool {
	i := skipSpaces(v, 0)
	// An optional leading "word," (a list the probe was appended to).
	if c := bytes.IndexByte(v, ','); c > 0 && c <= 16 && isLetter(v[i]) {
		k := i
		for k < c && isWordByte(v[k]) {
			k++
		}
		if skipSpaces(v, k) != c {
			return false
		}
		i = skipSpaces(v, c+1)
	}
	a, i := sqlNumber(v, i)
	if a == nil {
		return false
	}
	i = skipSpaces(v, i)
	var op string
	for _, o := range []string{"<=>", "!=", "<>", "=", "like", "is not"} {
		if bytes.HasPrefix(v[i:], []byte(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return false
	}
	b, j := sqlNumber(v, skipSpaces(v, i+len(op)))
	if b == nil || skipSpaces(v, j) != len(v) {
		return false
	}
	same := bytes.Equal(a, b)
	if op == "=" || op == "<=>" || op == "like" {
		return same
	}
	return !same
}

// sqlNumber reads an optionally signed run of digits at v[i:].
func sqlNumber(v []byte, i int) ([]byte, int) {
	start := i
	if i < len(v) && v[i] == '-' {
		i++
	}
	d := i
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == d || i < len(v) && isWordByte(v[i]) {
		return nil, i
	}
	return v[start:i], i
}

func skipSpaces(v []byte, i int) int {
	for i < len(v) && isSpaceByte(v[i]) {
		i++
	}
	return i
}

// checkSQLLeadingLogic finds a value that starts, after an optional number
// and closing parenthesis (the end of a numeric context), with a logical
// operator and a comparison, or that is a bare comparison of two numbers:
// the shapes of a condition appended to a numeric parameter. Prose does not
// start with "and x = 0)".
func checkSQLLeadingLogic(s *state, f field, v []byte) (int, int, bool) {
	if st, ok, end := sqlLeadingLogicAt(v, 0); ok {
		return st, end, true
	}
	if n := assignmentPrefix(v); n > 0 {
		if st, ok, end := sqlLeadingLogicAt(v, n); ok {
			return st, end, true
		}
	}
	return 0, 0, false
}

// assignmentPrefix returns the length of a leading "name=" in v: a parameter
// name that carries an encoded '=' ("pay%3DAND 1=1") or a value holding an
// assignment reaches the application, or a downstream one, as a value.
func assignmentPrefix(v []byte) int {
	for i, c := range v {
		switch {
		case c == '=':
			if i == 0 {
				return 0
			}
			return i + 1
		case i >= 32 || !(isWordByte(c) || c == '.' || c == '[' || c == ']' || c == '-'):
			return 0
		}
	}
	return 0
}

func sqlLeadingLogicAt(v []byte, i int) (int, bool, int) {
	v = v[i:]
	base := i
	i = 0
	for i < len(v) && isSpaceByte(v[i]) {
		i++
	}
	// A bare comparison is short and holds a comparison operator.
	if len(v) <= 48 && (bytes.IndexAny(v, "=<!") >= 0 || bytes.Contains(v, []byte("like")) || bytes.Contains(v, []byte(" is "))) && bareTautology(v) {
		return base + i, true, base + len(v)
	}
	if i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '-') {
		if v[i] == '-' {
			i++
		}
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		for i < len(v) && (isSpaceByte(v[i]) || v[i] == ')') {
			i++
		}
	}
	rest := v[i:]
	switch {
	case bytes.HasPrefix(rest, []byte("&&")), bytes.HasPrefix(rest, []byte("||")):
		rest = rest[2:]
	case bytes.HasPrefix(rest, []byte("and")), bytes.HasPrefix(rest, []byte("xor")):
		rest = rest[3:]
	case bytes.HasPrefix(rest, []byte("or")):
		rest = rest[2:]
	default:
		return 0, false, 0
	}
	if len(rest) == 0 || isWordByte(rest[0]) {
		return 0, false, 0
	}
	if sqlLeadingComparison.Match(rest) {
		return base + i, true, base + len(v)
	}
	return 0, false, 0
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// sqlQuoteTailOps are the operators and predicates that can follow a closing
// quote and go on with a condition.
const sqlQuoteTailOps = `\s*(?:[|^&<>=/%*+~-]|\b(?:mod|div|is|not|like|ilike|rlike|glob|regexp|sounds|similar|notnull|isnull|collate|and|or|xor|between|in|escape|match|union|order|group|limit|having|where|procedure|into)\b)`

// sqlQuoteTail matches a value whose first quote (after one token: "admin'",
// "x'", "'") is followed by an operator or predicate and, without another
// quote of its kind, a comment or terminator ending the value.
var sqlQuoteTail = regexp.MustCompile(`^[^'"` + "`" + `\s]{0,64}(?:'` + sqlQuoteTailOps + `[^']{0,80}?|"` + sqlQuoteTailOps + `[^"]{0,80}?|` +
	"`" + sqlQuoteTailOps + "[^`]{0,80}?" + `)(?:--|#|;)\s*-?\s*$`)

// checkSQLQuoteTail finds a closing quote, an operator or predicate and a
// comment or terminator cutting the rest of the query (x'|email--,
// user'collate nocase--, ' and password glob password;). The value's end is
// tested first: most values do not end in a comment.
func checkSQLQuoteTail(s *state, f field, v []byte) (int, int, bool) {
	t := bytes.TrimRight(v, " \t\n\r\f\v-")
	if !bytes.Contains(v[len(t):], []byte("--")) && (len(t) == 0 || t[len(t)-1] != '#' && t[len(t)-1] != ';') {
		return 0, 0, false
	}
	if loc := sqlQuoteTail.FindIndex(v); loc != nil {
		return loc[0], loc[1], true
	}
	return 0, 0, false
}
