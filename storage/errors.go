package storage

import "strings"

// Primary SQLite result codes (https://sqlite.org/rescode.html) that change what the
// package does with an error.
const (
	codeBusy       = 5  // SQLITE_BUSY: another connection holds the lock; retry
	codeLocked     = 6  // SQLITE_LOCKED: a conflict inside one connection; retry
	codeCorrupt    = 11 // SQLITE_CORRUPT
	codeTooBig     = 18 // SQLITE_TOOBIG: one row; the batch can go on
	codeConstraint = 19 // SQLITE_CONSTRAINT: one row; the batch can go on
	codeMismatch   = 20 // SQLITE_MISMATCH: one row; the batch can go on
	codeRange      = 25 // SQLITE_RANGE
	codeNotADB     = 26 // SQLITE_NOTADB
)

// isCode reports whether err is a SQLite error with the given primary code.
func isCode(err error, code int) bool {
	c, ok := sqliteCode(err)
	return ok && c == code
}

// isBusy reports whether err is "database is locked" (SQLITE_BUSY) or its in-process
// sibling SQLITE_LOCKED: both mean "try again", not "this record is bad".
func isBusy(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := sqliteCode(err); ok {
		return c == codeBusy || c == codeLocked
	}
	return strings.Contains(err.Error(), "database is locked")
}

// isRowError reports whether err concerns one statement only, so the transaction is
// still open and the rest of the batch can be committed. Any other error (disk full,
// I/O error, ...) may have rolled the transaction back and fails the whole batch.
func isRowError(err error) bool {
	c, ok := sqliteCode(err)
	return ok && (c == codeConstraint || c == codeTooBig || c == codeMismatch || c == codeRange)
}
