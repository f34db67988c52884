package blocklist

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

// snapshotVersion is written into every snapshot file; a file of another
// version is refused rather than misread.
const snapshotVersion = 1

// snapshotFile is the on-disk form of the list: each entry is stored as the
// JSON value of its Kafka record, so loading goes through DecodeRecord and
// a snapshot can hold nothing the topic could not.
type snapshotFile struct {
	Version int               `json:"version"`
	Topic   string            `json:"topic"`
	SavedAt time.Time         `json:"saved_at"`
	Entries []json.RawMessage `json:"entries"`
}

// EncodeValue returns e as a record value of the blocklist topic, the
// default status left implicit.
func EncodeValue(e Entry) ([]byte, error) {
	status := e.Status
	if status == DefaultStatus {
		status = 0
	}
	return record.Value(record.Record{
		Subject: e.Subject, Until: e.Until, Reason: e.Reason, Source: e.Source, CreatedBy: e.CreatedBy,
		AlertID: e.AlertID, CreatedAt: e.CreatedAt, Status: status, Message: e.Message,
	})
}

// SaveSnapshot writes entries to path atomically: a temporary file in the
// same directory, synced, then renamed over path, then the directory
// synced, so that a crash leaves either the old snapshot or the new one.
func SaveSnapshot(path, topic string, entries []Entry, now time.Time) error {
	f := snapshotFile{Version: snapshotVersion, Topic: topic, SavedAt: now.UTC(), Entries: make([]json.RawMessage, 0, len(entries))}
	for _, e := range entries {
		v, err := EncodeValue(e)
		if err != nil {
			return fmt.Errorf("blocklist: snapshot %s: %w", path, err)
		}
		f.Entries = append(f.Entries, v)
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("blocklist: snapshot %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("blocklist: snapshot %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("blocklist: snapshot %s: write: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("blocklist: snapshot %s: sync: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("blocklist: snapshot %s: close: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("blocklist: snapshot %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blocklist: snapshot %s: sync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blocklist: snapshot %s: sync directory: %w", path, err)
	}
	return nil
}

// LoadSnapshot reads a snapshot written by SaveSnapshot. A missing file is
// not an error: it returns no entries and ok false. Every entry is decoded
// as a record of topic would be; one bad entry refuses the whole file,
// which SaveSnapshot cannot have written.
func LoadSnapshot(path, topic string) (entries []Entry, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("blocklist: snapshot %s: %w", path, err)
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, false, fmt.Errorf("blocklist: snapshot %s: %w", path, err)
	}
	if f.Version != snapshotVersion {
		return nil, false, fmt.Errorf("blocklist: snapshot %s: version %d, want %d", path, f.Version, snapshotVersion)
	}
	if f.Topic != topic {
		return nil, false, fmt.Errorf("blocklist: snapshot %s: holds topic %q, want %q", path, f.Topic, topic)
	}
	entries = make([]Entry, 0, len(f.Entries))
	for i, raw := range f.Entries {
		var head struct {
			Subject string `json:"subject"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, false, fmt.Errorf("blocklist: snapshot %s: entry %d: %w", path, i, err)
		}
		c, err := DecodeRecord([]byte(head.Subject), raw)
		if err != nil {
			return nil, false, fmt.Errorf("blocklist: snapshot %s: entry %d: %w", path, i, err)
		}
		entries = append(entries, c.Entry)
	}
	return entries, true, nil
}
