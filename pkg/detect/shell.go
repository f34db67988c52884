package detect

// checkShellCommand finds a shell separator or substitution (; | & ` $( and
// newline) followed by a command. Tool names (wget, whoami, /bin/sh, ...)
// count anywhere; commands that are also English words (echo, sleep, ping,
// type, set, ...) count only with a shell-shaped argument after them (a
// flag, a path, a variable, a quote or a number), so "fish & more" stays
// quiet while "; sleep 5" does not. It runs on the shell view, where quoting
// tricks are already undone.
func checkShellCommand(s *state, f field, v []byte) (int, int, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		start := i
		switch {
		case c == ';' || c == '|' || c == '&' || c == '`' || c == '\n':
			i++
		case c == '$' && i+1 < len(v) && v[i+1] == '(':
			i += 2
		default:
			continue
		}
		for i < len(v) && (v[i] == '|' || v[i] == '&' || v[i] == ' ' || v[i] == '\t' || v[i] == '{' || v[i] == '(' || v[i] == '\n' || v[i] == '\r') {
			i++
		}
		// Optional directory prefix: /bin/, /usr/bin/, ./
		w := i
		for j := i; j < len(v) && j-i < 24; j++ {
			if v[j] == '/' {
				w = j + 1
			} else if !(v[j] >= 'a' && v[j] <= 'z' || v[j] == '.') {
				break
			}
		}
		e := w
		for e < len(v) && (v[e] >= 'a' && v[e] <= 'z' || v[e] >= '0' && v[e] <= '9' || v[e] == '_' || v[e] == '-' || v[e] == '.') {
			e++
		}
		if e == w || e-w > 16 {
			i = max(start, i-1)
			continue
		}
		word := string(v[w:e]) // no allocation: used only as a map key
		after := v[e:]
		if c == '\n' {
			// A newline is also ordinary text layout: only tool names followed
			// by nothing, a separator or an argument count there.
			if strongCommands[word] && commandEnd(after, true) {
				return start, len(v), true
			}
		} else if strongCommands[word] && commandEnd(after, false) || weakCommands[word] && shellArgument(after) {
			return start, len(v), true
		} else if word == "net" && netSubcommand(after) {
			return start, len(v), true
		}
		i = max(start, i-1)
	}
	return 0, 0, false
}

// commandEnd reports whether what follows a command name ends it: end of
// value, a separator, a redirection or (unless strict) whitespace.
func commandEnd(after []byte, strict bool) bool {
	if len(after) == 0 {
		return true
	}
	switch after[0] {
	case ';', '|', '&', '`', '<', '>', ')', '}', ',':
		return true
	case '\n', '\r':
		if !strict {
			return true
		}
		// In text a newline after a word is layout ("id\n  name"); a command
		// injected between newlines is followed by nothing or by another
		// separator.
		rest := after
		for len(rest) > 0 && (rest[0] == '\n' || rest[0] == '\r' || rest[0] == ' ' || rest[0] == '\t') {
			rest = rest[1:]
		}
		return len(rest) == 0 || rest[0] == ';' || rest[0] == '|' || rest[0] == '&' || rest[0] == '`'
	case ' ', '\t':
		if !strict {
			return true
		}
		return shellArgument(after)
	}
	return false
}

// shellArgument reports whether after starts with whitespace and an argument
// that looks like shell syntax rather than prose.
func shellArgument(after []byte) bool {
	i := 0
	for i < len(after) && (after[i] == ' ' || after[i] == '\t') {
		i++
	}
	if i == 0 || i >= len(after) {
		return false
	}
	switch c := after[i]; {
	case c == '-' || c == '/' || c == '\\' || c == '$' || c == '\'' || c == '"' || c == '>' || c == '<' || c == '.' || c == '~':
		return true
	case c >= '0' && c <= '9':
		return true
	case c >= 'a' && c <= 'z' && i+1 < len(after) && after[i+1] == ':':
		return true // c:\windows
	}
	return false
}

func netSubcommand(after []byte) bool {
	i := 0
	for i < len(after) && after[i] == ' ' {
		i++
	}
	for _, w := range [...]string{"user", "localgroup", "share", "view", "session", "use ", "start", "stop", "config", "accounts", "group"} {
		if len(after)-i >= len(w) && string(after[i:i+len(w)]) == w {
			return true
		}
	}
	return false
}

// strongCommands are names that in a request value almost only mean a
// command: system tools, shells, interpreters and downloaders.
var strongCommands = setOf(
	"cat", "ls", "id", "whoami", "uname", "wget", "curl", "nc", "ncat", "netcat", "bash", "sh",
	"zsh", "ksh", "csh", "dash", "tcsh", "ifconfig", "ipconfig", "nslookup", "perl", "python",
	"python2", "python3", "php", "ruby", "node", "nmap", "chmod", "chown", "printenv",
	"systeminfo", "powershell", "pwsh", "cmd", "hostname", "passwd", "telnet", "ssh", "tftp",
	"ftp", "base64", "xxd", "xterm", "awk", "gawk", "sed", "grep", "netstat", "netsh",
	"crontab", "useradd", "certutil", "bitsadmin", "wmic", "tasklist", "taskkill", "busybox",
	"socat", "lua", "uniq", "tac", "which", "whereis", "getent", "mkfifo", "sudo", "bzip2",
	"gzip", "tar", "unzip", "arp", "traceroute", "tracert", "pathping", "shutdown", "reboot",
	"systemctl", "sendmail", "lsof", "uptime", "lsb_release", "finger", "pwd", "curl.exe",
	"cmd.exe", "powershell.exe", "whoami.exe", "net.exe", "ipconfig.exe", "nohup", "chattr",
	"mshta", "rundll32", "regsvr32", "cscript", "wscript", "schtasks", "vssadmin", "dir",
)

// weakCommands are commands that are also common words.
var weakCommands = setOf(
	"echo", "sleep", "ping", "dig", "host", "env", "set", "dir", "type", "net", "find", "head",
	"tail", "more", "less", "printf", "kill", "ps", "reg", "timeout", "java", "sort", "od",
	"nl", "rev", "expr", "tee", "cut", "dd", "su", "zip", "start", "route", "halt", "service",
	"mail", "exec", "eval", "source", "export", "unset", "alias", "history", "df", "du",
	"free", "w", "who", "last", "rm", "cp", "mv", "touch", "time", "wait", "read", "copy",
	"del", "move", "ren", "attrib", "tree", "call", "for", "if", "ver", "nc",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
