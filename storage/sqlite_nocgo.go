//go:build !cgo

package storage

// writerDriver is the plain (stub) driver without cgo: Open fails at its first ping.
const writerDriver = "sqlite3"

// sqliteCode reports nothing without cgo: the driver is a stub and Open fails at its
// first ping, with a message that says to build with CGO_ENABLED=1.
func sqliteCode(err error) (int, bool) { return 0, false }
