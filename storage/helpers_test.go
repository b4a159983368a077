package storage

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
)

// TestMain lets the test binary play the child process of the crash, shutdown and
// no-cgo tests: they re-execute it with an environment switch.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv(crashChildEnv) == "1":
		os.Exit(crashChild())
	case os.Getenv(shutdownChildEnv) == "1":
		os.Exit(shutdownChild())
	case os.Getenv(noCgoChildEnv) == "1":
		os.Exit(noCgoChild())
	}
	os.Exit(m.Run())
}

// logBuffer is a slog handler target that tests can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// logger returns a debug-level logger writing into l.
func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openTest opens a log in a fresh temporary directory and closes it at the end of the
// test. A nil Logger becomes one that logs into the returned buffer.
func openTest(t testing.TB, opts Options) (*DB, string, *logBuffer) {
	t.Helper()
	path := t.TempDir() + "/log.db"
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = logs.logger()
	}
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return db, path, logs
}

// testQuery returns a distinct, fully populated query number i.
func testQuery(i int) bot.Query {
	platforms := []bot.Platform{bot.PlatformTelegram, bot.PlatformSlack, bot.PlatformWeb, bot.PlatformCLI}
	q := bot.Query{
		ID:        bot.NewQueryID() + fmt.Sprintf("-%d", i),
		Time:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Platform:  platforms[i%len(platforms)],
		Workspace: "ws1",
		Chat:      fmt.Sprintf("chat-%d", i%7),
		User:      fmt.Sprintf("user-%d", i%13),
		Question:  fmt.Sprintf("How do I reset password number %d?", i%17),
		Answered:  i%4 != 0,
		Score:     float64(i%100) / 10,
		KBVersion: "kb-abc",
		Latency:   time.Duration(i%50+1) * time.Millisecond,
	}
	if q.Answered {
		q.EntryID = fmt.Sprintf("entry-%d", i%5)
		q.Section = fmt.Sprintf("section-%d", i%3)
		q.Suggestions = []string{"entry-x", "entry-y"}
	}
	return q
}

// rawDB opens the log file directly (query-only), for checking what a DB wrote.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+escapeURIPath(path)+"?_query_only=1")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count runs a count query on db.
func count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// flush flushes db or fails the test.
func flush(t testing.TB, db *DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.Flush(ctx); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
}

// record records q or fails the test.
func record(t testing.TB, db *DB, q bot.Query) {
	t.Helper()
	if err := db.Record(q); err != nil {
		t.Fatalf("Record(%s) = %v", q.ID, err)
	}
}

// wantErrContains fails unless err is non-nil and mentions every part.
func wantErrContains(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("err = %q, want it to contain %q", err, p)
		}
	}
}

// rawDBWritable opens the log file directly with a writable connection, as another
// process would.
func rawDBWritable(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+escapeURIPath(path)+"?_busy_timeout=5000&_txlock=immediate&_foreign_keys=on")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}
