//go:build cgo

package storage

import (
	"database/sql"
	"errors"

	"github.com/mattn/go-sqlite3"
)

// The drivers of the two pools: the SQLite driver with connect hooks that set what the
// DSN cannot.
const (
	// writerDriver turns automatic checkpoints off, because the writer runs them itself
	// every checkpointEvery, so that a page changed by many batches is copied into the
	// database once rather than once per 1,000 WAL frames; journal_size_limit shrinks
	// the WAL file back after a burst.
	writerDriver = "sqlite3_scobot_writer"
	// readerDriver maps the file into memory (up to 1 GiB), so the stats' index scans
	// read pages without a system call each: Stats over a million queries took 200 ms
	// instead of 400 (BenchmarkStats).
	readerDriver = "sqlite3_scobot_reader"
)

func init() {
	hook := func(pragmas string) func(*sqlite3.SQLiteConn) error {
		return func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(pragmas, nil)
			return err
		}
	}
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: hook(`PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864`),
	})
	sql.Register(readerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: hook(`PRAGMA mmap_size = 1073741824`),
	})
}

// sqliteCode returns the primary SQLite result code carried by err. The driver's error
// type exists only in cgo builds, hence this file and sqlite_nocgo.go.
func sqliteCode(err error) (int, bool) {
	var e sqlite3.Error
	if errors.As(err, &e) {
		return int(e.Code), true
	}
	return 0, false
}
