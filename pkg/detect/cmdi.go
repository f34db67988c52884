package detect

import (
	"bytes"
	"path"
	"sync"

	"github.com/gatewatch/gatewatch/pkg/detect/normalize"
)

// deepPool holds scratch buffers for the deeper shell view, which only
// values carrying shell expansions need.
var deepPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// mayHideCommand reports whether the shell view v holds an expansion that a
// shell would turn into nothing inside a word: $* $? $$ $_ and friends,
// ${x} or $x glued to letters, “ and $() and <() , one-character globs [x].
func mayHideCommand(v []byte) bool {
	for i := 0; i+1 < len(v); i++ {
		switch v[i] {
		case '$':
			switch c := v[i+1]; {
			case c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '_' || c == '(':
				return true
			case c == '{' || c >= 'a' && c <= 'z':
				if i > 0 && isWordByte(v[i-1]) {
					return true
				}
			}
		case '`':
			if v[i+1] == '`' {
				return true
			}
		case '<', '>':
			if v[i+1] == '(' && i+2 < len(v) && v[i+2] == ')' {
				return true
			}
		case '[':
			if i+2 < len(v) && v[i+2] == ']' {
				return true
			}
		case '+':
			if plusSpace(v, i) {
				return true
			}
		}
	}
	return false
}

// plusSpace reports a '+' at v[i] that stands for a space: the form
// encoding of a space, kept when an application decodes a value twice
// ("cat+/etc/passwd", ";+id"). "c++", "1+1" and "+02:00" are left alone.
func plusSpace(v []byte, i int) bool {
	if i+1 >= len(v) || i == 0 {
		return false
	}
	p, n := v[i-1], v[i+1]
	if p == '+' || n == '+' || p >= '0' && p <= '9' && n >= '0' && n <= '9' {
		return false
	}
	left := p >= 'a' && p <= 'z' || p == ';' || p == '|' || p == '&' || p == '`' || p == '\''
	right := n >= 'a' && n <= 'z' || n == '/' || n == '-' || n == '$' || n == '~' || n == '.' || n == '<' || n == '>'
	return left && right
}

// appendShellDeep appends to dst the shell view v with what a shell expands
// to nothing, or to a single letter, inside a word removed: special
// parameters ($*, $?, $$, $_, ...), unset variables glued to a word
// (c${x}at, cat$u), empty substitutions (“, $(), <(), >()) and
// one-character bracket globs ([u]name); a '+' between words becomes a
// space. "c$@at /e$*tc/pa$-sswd" and "cat+/etc/passwd" become
// "cat /etc/passwd".
func appendShellDeep(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		glued := len(dst) > 0 && isWordByte(dst[len(dst)-1])
		switch c {
		case '$':
			if i+1 >= len(v) {
				break
			}
			n := v[i+1]
			switch {
			case n == '*' || n == '#' || n == '?' || n == '-' || n == '$' || n == '!' || n == '_' || n == '@':
				i++
				continue
			case n == '(' && i+2 < len(v) && v[i+2] == ')':
				i += 2
				continue
			case n == '{':
				j := i + 2
				for j < len(v) && j-i < 40 && (v[j] >= 'a' && v[j] <= 'z' || v[j] >= '0' && v[j] <= '9' || v[j] == '_') {
					j++
				}
				if j < len(v) && v[j] == '}' && j > i+2 && (glued || j+1 < len(v) && isWordByte(v[j+1])) {
					i = j
					continue
				}
			case n >= 'a' && n <= 'z' && glued:
				j := i + 1
				for j < len(v) && (v[j] >= 'a' && v[j] <= 'z' || v[j] >= '0' && v[j] <= '9' || v[j] == '_') {
					j++
				}
				i = j - 1
				continue
			}
		case '`':
			if i+1 < len(v) && v[i+1] == '`' {
				i++
				continue
			}
		case '<', '>':
			if i+2 < len(v) && v[i+1] == '(' && v[i+2] == ')' && (glued || i+3 < len(v) && isWordByte(v[i+3])) {
				i += 2
				continue
			}
		case '[':
			if i+2 < len(v) && v[i+2] == ']' && v[i+1] != ' ' {
				dst = append(dst, v[i+1])
				i += 2
				continue
			}
		case '+':
			if plusSpace(v, i) {
				c = ' '
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// checkCommandLine fires on a value that is itself a command line: a tool no
// prose names (whoami, ifconfig, certutil, Invoke-WebRequest, ansible-*)
// followed by anything, another command followed by a flag, a path, a URL or
// a redirection ("cat /etc/passwd", "curl evil.example", "env --version"),
// or any command behind a launcher or a bin directory ("time who",
// "/usr/bin/id"). It sees the lower-case view; only a value whose first word
// carries quoting or expansion tricks pays for the shell views.
func checkCommandLine(s *state, f field, v []byte) (int, int, bool) {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	if i == len(v) {
		return 0, 0, false
	}
	tricky := false
	for j := i; j < len(v) && j-i < 64 && v[j] != ' '; j++ {
		switch v[j] {
		case '\'', '"', '\\', '^', '$', '`', '[', '(':
			tricky = true
		case '+':
			tricky = tricky || plusSpace(v, j)
		}
	}
	if !tricky {
		if v[i] < 'a' || v[i] > 'z' {
			if v[i] != '/' && v[i] != '.' && v[i] != '(' {
				return 0, 0, false
			}
		}
		if startCommand(v[i:]) {
			return i, len(v), true
		}
		return 0, 0, false
	}
	bp := deepPool.Get().(*[]byte)
	sh := normalize.AppendShell((*bp)[:0], v[i:])
	n := len(sh)
	sh = appendShellDeep(sh, sh[:n])
	ok := startCommand(sh[n:])
	*bp = sh
	deepPool.Put(bp)
	if ok {
		return i, len(v), true
	}
	return 0, 0, false
}

// startCommand reports whether v (starting at its first word) is a command
// line; see checkCommandLine.
func startCommand(v []byte) bool {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '(' || v[i] == '\n') {
		i++
	}
	w, e, class, placed := readCommandHow(v, i)
	if class == cmdNone {
		return false
	}
	after := v[e:]
	if placed && (len(after) == 0 || after[0] == ' ' || after[0] == '\n' || after[0] == '\r' || after[0] == ';' || after[0] == '|' || after[0] == '&' || after[0] == '<' || after[0] == '>') {
		return true
	}
	if class == cmdTool {
		return len(after) == 0 || !isCommandByte(after[0]) && after[0] != '/' && after[0] != '='
	}
	if len(after) > 0 && (after[0] == ';' || after[0] == '|' || after[0] == '<' || after[0] == '>' || after[0] == '`') && class >= cmdStrong {
		return true
	}
	a := argStrength(after)
	switch {
	case a >= argStrict:
		return true
	case class >= cmdStrong && a >= argDotted && e-w > 2:
		return true
	case class >= cmdStrong && e-w > 2 && laterFlag(after):
		return true // "ansible all -m ping", "nmap target -sV"
	case string(v[w:e]) == "net" && netSubcommand(after), string(v[w:e]) == "reg" && regSubcommand(after):
		return true
	}
	return false
}

// laterFlag reports a flag ("-x", "--name") as the second or third argument.
func laterFlag(after []byte) bool {
	for n, i := 0, 0; n < 3 && i < len(after); n++ {
		for i < len(after) && (after[i] == ' ' || after[i] == '\t') {
			i++
		}
		if n > 0 && argStrength(after[i-1:]) >= argStrict && after[i] == '-' {
			return true
		}
		for i < len(after) && after[i] != ' ' && after[i] != '\t' {
			if after[i] == ';' || after[i] == '|' || after[i] == '\n' {
				return false
			}
			i++
		}
	}
	return false
}

// checkBraceExpansion expands a brace list the way bash does ({cat,/etc/passwd},
// c{a,oun}t, {,ifconfig}, {l,-lh}s) and fires when the first word is a
// command and the list reads as a command line rather than a set of words:
// an empty element, letters glued to the braces, a flag or path as the next
// word, or a glob-obfuscated program path. "{red,blue}" and "{id,name}"
// stay quiet.
func checkBraceExpansion(s *state, f field, v []byte) (int, int, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] != '{' || i > 0 && v[i-1] == '$' {
			continue
		}
		j := i + 1
		commas := 0
		for j < len(v) && j-i < 200 && v[j] != '}' && v[j] != '{' && v[j] != ' ' && v[j] != '\n' && v[j] != '\t' {
			if v[j] == ',' {
				commas++
			}
			j++
		}
		if j >= len(v) || v[j] != '}' || commas == 0 {
			continue
		}
		// Letters glued before and after the braces.
		p := i
		for p > 0 && isBraceAffix(v[p-1]) {
			p--
		}
		q := j + 1
		for q < len(v) && isBraceAffix(v[q]) {
			q++
		}
		prefix, suffix := v[p:i], v[j+1:q]
		if braceCommand(prefix, v[i+1:j], suffix) {
			return p, q, true
		}
		i = j
	}
	return 0, 0, false
}

func isBraceAffix(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'
}

func braceCommand(prefix, list, suffix []byte) bool {
	var words [3][]byte
	var buf [3][96]byte
	nw, empty := 0, false
	for start := 0; start <= len(list); {
		end := start
		for end < len(list) && list[end] != ',' {
			end++
		}
		el := list[start:end]
		start = end + 1
		if len(el) > 0 && el[0] == '$' && (len(el) == 1 || el[1] != '{') { // $'...' and $"..." quoting, quotes already gone
			el = el[1:]
		}
		if len(el) == 0 && len(prefix)+len(suffix) == 0 {
			empty = true
			continue
		}
		if nw < len(words) && len(prefix)+len(el)+len(suffix) <= len(buf[nw])/2 {
			b := append(append(append(buf[nw][:0], prefix...), el...), suffix...)
			if mayHideCommand(b) {
				n := len(b)
				b = appendShellDeep(b, b[:n])[n:]
			}
			words[nw] = b
			nw++
		}
	}
	if nw == 0 || len(words[0]) == 0 {
		return false
	}
	first := words[0]
	if first[0] == '/' {
		return globProgramPath(first)
	}
	_, e, class := readCommandOnce(first, 0)
	if class == cmdNone || e != len(first) {
		return false
	}
	if empty || len(prefix)+len(suffix) > 0 || nw == 1 {
		return true
	}
	next := words[1]
	return len(next) > 0 && (next[0] == '-' || next[0] == '/' || next[0] == '~' || next[0] == '$' || sensitiveArgs[string(next)])
}

// checkGlobPath fires on an absolute path written with shell wildcards that
// matches a program or a sensitive system file: /???/??t, /bi[n]/ba?h,
// /et*/pa??wd, /usr/[a-z]in/bash. Legitimate values hardly ever glob the
// system directories.
func checkGlobPath(s *state, f field, v []byte) (int, int, bool) {
	tokens := 0
	for i := 0; i < len(v) && tokens < 16; i++ {
		if v[i] != '/' || i > 0 && !isPathStart(v[i-1]) {
			continue
		}
		j := i
		glob := false
		for j < len(v) && !isPathEnd(v[j]) {
			switch v[j] {
			case '?', '*':
				glob = true
			case '[':
				glob = true
				for j+1 < len(v) && v[j] != ']' {
					j++
				}
			}
			j++
		}
		if glob {
			tokens++
			if globProgramPath(v[i:j]) {
				return i, j, true
			}
		}
		i = j
	}
	return 0, 0, false
}

func isPathStart(c byte) bool {
	switch c {
	case ' ', '\t', '\n', ';', '|', '&', '(', '=', '{', ',', '<', '>', '`', ':', '"', '\'', '+':
		return true
	}
	return false
}

func isPathEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ';', '|', '&', ')', '}', ',', '<', '>', '`', '"', '\'', '+':
		return true
	}
	return false
}

// globFiles are sensitive files and system directories a wildcard path may
// aim at; programs are matched separately under the bin directories.
var globFiles = [...]string{
	"etc/passwd", "etc/shadow", "etc/group", "etc/hosts", "etc/issue", "etc/sudoers", "etc/hostname",
	"etc/crontab", "etc/fstab", "etc/master.passwd", "proc/self/environ", "proc/self/cmdline",
	"proc/self/maps", "proc/self/status", "proc/version", "proc/cpuinfo", "dev/tcp", "dev/udp",
	"root/.ssh", "root/.bash_history", "var/log", "dev/shm",
	"bin", "sbin", "etc", "usr/bin", "usr/sbin", "proc", "root", "usr/local/bin",
}

var globBinDirs = [...]string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"}

// globProgramPath matches a wildcard path against globFiles and against
// programs under the bin directories.
func globProgramPath(p []byte) bool {
	var segs [8][]byte
	n := 0
	literal := 0
	glob := false
	for i := 0; i < len(p); {
		for i < len(p) && p[i] == '/' {
			i++
		}
		if i >= len(p) {
			break
		}
		j := i
		for j < len(p) && p[j] != '/' {
			switch p[j] {
			case '[':
				glob = true
				for j+1 < len(p) && p[j] != ']' {
					j++
				}
			case '?', '*':
				glob = true
			default:
				literal++
			}
			j++
		}
		if n == len(segs) {
			return false
		}
		segs[n] = p[i:j]
		n++
		i = j
	}
	if !glob || n == 0 {
		return false
	}
	for _, s := range segs[:n] {
		if len(bytes.Trim(s, "*")) == 0 {
			return false // "/*/" matches anything
		}
	}
	for _, f := range globFiles {
		if (n > 1 || literal >= 2) && matchSegments(segs[:n], f) {
			return true
		}
	}
	if n < 2 {
		return false
	}
	for _, d := range globBinDirs {
		if !matchSegments(segs[:n-1], d) {
			continue
		}
		last := string(segs[n-1])
		for name := range commandWords {
			if ok, _ := path.Match(last, name); ok {
				return true
			}
		}
	}
	return false
}

// matchSegments matches wildcard segments against a slash-separated name.
func matchSegments(segs [][]byte, name string) bool {
	for k, s := range segs {
		if name == "" {
			return false
		}
		part := name
		rest := ""
		if d := indexByteString(name, '/'); d >= 0 {
			part, rest = name[:d], name[d+1:]
		}
		if ok, _ := path.Match(string(s), part); !ok {
			return false
		}
		name = rest
		if k == len(segs)-1 && name != "" {
			return false
		}
	}
	return name == ""
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// checkShellFunction fires on a shell function that calls itself into a
// pipe or the background (":(){ :|:& };:", "f(){ f & f; }"), the fork bomb,
// and on the nameless "() {" of Shellshock at the start of a value or
// followed by ":;".
func checkShellFunction(s *state, f field, v []byte) (int, int, bool) {
	for i := 0; i < len(v); i++ {
		if v[i] != '(' {
			continue
		}
		j := i + 1
		for j < len(v) && v[j] == ' ' {
			j++
		}
		if j >= len(v) || v[j] != ')' {
			continue
		}
		j++
		for j < len(v) && v[j] == ' ' {
			j++
		}
		if j >= len(v) || v[j] != '{' {
			continue
		}
		k := i
		for k > 0 && (isWordByte(v[k-1]) || v[k-1] == ':' || v[k-1] == '.' || v[k-1] == '-') {
			k--
		}
		if k == i {
			// No name: Shellshock's "() {" opening a value, or "() { :;}".
			if len(bytes.TrimLeft(v[:i], " \t")) == 0 || bytes.HasPrefix(bytes.TrimLeft(v[j+1:], " "), []byte(":;")) ||
				bytes.HasPrefix(bytes.TrimLeft(v[j+1:], " "), []byte(": ;")) {
				return i, len(v), true
			}
			continue
		}
		name := v[k:i]
		end := bytes.IndexByte(v[j:], '}')
		if end < 0 {
			continue
		}
		body := v[j+1 : j+end]
		for off := 0; off < len(body); {
			m := bytes.Index(body[off:], name)
			if m < 0 {
				break
			}
			r := off + m + len(name)
			if bytes.HasPrefix(body[r:], []byte("()")) {
				r += 2
			}
			for r < len(body) && body[r] == ' ' {
				r++
			}
			if r < len(body) && (body[r] == '|' || body[r] == '&') && (r+1 >= len(body) || body[r+1] != body[r]) {
				return k, j + end + 1, true
			}
			off += m + 1
		}
	}
	return 0, 0, false
}
