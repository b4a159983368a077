// Package storage keeps scobot's query log in a SQLite file and is the only package that
// speaks SQL.
//
// It records every query, every vote and every admin action, and answers the admins'
// questions about them (Stats, Unanswered, Export). Recording sits on the chat reply
// path, so it never touches the disk there: Record, RecordFeedback and RecordAdmin put
// the record on one bounded queue, and a single writer goroutine commits the queue in
// batches through a dedicated one-connection writer pool. Reads use a separate pool of
// read-only connections; in WAL mode they never block the writer, and it never blocks
// them.
//
// Throughput comes from three choices, each measured by BenchmarkRecord: batches of up to
// Options.BatchSize records per transaction; checkpoints run by the writer every 250 ms
// instead of SQLite's default every 1,000 WAL pages; and indexes whose inserts land in
// few pages (see migrations/0001_init.sql). Every stats query reads one covering index
// in GROUP BY order (BenchmarkStats, TestStatsQueryPlans).
//
// The file is created and migrated by Open; the schema lives in migrations/*.sql.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The SQLite driver. It needs cgo; Open pings so a CGO_ENABLED=0 build fails at
	// startup with a clear error instead of at the first query.
	_ "github.com/mattn/go-sqlite3"
)

// Errors that callers may want to tell apart.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("storage: log is closed")
	// ErrQueueFull is returned by Record, RecordFeedback and RecordAdmin when the queue
	// stayed full for Options.EnqueueTimeout. The record is counted in Dropped and logged.
	ErrQueueFull = errors.New("storage: record queue is full")
	// ErrUnknownQuery is what the writer logs when a vote names a query id that is not in
	// the log (see RecordFeedback); such a vote is not stored and is counted in Dropped.
	ErrUnknownQuery = errors.New("storage: feedback for an unknown query id")
)

// Defaults for Options fields left zero.
const (
	defaultQueueSize      = 8192
	defaultBatchSize      = 4096
	defaultBatchDelay     = 5 * time.Millisecond
	defaultEnqueueTimeout = 100 * time.Millisecond
	defaultReadConns      = 4
	defaultBusyTimeout    = 5 * time.Second
)

// Options tunes Open. The zero value is a good default for the bot.
type Options struct {
	// UserSalt, when set, makes the log store hex HMAC-SHA256(UserSalt, id) instead of
	// raw user ids (in queries, votes and admin actions) and instead of raw chat ids,
	// because a Telegram private chat's id is its user's id. Keep it secret and stable:
	// with another salt ForgetUser cannot find a person's earlier rows.
	UserSalt []byte

	// Retain is how long rows are kept; 0 keeps them forever. When set, Open purges
	// older rows in the background at once and then every Retain/4 (at most hourly).
	Retain time.Duration

	// Synchronous is SQLite's synchronous mode: "NORMAL" (default) survives a crash of
	// the process but may lose the last commits on power loss; "FULL" syncs every
	// commit, which suits an audit log and costs write throughput.
	Synchronous string

	// QueueSize is how many records may wait for the writer (default 8192). It is
	// also about how many records a kill -9 under full load can lose.
	QueueSize int
	// BatchSize is the most records committed in one transaction (default 4096). Only
	// a backlog fills a batch (otherwise BatchDelay ends it), and then larger batches
	// write fewer WAL pages per record: 256 gave about 35,000 queries/s, 4096 about
	// 60,000 (BenchmarkRecord).
	BatchSize int
	// BatchDelay is how long the writer waits for a batch to fill before it commits
	// what it has (default 5ms). It bounds how much a kill -9 can lose.
	BatchDelay time.Duration
	// EnqueueTimeout is how long Record may wait for room in a full queue before it
	// drops the record and returns ErrQueueFull (default 100ms; negative: not at all).
	EnqueueTimeout time.Duration
	// ReadConns is the size of the read pool used by Stats, Unanswered and Export
	// (default 4).
	ReadConns int

	// Logger receives dropped records, failed batches and purges (default slog.Default()).
	Logger *slog.Logger

	// busyTimeout is SQLite's busy timeout; tests shorten it to exercise the retry.
	busyTimeout time.Duration
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = defaultBatchDelay
	}
	if o.EnqueueTimeout == 0 {
		o.EnqueueTimeout = defaultEnqueueTimeout
	}
	if o.ReadConns <= 0 {
		o.ReadConns = defaultReadConns
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.busyTimeout <= 0 {
		o.busyTimeout = defaultBusyTimeout
	}
	if o.Retain < 0 {
		return o, fmt.Errorf("retain %v: must not be negative", o.Retain)
	}
	switch strings.ToUpper(o.Synchronous) {
	case "", "NORMAL":
		o.Synchronous = "NORMAL"
	case "FULL":
		o.Synchronous = "FULL"
	default:
		return o, fmt.Errorf("synchronous %q: want NORMAL or FULL", o.Synchronous)
	}
	return o, nil
}

// DB is an open query log. Its methods are safe for concurrent use.
type DB struct {
	path string
	opts Options
	log  *slog.Logger

	w *sql.DB // the writer: one connection, used only by the writer goroutine and Open
	r *sql.DB // the read pool: query-only connections

	// mu orders sends on queue against Close closing it: senders hold it shared, Close
	// takes it exclusively, so nothing is ever sent on a closed channel.
	mu     sync.RWMutex
	closed bool
	queue  chan item

	dropped  atomic.Uint64 // records that never reached the file
	unlogged atomic.Uint64 // dropped records not yet mentioned in a log line
	lastLog  atomic.Int64  // UnixNano of the last drop log line

	stopBG     context.CancelFunc // stops the retention loop
	bg         sync.WaitGroup
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error

	// Writer goroutine state: touched only by run and what it calls.
	ins     statements
	mac     hash.Hash // HMAC of UserSalt, reused for every record
	carry   *item     // an op taken off the queue while a batch was filling
	drained bool      // the queue is closed and empty
	// commitErr is the last failed batch's error, reported (once) by the next Flush.
	commitErr      error
	lastCheckpoint time.Time
	uncheckpointed bool // commits since the last checkpoint
	rowBatch       []item
}

// statements are the writer's prepared statements.
type statements struct {
	query, feedback, admin *sql.Stmt
}

var _ io.Closer = (*DB)(nil)

// Path returns the file the log was opened on, as given to Open.
func (d *DB) Path() string { return d.path }

// Dropped returns how many records never reached the file: refused because the queue
// stayed full, votes on unknown queries, duplicate query ids, and records of batches
// that failed. Every one of them was also logged.
func (d *DB) Dropped() uint64 { return d.dropped.Load() }

// QueueDepth returns how many records wait for the writer.
func (d *DB) QueueDepth() int { return len(d.queue) }

// Close stops accepting records, commits everything already queued, and closes the
// file. It is safe to call more than once; later calls return the first call's result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.stopBG()
		d.bg.Wait()

		d.mu.Lock()
		d.closed = true
		close(d.queue)
		d.mu.Unlock()
		<-d.writerDone

		if n := d.unlogged.Swap(0); n > 0 {
			d.log.Warn("storage: records dropped", "path", d.path, "count", n, "total_dropped", d.dropped.Load())
		}
		var errs []error
		if err := d.ins.close(); err != nil {
			errs = append(errs, err)
		}
		// Readers first: the last connection to close checkpoints the WAL into the
		// main file and removes it, and that should be the writer.
		if err := d.r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close read pool: %w", err))
		}
		if err := d.w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close writer: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			d.closeErr = fmt.Errorf("close log %s: %w", d.path, err)
		}
	})
	return d.closeErr
}

func (s statements) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.query, s.feedback, s.admin} {
		if st != nil {
			if err := st.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// noteDropped counts n records that will never reach the file and logs it. Log lines
// are limited to one a second so an overload does not become a log storm; the count
// of records not yet mentioned rides on the next line (or Close's).
func (d *DB) noteDropped(n int, reason string, err error) {
	total := d.dropped.Add(uint64(n))
	now := time.Now().UnixNano()
	last := d.lastLog.Load()
	if now-last < int64(time.Second) || !d.lastLog.CompareAndSwap(last, now) {
		d.unlogged.Add(uint64(n))
		return
	}
	count := uint64(n) + d.unlogged.Swap(0)
	args := []any{"path", d.path, "reason", reason, "count", count, "total_dropped", total}
	if err != nil {
		args = append(args, "err", err)
	}
	d.log.Warn("storage: records dropped", args...)
}
