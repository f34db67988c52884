package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/detect"
)

// record is one line of a corpus file (see /work/shared/corpus/README.md).
type record struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URI     string            `json:"uri"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Label   string            `json:"label"`
	Class   string            `json:"class"`
	Source  string            `json:"source"`
	Meta    struct {
		Subclass  string `json:"subclass"`
		CRSRulePL int    `json:"crs_rule_pl"`
	} `json:"meta"`

	req detect.Request
}

type corpusFile struct {
	name    string
	records []*record
}

// loadCorpus reads every *.jsonl file of dir, in name order.
func loadCorpus(dir string) ([]corpusFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("corpus %s: no *.jsonl files", dir)
	}
	sort.Strings(paths)
	var out []corpusFile
	for _, p := range paths {
		cf, err := loadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, cf)
	}
	return out, nil
}

func loadFile(path string) (corpusFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return corpusFile{}, err
	}
	defer f.Close()
	cf := corpusFile{name: strings.TrimSuffix(filepath.Base(path), ".jsonl")}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return corpusFile{}, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		r.req = toRequest(&r)
		cf.records = append(cf.records, &r)
	}
	return cf, sc.Err()
}

func toRequest(r *record) detect.Request {
	path, query, _ := strings.Cut(r.URI, "?")
	req := detect.Request{Method: r.Method, Path: path, RawQuery: query}
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		req.Headers = append(req.Headers, detect.Header{Name: k, Value: r.Headers[k]})
		if strings.EqualFold(k, "content-type") {
			req.ContentType = r.Headers[k]
		}
	}
	if r.Body != "" {
		req.Body = []byte(r.Body)
	}
	return req
}
