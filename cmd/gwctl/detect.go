package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gatewatch/gatewatch/pkg/detect"
)

func init() {
	register(command{
		name:    "detect",
		summary: "run the attack detector over requests in corpus JSONL (file or -)",
		run:     runDetect,
	})
}

// maxDetectLine bounds one input line; a longer line is reported as
// malformed rather than read into memory whole.
const maxDetectLine = 16 << 20

// detectInput is one request in the corpus JSONL format
// (see /work/shared/corpus/README.md); fields other than these are ignored.
type detectInput struct {
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	URI     *string           `json:"uri"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type detectFinding struct {
	RuleID   string `json:"rule_id"`
	Class    string `json:"class"`
	Severity string `json:"severity"`
	Location string `json:"location"`
}

type detectOutput struct {
	ID       json.RawMessage `json:"id"`
	Attack   bool            `json:"attack"`
	Findings []detectFinding `json:"findings"`
}

// runDetect reads requests as JSONL and writes one verdict line per request.
// Exit codes: 0 all lines processed, 1 some lines were malformed (each is
// reported on stderr with its line number and skipped), 2 usage or I/O error.
func runDetect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	paranoia := fs.Int("paranoia", 1, "paranoia level 1..4: higher runs more rules, with more false positives")
	rulesPath := fs.String("rules", "", "rule file to use instead of the embedded default")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwctl detect [-paranoia N] [-rules FILE] [FILE|-]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	var rules []byte
	if *rulesPath != "" {
		b, err := os.ReadFile(*rulesPath)
		if err != nil {
			fmt.Fprintf(stderr, "gwctl detect: -rules: %v\n", err)
			return 2
		}
		rules = b
	}
	eng, err := detect.New(rules)
	if err != nil {
		fmt.Fprintf(stderr, "gwctl detect: -rules %s: %v\n", *rulesPath, err)
		return 2
	}
	prof, err := eng.Profile(detect.Policy{Paranoia: *paranoia})
	if err != nil {
		fmt.Fprintf(stderr, "gwctl detect: -paranoia: %v\n", err)
		return 2
	}
	in := stdin
	if name := fs.Arg(0); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "gwctl detect: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(stdout)
	malformed, err := detectStream(ctx, prof, in, out, stderr)
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "gwctl detect: %v\n", err)
		return 2
	}
	if malformed > 0 {
		fmt.Fprintf(stderr, "gwctl detect: %d malformed line(s) skipped\n", malformed)
		return 1
	}
	return 0
}

// detectStream processes every line of in and returns how many were
// malformed. Blank lines are skipped silently.
func detectStream(ctx context.Context, prof *detect.Profile, in io.Reader, out io.Writer, stderr io.Writer) (int, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var (
		findings  []detect.Finding
		malformed int
		line      []byte
	)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return malformed, err
		}
		var tooLong bool
		var err error
		line, tooLong, err = readLine(br, line[:0])
		if err != nil && !errors.Is(err, io.EOF) {
			return malformed, fmt.Errorf("line %d: %w", n, err)
		}
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			return malformed, nil
		}
		switch trimmed := bytes.TrimSpace(line); {
		case tooLong:
			malformed++
			fmt.Fprintf(stderr, "gwctl detect: line %d: longer than %d bytes\n", n, maxDetectLine)
		case len(trimmed) == 0:
		default:
			req, id, perr := parseDetectLine(trimmed)
			if perr != nil {
				malformed++
				fmt.Fprintf(stderr, "gwctl detect: line %d: %v\n", n, perr)
				break
			}
			findings = prof.Inspect(&req, findings[:0])
			o := detectOutput{ID: id, Attack: len(findings) > 0, Findings: make([]detectFinding, 0, len(findings))}
			for _, f := range findings {
				o.Findings = append(o.Findings, detectFinding{f.RuleID, f.Class, f.Severity, f.Location})
			}
			if werr := enc.Encode(o); werr != nil {
				return malformed, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return malformed, nil
		}
	}
}

// readLine reads one '\n'-terminated line into dst. A line longer than
// maxDetectLine is consumed and reported as tooLong, keeping memory bounded.
func readLine(br *bufio.Reader, dst []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		if !tooLong {
			if len(dst)+len(chunk) > maxDetectLine {
				tooLong, dst = true, dst[:0]
			} else {
				dst = append(dst, chunk...)
			}
		}
		if err != nil || !isPrefix {
			return dst, tooLong, err
		}
	}
}

// parseDetectLine decodes one JSONL record into a detect.Request.
func parseDetectLine(b []byte) (detect.Request, json.RawMessage, error) {
	var in detectInput
	if err := json.Unmarshal(b, &in); err != nil {
		return detect.Request{}, nil, fmt.Errorf("not a JSON request object: %w", err)
	}
	if in.URI == nil {
		return detect.Request{}, nil, errors.New(`field "uri": missing`)
	}
	if in.Method == "" {
		return detect.Request{}, nil, errors.New(`field "method": missing`)
	}
	id := in.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	req := detect.NewRequest(in.Method, *in.URI, in.Headers, in.Body)
	return req, id, nil
}
