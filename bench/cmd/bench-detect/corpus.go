package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/detect/corpus"
)

// record is one line of a corpus file (see /work/shared/corpus/README.md)
// with the request view the engines inspect.
type record struct {
	*corpus.Record
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

// loadFile reads one corpus file; a malformed line is an error (the
// figures would silently change without it).
func loadFile(path string) (corpusFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return corpusFile{}, err
	}
	defer f.Close()
	cf := corpusFile{name: strings.TrimSuffix(filepath.Base(path), ".jsonl")}
	var bad error
	err = corpus.Read(f, func(_ int, r *corpus.Record) error {
		cf.records = append(cf.records, &record{Record: r, req: detect.NewRequest(r.Method, r.URI, r.Headers, r.Body)})
		return nil
	}, func(e *corpus.LineError) { bad = errors.Join(bad, fmt.Errorf("%s %w", path, e)) })
	if err == nil {
		err = bad
	}
	return cf, err
}
