//go:build !cgo

package storage

// Without cgo the driver is a stub: Open fails at its first ping, with a message that
// says to build with CGO_ENABLED=1. These keep the package compiling until then.
const (
	writerDriver = "sqlite3"
	readerDriver = "sqlite3"
)

// sqliteCode reports nothing without cgo.
func sqliteCode(err error) (int, bool) { return 0, false }
