package kongsim

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// ParseKongConf reads kong.conf syntax: `name = value` lines, `#` starts a
// comment (Kong allows `\#` for a literal hash), blank lines are ignored.
// Names are lower-cased, as Kong does.
func ParseKongConf(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := stripComment(sc.Text())
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("kong.conf line %d: expected `name = value`", n)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			return nil, fmt.Errorf("kong.conf line %d: empty property name", n)
		}
		out[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kong.conf: %w", err)
	}
	return out, nil
}

func stripComment(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' && i+1 < len(line) && line[i+1] == '#' {
			b.WriteByte('#')
			i++
			continue
		}
		if line[i] == '#' {
			break
		}
		b.WriteByte(line[i])
	}
	return b.String()
}

// PluginServerConf returns the kong.conf properties that load the named Go
// plugins from binaries in binDir, each as its own plugin server with its
// socket under prefix (kong-reference §1.1): `plugins = bundled,<names>`,
// `pluginserver_names`, and the `_socket`, `_start_cmd` and `_query_cmd`
// of each. extraArgs, when it has an entry for a name, is appended to that
// server's start command.
func PluginServerConf(binDir, prefix string, extraArgs map[string]string, names ...string) map[string]string {
	conf := map[string]string{
		"plugins":            "bundled," + strings.Join(names, ","),
		"pluginserver_names": strings.Join(names, ","),
	}
	for _, name := range names {
		key := "pluginserver_" + strings.ReplaceAll(strings.ToLower(name), "-", "_")
		bin := filepath.Join(binDir, name)
		conf[key+"_socket"] = filepath.Join(prefix, name+".socket")
		conf[key+"_start_cmd"] = bin + " -kong-prefix " + prefix
		if a := extraArgs[name]; a != "" {
			conf[key+"_start_cmd"] += " " + a
		}
		conf[key+"_query_cmd"] = bin + " -dump"
	}
	return conf
}
