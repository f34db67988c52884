package kongsim

import (
	"bufio"
	"fmt"
	"io"
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
