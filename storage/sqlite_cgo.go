//go:build cgo

package storage

import (
	"database/sql"
	"errors"

	"github.com/mattn/go-sqlite3"
)

// writerDriver is the driver the writer pool uses: the SQLite driver with a connect
// hook that sets what the DSN cannot. Automatic checkpoints are off because the writer
// runs them itself, every checkpointEvery, so that a page changed by many batches is
// copied into the database once, not once per 1,000 WAL frames; journal_size_limit
// shrinks the WAL file back after a burst.
const writerDriver = "sqlite3_scobot_writer"

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(`PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864`, nil)
			return err
		},
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
