package kongsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverConf is one entry of kong.conf's pluginserver list (§1.1).
type serverConf struct {
	name, socket, startCmd, queryCmd string
}

// defaultPluginServerPath is Kong's DEFAULT_PLUGINSERVER_PATH.
const defaultPluginServerPath = "/usr/local/bin"

// parseServerConf reads pluginserver_names and the per-server properties.
func parseServerConf(conf map[string]string, prefix string, logf func(string, ...any)) ([]serverConf, error) {
	var out []serverConf
	names := strings.TrimSpace(conf["pluginserver_names"])
	if names == "" || names == "off" {
		return nil, nil
	}
	for _, raw := range strings.Split(names, ",") {
		name := strings.ToLower(strings.TrimSpace(raw))
		if name == "" {
			continue
		}
		key := "pluginserver_" + strings.ReplaceAll(name, "-", "_")
		s := serverConf{
			name:     name,
			socket:   conf[key+"_socket"],
			startCmd: conf[key+"_start_cmd"],
			queryCmd: conf[key+"_query_cmd"],
		}
		if s.socket == "" {
			s.socket = filepath.Join(prefix, name+".socket")
		}
		bin := filepath.Join(defaultPluginServerPath, name)
		_, statErr := os.Stat(bin)
		if s.startCmd == "" && statErr == nil {
			s.startCmd = bin
		}
		if s.queryCmd == "" && statErr == nil {
			s.queryCmd = bin + " -dump"
		}
		if s.queryCmd == "" {
			return nil, fmt.Errorf("kong.conf: query_command undefined for pluginserver %s", name)
		}
		if s.startCmd == "" {
			logf("[pluginserver] start_command undefined for pluginserver %s; assuming external process management", name)
		}
		out = append(out, s)
	}
	return out, nil
}

// pluginInfo is what Kong keeps from a dump (§1.2).
type pluginInfo struct {
	Name     string
	Priority int
	Version  string
	Phases   []string
	Schema   json.RawMessage
	config   *field
}

// queryPlugin runs query_cmd through the shell, as io.popen does, and
// parses the dump.
func queryPlugin(ctx context.Context, s serverConf) (*pluginInfo, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.queryCmd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pluginserver %s: query %q: %w: %s", s.name, s.queryCmd, err, strings.TrimSpace(stderr.String()))
	}
	info, err := parseDump(out)
	if err != nil {
		return nil, fmt.Errorf("pluginserver %s: %w", s.name, err)
	}
	return info, nil
}

// parseDump decodes `-dump` output the way load_external_plugins_info and
// load_plugin_handler do.
func parseDump(out []byte) (*pluginInfo, error) {
	var top any
	if err := json.Unmarshal(out, &top); err != nil {
		return nil, fmt.Errorf("failed decoding plugin info: %w", err)
	}
	var plugins []any
	protocol := "MsgPack:1"
	switch t := top.(type) {
	case map[string]any:
		if p, ok := t["Protocol"].(string); ok {
			protocol = p
		}
		plugins, _ = t["Plugins"].([]any)
	case []any:
		plugins = t
	default:
		return nil, errors.New("not a plugin info table")
	}
	if protocol != "ProtoBuf:1" {
		if protocol == "MsgPack:1" {
			return nil, fmt.Errorf("protocol %q: kongsim speaks ProtoBuf:1 only", protocol)
		}
		return nil, fmt.Errorf("unknown protocol implementation %q", protocol)
	}
	if len(plugins) == 0 {
		return nil, errors.New("not a plugin info table: no Plugins")
	}
	p, ok := plugins[0].(map[string]any)
	if !ok {
		return nil, errors.New("not a plugin info table")
	}
	info := &pluginInfo{}
	info.Name, _ = p["Name"].(string)
	if info.Name == "" {
		return nil, errors.New("plugin info: Name missing")
	}
	prio, ok := p["Priority"].(float64)
	if !ok || prio != math.Trunc(prio) || math.IsInf(prio, 0) {
		return nil, fmt.Errorf("Plugin %q cannot be loaded because its PRIORITY field is not a valid integer number", info.Name)
	}
	info.Priority = int(prio)
	v, ok := p["Version"].(string)
	if !ok || !validVersion(v) {
		return nil, fmt.Errorf("Plugin %q cannot be loaded because its VERSION field does not follow the \"x.y.z\" format", info.Name)
	}
	info.Version = v
	for _, ph := range list(p["Phases"]) {
		if s, ok := ph.(string); ok {
			info.Phases = append(info.Phases, s)
		}
	}
	raw, err := json.Marshal(p["Schema"])
	if err != nil || p["Schema"] == nil {
		return nil, fmt.Errorf("plugin %q: Schema missing", info.Name)
	}
	info.Schema = raw
	if info.config, err = parsePluginSchema(raw); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", info.Name, err)
	}
	return info, nil
}

// validVersion accepts what Kong's version library parses with at most
// three numeric parts ("0.1", "1.2.3"), rejecting "1.0.0.0".
func validVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// process supervises one plugin server: spawn through the shell, merge its
// output into the log, respawn at most once a second, SIGTERM on stop
// (§1.4).
type process struct {
	conf serverConf
	env  []string
	logf func(string, ...any)
	out  io.Writer

	mu      sync.Mutex
	cmd     *exec.Cmd
	stopped bool
	spawns  int
	exits   int    // children that ended while not stopping
	lastErr string // how the last one ended
	done    chan struct{}
}

func startProcess(s serverConf, env []string, out io.Writer, logf func(string, ...any)) *process {
	p := &process{conf: s, env: env, logf: logf, out: out, done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *process) loop() {
	defer close(p.done)
	var last time.Time
	for {
		if wait := time.Until(last.Add(time.Second)); wait > 0 {
			time.Sleep(wait)
		}
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			return
		}
		last = time.Now()
		p.logf("[pluginserver] starting pluginserver process for %s", p.conf.name)
		cmd := exec.Command("/bin/sh", "-c", "exec "+p.conf.startCmd)
		cmd.Env = append(os.Environ(), p.env...)
		pr, pw, err := os.Pipe()
		if err != nil {
			p.mu.Unlock()
			p.logf("[pluginserver] %s: pipe: %v", p.conf.name, err)
			continue
		}
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			p.mu.Unlock()
			pw.Close()
			pr.Close()
			p.logf("[pluginserver] %s: start: %v", p.conf.name, err)
			continue
		}
		pw.Close()
		p.cmd = cmd
		p.spawns++
		pid := cmd.Process.Pid
		p.mu.Unlock()
		p.logf("[pluginserver] started, pid %d", pid)
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				if p.out != nil {
					fmt.Fprintf(p.out, "[%s:%d] %s\n", p.conf.name, pid, sc.Text())
				}
			}
			pr.Close()
		}()
		err = cmd.Wait()
		<-copied
		p.mu.Lock()
		stopped := p.stopped
		p.cmd = nil
		p.mu.Unlock()
		if stopped {
			p.logf("[pluginserver] successfully stopped pluginserver '%s', pid %d", p.conf.name, pid)
			return
		}
		p.mu.Lock()
		p.exits++
		p.mu.Unlock()
		reason := exitReason(cmd, err)
		p.mu.Lock()
		p.lastErr = reason
		p.mu.Unlock()
		if reason == "exit 127" {
			p.logf("[pluginserver] external pluginserver '%s' start command %s exited with \"command not found\"", p.conf.name, p.conf.startCmd)
		} else {
			p.logf("[pluginserver] external pluginserver '%s' terminated: %s", p.conf.name, reason)
		}
	}
}

// failures reports how many children ended on their own and how the last
// one did.
func (p *process) failures() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exits, p.lastErr
}

// pid returns the running child's pid, 0 if none.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop sends SIGTERM and waits for the supervisor to end; after grace it
// kills the child.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopped = true
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(grace):
		p.mu.Lock()
		if p.cmd != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
		p.mu.Unlock()
		<-p.done
	}
}

// exitReason renders how a child ended as ngx.pipe's wait does:
// "exit <status>" or "signal <number>".
func exitReason(cmd *exec.Cmd, err error) string {
	if cmd.ProcessState == nil {
		return fmt.Sprint(err)
	}
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		if st.Signaled() {
			return fmt.Sprintf("signal %d", st.Signal())
		}
		return fmt.Sprintf("exit %d", st.ExitStatus())
	}
	return fmt.Sprint(err)
}
