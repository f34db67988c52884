package spool

import (
	"errors"
	"fmt"
	"time"
)

// Fsync policies: when appended records are forced to stable storage.
const (
	FsyncAlways   = "always"   // after every append: a power loss loses nothing acknowledged by Append
	FsyncInterval = "interval" // at most every FsyncInterval: a power loss loses up to that much
	FsyncNever    = "never"    // left to the OS (typically ≤30 s of dirty pages on Linux)
)

// Config is the spool's place on disk and its limits. The zero value of
// every field but Dir is replaced by its default in WithDefaults.
type Config struct {
	// Dir holds the segment files. "" means no spool at all.
	Dir string
	// MaxBytes bounds the segment files on disk; past it the oldest
	// segment is dropped (counted). Default 1 GiB.
	MaxBytes int64
	// MaxAge bounds how old a spooled record may get; a segment whose
	// newest record is older is dropped (counted). Default 168h (7 days).
	MaxAge time.Duration
	// Fsync is always, interval (default) or never.
	Fsync string
	// FsyncInterval is the longest time between fsyncs with Fsync
	// interval. Default 100ms.
	FsyncInterval time.Duration
	// SegmentBytes is the size at which the active segment is closed and a
	// new one started. Default 16 MiB, or MaxBytes/4 when that is smaller,
	// so that the byte limit drops a part of the spool, not all of it.
	SegmentBytes int64
}

// Defaults.
const (
	DefaultMaxBytes      = 1 << 30
	DefaultMaxAge        = 168 * time.Hour
	DefaultFsync         = FsyncInterval
	DefaultFsyncInterval = 100 * time.Millisecond
	DefaultSegmentBytes  = 16 << 20
)

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Fsync == "" {
		c.Fsync = DefaultFsync
	}
	if c.FsyncInterval == 0 {
		c.FsyncInterval = DefaultFsyncInterval
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
		if q := c.MaxBytes / 4; q > 0 && q < c.SegmentBytes {
			c.SegmentBytes = q
		}
	}
	return c
}

// Validate reports the first unusable field, by name.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 0:
		return fmt.Errorf("spool: MaxBytes %d: must not be negative", c.MaxBytes)
	case c.MaxAge < 0:
		return fmt.Errorf("spool: MaxAge %s: must not be negative", c.MaxAge)
	case c.FsyncInterval < 0:
		return fmt.Errorf("spool: FsyncInterval %s: must not be negative", c.FsyncInterval)
	case c.SegmentBytes < 0:
		return fmt.Errorf("spool: SegmentBytes %d: must not be negative", c.SegmentBytes)
	}
	switch c.Fsync {
	case "", FsyncAlways, FsyncInterval, FsyncNever:
	default:
		return fmt.Errorf("spool: Fsync %q: must be always, interval or never", c.Fsync)
	}
	return nil
}

// ErrClosed is returned by every method of a closed Spool.
var ErrClosed = errors.New("spool: closed")
