package detect

import "bytes"

// checkShellCommand finds a shell separator or substitution (; | & ` $( and
// newline) followed by a command. Tool names (wget, whoami, /bin/sh, ...)
// count anywhere; commands that are also English words (echo, sleep, ping,
// type, set, ...) count only with a shell-shaped argument after them (a
// flag, a path, a variable, a quote or a number), so "fish & more" stays
// quiet while "; sleep 5" does not. A value that starts with a separator
// ("|id", ";ps") needs only a command name, and a variable assigned in the
// value and then run as a command ("a=nc&&$a -lvp 4444") counts too. It runs
// on the shell view, where quoting tricks are already undone; when the value
// holds expansions that vanish in a shell (c$@at, who$u ami, pi“ng) it looks
// again at the value with those removed.
func checkShellCommand(s *state, f field, v []byte) (int, int, bool) {
	if start, ok := scanSeparators(v); ok {
		return start, len(v), true
	}
	if !mayHideCommand(v) {
		return 0, 0, false
	}
	bp := deepPool.Get().(*[]byte)
	d := appendShellDeep((*bp)[:0], v)
	ok := !bytes.Equal(d, v) && (scanSeparatorsOnly(d) || startCommand(d))
	*bp = d
	deepPool.Put(bp)
	if ok {
		return 0, len(v), true
	}
	return 0, 0, false
}

// scanSeparatorsOnly is scanSeparators without the match offset.
func scanSeparatorsOnly(v []byte) bool {
	_, ok := scanSeparators(v)
	return ok
}

// scanSeparators looks at every separator in v for a command after it.
func scanSeparators(v []byte) (int, bool) {
	lead := true // no word seen yet: a separator here starts the value
	for i := 0; i < len(v); i++ {
		c := v[i]
		start := i
		switch {
		case c == ';' || c == '|' || c == '&' || c == '`' || c == '\n':
			i++
		case c == '$' && i+1 < len(v) && v[i+1] == '(':
			i += 2
		default:
			if c != ' ' && c != '\t' && c != '\'' && c != '"' && c != '\r' {
				lead = false
			}
			continue
		}
		leading := lead
		lead = false
		for i < len(v) && (v[i] == '|' || v[i] == '&' || v[i] == ' ' || v[i] == '\t' || v[i] == '{' || v[i] == '(' || v[i] == '\n' || v[i] == '\r') {
			i++
		}
		if i < len(v) && v[i] == '$' && c != '\n' && variableCommand(v, i) {
			return start, true
		}
		w, e, class := readCommand(v, i)
		if class == cmdNone {
			i = max(start, i-1)
			continue
		}
		after := v[e:]
		switch {
		case c == '\n':
			// A newline is also ordinary text layout: only tool names followed
			// by nothing, a separator or an argument count there.
			if class >= cmdStrong && commandEnd(after, true) {
				return start, true
			}
		case leading && (commandEnd(after, true) || class >= cmdStrong && commandEnd(after, false) || nextIsCommand(after)):
			// ";ps", "|id", "& whoami", ";trap 'rm -rf x' exit": a value that
			// opens with a separator.
			return start, true
		case class >= cmdStrong && commandEnd(after, false):
			return start, true
		case class == cmdWeak && shellArgument(after):
			return start, true
		case class == cmdWeakStrict && argStrength(after) >= argStrict:
			return start, true
		case string(v[w:e]) == "net" && netSubcommand(after):
			return start, true
		case string(v[w:e]) == "reg" && regSubcommand(after):
			return start, true
		}
		i = max(start, i-1)
	}
	return 0, false
}

// nextIsCommand reports whether the word after a command is a command too
// ("xargs rm", "trap 'rm -rf x'").
func nextIsCommand(after []byte) bool {
	i := 0
	for i < len(after) && (after[i] == ' ' || after[i] == '\t') {
		i++
	}
	if i == 0 || i >= len(after) {
		return false
	}
	_, e, c := readCommandOnce(after, i)
	return c != cmdNone && (e == len(after) || after[e] == ' ' || after[e] == ';' || after[e] == '\n')
}

// readCommand reads the command at v[i:]: an optional directory prefix
// (/bin/, /usr/bin/, ./), then launchers that run the next word as a command
// (sudo, nohup, time, strace, ...) with their flags, then the command name.
// It returns the name's bounds and class; a launcher with a known command
// after it yields that command.
func readCommand(v []byte, i int) (w, e int, class cmdClass) {
	w, e, class, _ = readCommandHow(v, i)
	return w, e, class
}

// readCommandHow is readCommand that also reports whether the name came
// after a launcher or a bin directory ("sudo id", "/usr/bin/id"), which makes
// any word a command.
func readCommandHow(v []byte, i int) (w, e int, class cmdClass, placed bool) {
	for hops := 0; hops < 4; hops++ {
		w, e, class = readCommandOnce(v, i)
		if class == cmdNone {
			return w, e, class, placed
		}
		if w > i && binDir(v[i:w]) {
			placed = true
		}
		if !launchers[string(v[w:e])] {
			return w, e, class, placed
		}
		// Skip the launcher's flags and numbers ("timeout 5", "nice -n 10",
		// "cpulimit -l 50 -f") and look at the word it runs.
		j := e
		for {
			k := j
			for k < len(v) && (v[k] == ' ' || v[k] == '\t') {
				k++
			}
			if k == j || k >= len(v) {
				break
			}
			if v[k] == '-' || v[k] >= '0' && v[k] <= '9' {
				m := k
				for m < len(v) && v[m] != ' ' && v[m] != '\t' {
					m++
				}
				j = m
				continue
			}
			j = k
			break
		}
		if j == e || j >= len(v) {
			return w, e, class, placed
		}
		nw, ne, nc := readCommandOnce(v, j)
		if nc == cmdNone {
			return w, e, class, placed
		}
		placed = true
		if nc < cmdStrong && commandEnd(v[ne:], true) {
			nc = cmdStrong // "time who", "nohup top": a launcher says it is a command
		}
		if !launchers[string(v[nw:ne])] {
			return nw, ne, nc, placed
		}
		i = j
	}
	return w, e, class, placed
}

// binDir reports a directory prefix that holds programs: /bin/, /usr/sbin/,
// bin/, ./.
func binDir(p []byte) bool {
	return bytes.HasSuffix(p, []byte("bin/")) || bytes.HasSuffix(p, []byte("bin\\")) || string(p) == "./"
}

// readCommandOnce reads one command name (with directory prefix) at v[i:].
func readCommandOnce(v []byte, i int) (w, e int, class cmdClass) {
	w = i
	for j := i; j < len(v) && j-i < 32; j++ {
		if v[j] == '/' || v[j] == '\\' && j > i {
			w = j + 1
		} else if !(v[j] >= 'a' && v[j] <= 'z' || v[j] >= '0' && v[j] <= '9' || v[j] == '.' || v[j] == '_' || v[j] == '-' || v[j] == ':' && j == i+1) {
			break
		}
	}
	e = w
	for e < len(v) && isCommandByte(v[e]) {
		e++
	}
	if e == w || e-w > 32 {
		return w, e, cmdNone
	}
	c := commandClass(v[w:e])
	if c == cmdNone && w > i && e-w <= 3 && bytes.IndexByte(v[i:w-1], '/') < 0 {
		// A cmd.exe switch glued to the command ("bcdboot/r", "dir/s").
		if pc := commandClass(v[i : w-1]); pc >= cmdStrong {
			return i, w - 1, pc
		}
	}
	return w, e, c
}

func isCommandByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '+'
}

// variableCommand reports a "$name" or "${name}" in command position whose
// name the value assigns earlier ("a=nc&&$a -lvp 4444", "c=cat;$c $f"):
// building a command from variables hides its name from signatures.
func variableCommand(v []byte, i int) bool {
	j := i + 1
	brace := j < len(v) && v[j] == '{'
	if brace {
		j++
	}
	n := j
	for n < len(v) && (v[n] >= 'a' && v[n] <= 'z' || v[n] >= '0' && v[n] <= '9' || v[n] == '_') {
		n++
	}
	if n == j || n-j > 32 {
		return false
	}
	name := v[j:n]
	for k := 0; k+len(name) < len(v) && k < i; k++ {
		if v[k+len(name)] != '=' || !bytes.HasPrefix(v[k:], name) {
			continue
		}
		if k == 0 || v[k-1] == ';' || v[k-1] == '&' || v[k-1] == '|' || v[k-1] == '\n' || v[k-1] == ' ' || v[k-1] == '`' || v[k-1] == '(' {
			return true
		}
	}
	return false
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
		rest := bytes.TrimLeft(after, " \t")
		if len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r' || rest[0] == ';' || rest[0] == '|' || rest[0] == '&' || rest[0] == '`' {
			return true
		}
		return shellArgument(after)
	}
	return false
}

// shellArgument reports whether after starts with whitespace and an argument
// that looks like shell syntax rather than prose.
func shellArgument(after []byte) bool {
	return argStrength(after) >= argLoose
}

// Argument strengths, from "could be prose" to "only a command line has it".
const (
	argNone   = iota
	argLoose  // a number, a quote, a dot or tilde word
	argDotted // a host name, address or file name (example.com, 10.0.0.1, a.txt, user@host)
	argStrict // a flag, an absolute or relative path, a URL, a redirection, a variable, a drive, a credential file
)

// argStrength grades the first argument in after (which must start with
// whitespace).
func argStrength(after []byte) int {
	i := 0
	for i < len(after) && (after[i] == ' ' || after[i] == '\t') {
		i++
	}
	if i == 0 || i >= len(after) {
		return argNone
	}
	a := after[i:]
	c := a[0]
	switch {
	case c == '-':
		if len(a) > 1 && (a[1] >= 'a' && a[1] <= 'z' || a[1] == '-' && len(a) > 2 && a[2] >= 'a' && a[2] <= 'z') {
			return argStrict
		}
		if len(a) > 1 && a[1] >= '0' && a[1] <= '9' {
			return argLoose
		}
		return argNone
	case c == '/':
		if len(a) > 1 && (a[1] >= 'a' && a[1] <= 'z' || a[1] == '.' || a[1] == '*' || a[1] == '?' || a[1] == '[' || a[1] == '_') {
			return argStrict
		}
		if len(a) == 1 || a[1] == ' ' || a[1] == ';' || a[1] == '\n' {
			return argDotted // the root directory alone
		}
		return argNone
	case c == '\\' || c == '$' || c == '>' || c == '<' || c == '`':
		return argStrict
	case c == '~':
		if len(a) > 1 && a[1] == '/' {
			return argStrict
		}
		return argLoose
	case c == '.':
		if bytes.HasPrefix(a, []byte("./")) || bytes.HasPrefix(a, []byte("../")) {
			return argStrict
		}
		return argLoose
	case c == '\'' || c == '"':
		return argLoose
	case c >= 'a' && c <= 'z' && len(a) > 1 && a[1] == ':' && (len(a) == 2 || a[2] == '/' || a[2] == '\\'):
		return argStrict // c:\windows
	}
	// A word: a URL, a credential file, a registry hive, a dotted name.
	e := 0
	for e < len(a) && a[e] != ' ' && a[e] != '\t' && a[e] != ';' && a[e] != '|' && a[e] != '&' && a[e] != '\n' {
		e++
	}
	word := a[:e]
	if bytes.Contains(word, []byte("://")) || sensitiveArgs[string(word)] ||
		bytes.HasPrefix(word, []byte("hklm")) || bytes.HasPrefix(word, []byte("hkcu")) || bytes.HasPrefix(word, []byte("hkey_")) {
		return argStrict
	}
	if c >= '0' && c <= '9' {
		if bytes.Count(word, []byte(".")) == 3 {
			return argStrict // an IPv4 address
		}
		return argLoose
	}
	if d := bytes.IndexByte(word, '.'); d > 0 && d < len(word)-1 || bytes.IndexByte(word, '@') > 0 {
		return argDotted
	}
	return argNone
}

// sensitiveArgs are file names that, as a command's argument, mean reading
// credentials ("comm passwd", "fold shadow").
var sensitiveArgs = setOf("passwd", "shadow", "master.passwd", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
	".bash_history", ".htpasswd", "sam", "sudoers", "authorized_keys", "known_hosts", "environ")

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

// regSubcommand recognises "reg add|query|delete|..." with a hive after it.
func regSubcommand(after []byte) bool {
	i := 0
	for i < len(after) && after[i] == ' ' {
		i++
	}
	for _, w := range [...]string{"add ", "query ", "delete ", "export ", "import ", "save ", "load ", "copy ", "restore ", "unload ", "compare "} {
		if len(after)-i >= len(w) && string(after[i:i+len(w)]) == w {
			rest := after[i+len(w):]
			for len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
			return bytes.HasPrefix(rest, []byte("hk")) || len(rest) > 0 && rest[0] == '"'
		}
	}
	return false
}

// cmdClass grades a command name by how much else it could be.
type cmdClass uint8

const (
	cmdNone cmdClass = iota
	// cmdWeak: also a common word; needs a shell-shaped argument (a number
	// or a quote will do) after a separator.
	cmdWeak
	// cmdWeakStrict: a common word that counts only with a flag, a path, a
	// URL or a redirection after it.
	cmdWeakStrict
	// cmdStrong: a system tool, shell, interpreter or downloader; after a
	// separator its name is enough.
	cmdStrong
	// cmdTool: an administration or attack tool that no prose names; a value
	// starting with it is a command whatever follows.
	cmdTool
)

// commandClass looks a command name up, also without a ".exe" suffix, a
// version suffix ("python3.10", "gcc7.4") or the subcommand of a tool family
// ("ansible-playbook"). A versioned interpreter or compiler name with a
// dotted version ("python3.10", "gcc7.4") is what only a command line writes.
func commandClass(w []byte) cmdClass {
	if len(w) == 0 || len(w) > 32 {
		return cmdNone
	}
	if c, ok := commandWords[string(w)]; ok {
		return c
	}
	if n := len(w) - 4; n > 0 && string(w[n:]) == ".exe" {
		if c := commandWords[string(w[:n])]; c != cmdNone {
			return max(c, cmdStrong)
		}
		return cmdNone
	}
	// Version suffix: letters, then digits and dots.
	n := len(w)
	for n > 0 && (w[n-1] >= '0' && w[n-1] <= '9' || w[n-1] == '.') {
		n--
	}
	if n < len(w) && n >= 2 && w[n] >= '0' && w[n] <= '9' && versioned[string(w[:n])] {
		if bytes.IndexByte(w[n:], '.') > 0 {
			return cmdTool
		}
		return cmdStrong
	}
	if d := bytes.IndexByte(w, '-'); d > 0 && toolFamilies[string(w[:d])] {
		return cmdTool
	}
	return cmdNone
}

// toolFamilies are tools whose subcommands are separate binaries
// (ansible-playbook, ssh-keygen, lwp-download, rmt-tar).
var toolFamilies = setOf("ansible", "lwp", "rmt", "msf", "impacket", "crackmapexec")

// versioned are interpreters and compilers installed under versioned names.
var versioned = setOf("python", "perl", "ruby", "php", "node", "gcc", "g++", "clang", "lua", "luajit",
	"java", "tclsh", "irb", "pip", "bash", "zsh", "ksh", "pypy", "php-cgi", "nodejs")

// launchers run their argument as a command.
var launchers = setOf("sudo", "doas", "nohup", "time", "nice", "ionice", "strace", "ltrace", "timeout",
	"xargs", "busybox", "command", "exec", "builtin", "setsid", "stdbuf", "runuser", "cpulimit", "chroot", "unbuffer")

// commandWords grades command names. The lists are ordinary Unix, Windows
// and PowerShell tools; English words sit in the weak classes.
var commandWords = func() map[string]cmdClass {
	m := map[string]cmdClass{}
	add := func(c cmdClass, words ...string) {
		for _, w := range words {
			m[w] = c
		}
	}
	add(cmdWeak,
		"echo", "sleep", "ping", "dig", "host", "env", "set", "dir", "type", "net", "find", "head",
		"tail", "more", "less", "printf", "kill", "ps", "reg", "timeout", "java", "sort", "od",
		"nl", "rev", "expr", "tee", "cut", "dd", "su", "zip", "start", "route", "halt", "service",
		"mail", "exec", "eval", "source", "export", "unset", "alias", "history", "df", "du",
		"free", "w", "who", "last", "rm", "cp", "mv", "touch", "time", "wait", "read", "copy",
		"del", "move", "ren", "attrib", "tree", "call", "for", "if", "ver", "nice", "watch", "command")
	add(cmdWeakStrict,
		"cd", "at", "top", "date", "column", "fold", "comm", "bridge", "trap", "vi", "vim", "ex",
		"view", "nano", "emacs", "man", "file", "stat", "strings", "locate", "split", "paste", "join",
		"fmt", "tr", "wc", "ln", "mkdir", "rmdir", "chdir", "md", "rd", "cls", "pushd", "popd",
		"mount", "ip", "ss", "screen", "perf", "expect", "format", "expand", "cipher", "sc", "replace",
		"shift", "goto", "exit", "logout", "install", "make", "patch", "diff", "yes", "nm", "truncate",
		"hydra", "pacman", "docker", "kubectl", "git", "mysql", "psql", "sqlite3", "npm", "pip", "gem",
		"apk", "ll", "la", "rc", "trace", "query", "where", "label", "title", "color", "pause",
		"choice", "prompt", "path", "vol", "fc", "comp", "shred", "wipe", "script", "mtr", "write",
		"wall", "batch", "open", "defaults", "security", "groups", "users", "sync")
	// The historic list: names that after a separator are a command.
	add(cmdStrong,
		"cat", "wget", "curl", "nc", "ncat", "netcat", "bash", "sh",
		"zsh", "ksh", "csh", "dash", "tcsh", "perl", "python",
		"python2", "python3", "php", "ruby", "node", "chmod", "chown",
		"cmd", "passwd", "telnet", "ssh", "tftp",
		"ftp", "base64", "xxd", "xterm", "awk", "gawk", "sed", "grep",
		"busybox", "socat", "lua", "uniq", "tac", "which", "whereis", "mkfifo", "sudo", "bzip2",
		"gzip", "tar", "unzip", "arp", "traceroute", "tracert", "pathping", "shutdown", "reboot",
		"systemctl", "sendmail", "lsof", "uptime", "finger", "pwd", "nohup", "chattr", "dir", "hostname")
	// More system tools, interpreters, compilers, archivers and network
	// clients.
	add(cmdStrong,
		"scp", "sftp", "rsync", "tshark", "nft", "ufw", "ifup", "ifdown", "iwconfig", "iwlist",
		"ethtool", "dmesg", "lsmod", "insmod", "modprobe", "rmmod", "sysctl", "journalctl", "chgrp",
		"setfacl", "getfacl", "umount", "fdisk", "mkfs", "lsblk", "blkid", "losetup", "base32", "basenc",
		"hexdump", "objdump", "objcopy", "readelf", "ldd", "gcc", "g++", "cc", "c89", "c99", "clang",
		"tcc", "irb", "jshell", "tclsh", "wish", "luajit", "php-cgi", "pip3", "pipx", "npx", "gdb",
		"lldb", "valgrind", "apt-get", "aptitude", "yum", "dnf", "rpm", "dpkg", "zypper", "bsdtar",
		"cpio", "7z", "7za", "unrar", "unxz", "xz", "zcat", "bzcat", "xzcat", "zstd", "gunzip", "lzma",
		"openssl", "gpg", "tmux", "setsid", "sshpass", "w3m", "elinks", "aria2c",
		"smbclient", "rpcclient", "ldapsearch", "mysqldump", "pg_dump", "redis-cli", "mongosh", "ls", "id",
		"rlogin", "rsh", "rexec", "xargs", "setcap", "getcap", "capsh", "pkexec", "doas", "runuser",
		"chsh", "chfn", "newgrp", "gpasswd", "lastlog", "faillog", "nproc", "lscpu", "lspci", "lsusb",
		"dmidecode", "timedatectl", "loginctl", "chkconfig", "update-rc.d", "initctl", "runlevel",
		"telinit", "poweroff", "pgrep", "pkill", "killall", "pidof", "fuser", "renice", "ionice",
		"taskset", "chrt", "ldconfig", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum",
		"mktemp", "mknod", "readlink", "realpath", "dirname", "basename", "iconv", "uconv",
		"dos2unix", "unix2dos", "uuencode", "uudecode", "jq", "xmllint", "csplit", "mawk", "nawk",
		"nvim", "vipw", "vigr", "updatedb", "ulimit", "umask", "lsattr", "htop", "iotop", "vmstat",
		"iostat", "mpstat", "pstree", "nmcli", "dhclient", "resolvectl", "whois", "tracepath",
		"ping6", "fping", "hping3", "arping", "flock", "cpulimit", "strace", "ltrace", "stdbuf",
		"unbuffer", "fetchmail", "mutt", "procmail", "crontab", "atq", "atrm", "anacron", "perl5",
		"bsdcpio", "ksh93", "mksh", "rbash", "pdksh", "nodejs", "rscript", "ghci",
		"ssh-copy-id", "ssh-keygen", "ssh-keyscan", "ssh-add", "ssh-agent",
		"osascript", "launchctl", "dscl", "csrutil", "spctl", "pbpaste", "pbcopy",
		// Windows
		"regedit", "regedt32", "bcdedit", "bcdboot", "bootcfg", "diskpart", "wevtutil", "wbadmin",
		"ntdsutil", "dsquery", "dsget", "nltest", "klist", "cmdkey", "runas", "icacls", "cacls",
		"xcacls", "takeown", "forfiles", "msiexec", "installutil", "msbuild", "esentutl", "makecab",
		"extrac32", "findstr", "qwinsta", "quser", "qprocess", "wusa", "pnputil", "dism", "sfc",
		"chkdsk", "assoc", "ftype", "xcopy", "robocopy", "mklink", "fsutil", "gpupdate", "gpresult",
		"secedit", "auditpol", "netdom", "nbtstat", "getmac", "mstsc", "psexec", "sysinfo", "iwr",
		"iex", "irm", "iwmi", "gwmi", "saps", "wmic.exe", "cmstp", "odbcconf", "pcalua", "syncappvpublishingserver",
		"wsl", "bash.exe", "conhost",
		// Tools a search or a title may name: at the start of a value they
		// count with a flag, a path or an address.
		"powershell", "pwsh", "ansible", "iptables", "ip6tables", "tcpdump", "nmap", "masscan",
		"sqlmap", "nikto", "gobuster", "ffuf", "wfuzz", "hashcat")
	// Tools no prose names: a value that starts with one is a command.
	add(cmdTool,
		"whoami", "uname", "ifconfig", "ipconfig", "nslookup", "netstat", "systeminfo", "tasklist",
		"taskkill", "printenv", "getent", "lsb_release", "hostnamectl", "useradd", "usermod",
		"userdel", "adduser", "deluser", "addgroup", "groupadd", "chpasswd", "visudo", "cscli",
		"firewall-cmd", "msfconsole", "msfvenom", "mimikatz", "certutil", "bitsadmin", "wmic",
		"netsh", "vssadmin", "schtasks",
		"rundll32", "regsvr32", "mshta", "cscript", "wscript", "chef-client", "chef-shell",
		"chef-solo", "chef-run", "chef-vault", "chef-apply", "chef-zero", "aa-disable", "aa-enforce",
		"aa-complain", "aa-status", "aa-exec", "aa-teardown",
		"invoke-expression", "invoke-webrequest", "invoke-restmethod", "invoke-command",
		"invoke-wmimethod", "invoke-item", "invoke-shellcode", "invoke-mimikatz", "start-process",
		"new-object", "get-wmiobject", "get-ciminstance", "start-bitstransfer", "set-mppreference",
		"add-mppreference", "set-executionpolicy", "get-childitem", "get-content", "remove-item",
		"get-process", "stop-process", "get-localuser", "new-localuser", "get-itemproperty",
		"set-itemproperty", "new-itemproperty", "invoke-cimmethod", "new-service", "test-netconnection",
		"cmd.exe", "powershell.exe", "curl.exe", "whoami.exe", "net.exe", "ipconfig.exe")
	return m
}()

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
