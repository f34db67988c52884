// Package corpus reads the labelled HTTP request corpus (one JSON object per
// line, see ../shared/corpus/README.md) that the detection tests, the
// detection benchmark and the soak consume (detect.NewRequest turns a record
// into the request view the engine inspects). Reading never stops at a bad line: it is reported with its
// line number and the next line is read.
package corpus

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Record is one corpus line.
type Record struct {
	ID       string            `json:"id"`
	Method   string            `json:"method"`
	URI      string            `json:"uri"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	Label    string            `json:"label"`
	Class    string            `json:"class"`
	Source   string            `json:"source"`
	Location string            `json:"location"`
	Meta     map[string]any    `json:"meta,omitempty"`
}

// Attack reports whether the record is labelled as an attack.
func (r *Record) Attack() bool { return r.Label == "attack" }

// Subclass returns meta.subclass, or "".
func (r *Record) Subclass() string {
	s, _ := r.Meta["subclass"].(string)
	return s
}

// CRSRulePL returns meta.crs_rule_pl (the paranoia level of the CRS rule a
// regression test exercises), or 0.
func (r *Record) CRSRulePL() int {
	pl, _ := r.Meta["crs_rule_pl"].(float64)
	return int(pl)
}

// LineError is a line that could not be decoded.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// MaxLine bounds one corpus line.
const MaxLine = 16 << 20

// Read calls fn for every well-formed record of r in order and bad for every
// malformed line (bad JSON, missing id or uri). Blank lines are skipped. It
// returns the first error of r itself, or fn's first error.
func Read(r io.Reader, fn func(line int, rec *Record) error, bad func(*LineError)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			bad(&LineError{Line: line, Err: err})
			continue
		}
		if rec.ID == "" || rec.URI == "" {
			bad(&LineError{Line: line, Err: errors.New("missing field id or uri")})
			continue
		}
		if err := fn(line, &rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("corpus: line %d: %w", line+1, err)
	}
	return nil
}
