package storage

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
)

// kind tags what an item on the queue carries.
type kind uint8

const (
	kindQuery kind = iota + 1
	kindFeedback
	kindAdmin
	kindOp
)

// item is one entry of the writer's queue: a small tagged union, so queries, votes and
// admin actions share one FIFO and a vote is never committed before its query. The
// query travels by value (no allocation on the reply path); the rarer kinds by pointer.
type item struct {
	kind  kind
	query bot.Query
	fb    *bot.Feedback
	admin *bot.AdminAction
	op    *op
}

// opKind is what an op asks the writer to do.
type opKind uint8

const (
	opFlush opKind = iota + 1
	opPurge
	opForget
	opSetState
)

// op is a request that travels through the queue behind the records enqueued before
// it, and whose caller waits for the writer's answer.
type op struct {
	ctx    context.Context
	kind   opKind
	before time.Time // opPurge
	user   string    // opForget, raw: the writer hashes it like the records
	key    string    // opSetState
	value  string    // opSetState
	n      int64
	err    error
	done   chan struct{}
}

var (
	errEmptyQueryID = errors.New("record query: empty id")
	errEmptyFbID    = errors.New("record feedback: empty query id")
	errBadVote      = errors.New("record feedback: vote must be up or down")
)

// Record queues q for the writer and returns at once: it never waits for the disk.
// When the queue is full it waits up to Options.EnqueueTimeout for room, then drops q,
// counts and logs it, and returns ErrQueueFull. After Close it returns ErrClosed.
// A zero q.Time means now. The question is stored as valid UTF-8 (invalid bytes become
// U+FFFD) and cut to bot.MaxQuestionLen bytes at a rune boundary; the hashing, JSON and
// normalising happen in the writer, off the reply path.
func (d *DB) Record(q bot.Query) error {
	if q.ID == "" {
		return errEmptyQueryID
	}
	if q.Time.IsZero() {
		q.Time = time.Now()
	}
	if len(q.Suggestions) > 0 {
		q.Suggestions = slices.Clone(q.Suggestions) // the caller may reuse its slice
	}
	return d.enqueue(item{kind: kindQuery, query: q})
}

// RecordFeedback queues a vote; a user's later vote on the same query replaces the
// earlier one. It shares Record's queue, so a vote recorded right after its query is
// committed after it.
//
// A vote whose query id is not in the log (never recorded, dropped, purged or forgotten)
// is rejected by the writer, not stored: a vote must belong to an answer. Because the
// check needs the disk, it happens after RecordFeedback has returned; the vote is then
// logged with ErrUnknownQuery and counted in Dropped. A vote that is not up or down
// is refused at once.
func (d *DB) RecordFeedback(f bot.Feedback) error {
	if f.QueryID == "" {
		return errEmptyFbID
	}
	if f.Vote != bot.VoteUp && f.Vote != bot.VoteDown {
		return errBadVote
	}
	if f.Time.IsZero() {
		f.Time = time.Now()
	}
	return d.enqueue(item{kind: kindFeedback, fb: &f})
}

// RecordAdmin queues an admin action, like Record.
func (d *DB) RecordAdmin(a bot.AdminAction) error {
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	return d.enqueue(item{kind: kindAdmin, admin: &a})
}

// enqueue is the reply path: a non-blocking send, then bounded back-pressure.
func (d *DB) enqueue(it item) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	select {
	case d.queue <- it:
		return nil
	default:
	}
	if d.opts.EnqueueTimeout > 0 {
		t := time.NewTimer(d.opts.EnqueueTimeout)
		defer t.Stop()
		select {
		case d.queue <- it:
			return nil
		case <-t.C:
		}
	}
	d.noteDropped(1, "queue full", ErrQueueFull)
	return ErrQueueFull
}

// Flush waits until every record queued before the call has been committed (or, if its
// batch failed, counted in Dropped and logged). If a batch failed since the previous
// Flush, it returns that failure.
func (d *DB) Flush(ctx context.Context) error {
	_, err := d.do(ctx, &op{kind: opFlush})
	if err != nil {
		return fmt.Errorf("flush log: %w", err)
	}
	return nil
}

// ForgetUser deletes every query, vote and admin action of user (hashed first when
// Options.UserSalt is set), with the votes others cast on that user's queries, and
// returns how many rows it deleted. Records of user queued before the call are
// deleted too, as the request goes through the queue behind them.
func (d *DB) ForgetUser(ctx context.Context, user string) (int64, error) {
	if user == "" {
		return 0, errors.New("forget user: empty user id")
	}
	n, err := d.do(ctx, &op{kind: opForget, user: user})
	if err != nil {
		return n, fmt.Errorf("forget user: %w", err)
	}
	return n, nil
}

// Purge deletes queries (with their votes), votes and admin actions older than
// before, and returns how many rows it deleted. It deletes in small transactions and
// lets queued records through between them, so a large purge does not stall Record.
func (d *DB) Purge(ctx context.Context, before time.Time) (int64, error) {
	n, err := d.do(ctx, &op{kind: opPurge, before: before})
	if err != nil {
		return n, fmt.Errorf("purge log before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// do sends o through the queue, waiting for room as long as ctx allows (ops are not
// records: they are never dropped), and waits for the writer's answer.
func (d *DB) do(ctx context.Context, o *op) (int64, error) {
	o.ctx = ctx
	o.done = make(chan struct{})
	if err := d.send(ctx, item{kind: kindOp, op: o}); err != nil {
		return 0, err
	}
	select {
	case <-o.done:
		return o.n, o.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (d *DB) send(ctx context.Context, it item) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	select {
	case d.queue <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retain purges rows older than Options.Retain at once and then every Retain/4, at
// most an hour apart, until Close.
func (d *DB) retain(ctx context.Context) {
	defer d.bg.Done()
	every := min(max(d.opts.Retain/4, 10*time.Millisecond), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := d.Purge(ctx, time.Now().Add(-d.opts.Retain))
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Error("storage: scheduled purge failed", "path", d.path, "err", err)
		case n > 0:
			d.log.Info("storage: purged old rows", "path", d.path, "rows", n, "retain", d.opts.Retain)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// insertQuery inserts a query with the arguments of queryArgs.
const insertQuery = `INSERT INTO queries (id, time, day, platform, workspace, chat, user, question,
	question_norm, question_key, answered, entry_id, section, score, suggestions, kb_version, latency_us,
	latency_bucket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// prepare prepares the writer's statements on its single connection.
func (d *DB) prepare() error {
	var err error
	// ON CONFLICT DO NOTHING: a duplicate id (a caller's retry) must not fail the batch.
	d.ins.query, err = d.w.Prepare(insertQuery + ` ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("prepare query insert: %w", err)
	}
	// The SELECT both checks that the query exists (no row: unknown query) and copies
	// its entry id, so votes per entry need no join.
	d.ins.feedback, err = d.w.Prepare(`INSERT INTO feedback (query_id, user, platform, vote, time, entry_id)
		SELECT id, ?, ?, ?, ?, entry_id FROM queries WHERE id = ?
		ON CONFLICT (query_id, user) DO UPDATE SET vote = excluded.vote, time = excluded.time, platform = excluded.platform`)
	if err != nil {
		return fmt.Errorf("prepare feedback insert: %w", err)
	}
	d.ins.admin, err = d.w.Prepare(`INSERT INTO admin_actions (time, platform, user, action, result, kb_version)
		VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare admin insert: %w", err)
	}
	return nil
}

// checkpointEvery is how often the writer copies the WAL into the database file (a
// PASSIVE checkpoint, which never waits for readers) while it commits, and how long
// after its last commit it does so once idle. Between checkpoints a page that many
// batches change is copied once; SQLite's default, every 1,000 WAL frames, cut
// throughput by more than half (see BenchmarkRecord).
const checkpointEvery = 250 * time.Millisecond

// run is the writer goroutine: it takes records off the queue and commits them in
// batches of up to BatchSize, or whatever arrived within BatchDelay of the first,
// until Close closes the queue and it has committed the rest.
func (d *DB) run() {
	defer close(d.writerDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for !d.drained {
		var it item
		if d.carry != nil {
			it, d.carry = *d.carry, nil
		} else {
			var ok bool
			if d.uncheckpointed {
				idle.Reset(checkpointEvery)
				select {
				case it, ok = <-d.queue:
					idle.Stop()
				case <-idle.C:
					d.checkpoint()
					continue
				}
			} else {
				it, ok = <-d.queue
			}
			if !ok {
				return
			}
		}
		if it.kind == kindOp {
			d.runOp(it.op)
			d.maybeCheckpoint()
			continue
		}
		batch := append(d.rowBatch[:0], it)
		timer.Reset(d.opts.BatchDelay)
	fill:
		for len(batch) < d.opts.BatchSize {
			select {
			case it, ok := <-d.queue:
				if !ok {
					d.drained = true
					break fill
				}
				if it.kind == kindOp {
					d.carry = &it // commit what came before it first
					break fill
				}
				batch = append(batch, it)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		d.commit(batch)
		clear(batch) // let the committed records' strings go
		d.maybeCheckpoint()
	}
}

// maybeCheckpoint checkpoints if the last checkpoint is checkpointEvery old.
func (d *DB) maybeCheckpoint() {
	d.uncheckpointed = true
	if time.Since(d.lastCheckpoint) >= checkpointEvery {
		d.checkpoint()
	}
}

// checkpoint copies the WAL into the database file as far as readers allow; once it
// is all copied, the next commit starts the WAL over instead of growing it.
func (d *DB) checkpoint() {
	d.lastCheckpoint = time.Now()
	d.uncheckpointed = false
	var busy, frames, copied int
	if err := d.w.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		d.log.Warn("storage: checkpoint failed", "path", d.path, "err", err)
	}
}

// drainReady commits the records already waiting, without waiting for more. Purge calls
// it between chunks. It stops at an op, which keeps its place in line.
func (d *DB) drainReady() {
	if d.carry != nil || d.drained {
		return
	}
	batch := d.rowBatch[:0]
	for len(batch) < d.opts.BatchSize {
		select {
		case it, ok := <-d.queue:
			if !ok {
				d.drained = true
			} else if it.kind == kindOp {
				d.carry = &it
			} else {
				batch = append(batch, it)
				continue
			}
		default:
		}
		break
	}
	if len(batch) > 0 {
		d.commit(batch)
		clear(batch)
	}
}

// runOp carries out an op and answers its caller. An op whose caller has gone (its
// context is done) is skipped.
func (d *DB) runOp(o *op) {
	defer close(o.done)
	if err := o.ctx.Err(); err != nil {
		o.err = err
		return
	}
	switch o.kind {
	case opFlush:
		o.err, d.commitErr = d.commitErr, nil
	case opForget:
		o.n, o.err = d.forget(o.ctx, o.user)
	case opPurge:
		o.n, o.err = d.purge(o.ctx, o.before)
	case opSetState:
		_, o.err = d.w.ExecContext(o.ctx, `INSERT INTO state (key, value, updated_us) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_us = excluded.updated_us`,
			o.key, o.value, time.Now().UnixMicro())
		if o.err != nil {
			o.err = fmt.Errorf("set state %s: %w", o.key, o.err)
		}
	}
}

// maxBusyRetries bounds how often a batch is retried on "database is locked"; each try
// already waits up to the busy timeout inside SQLite.
const maxBusyRetries = 5

// commit writes a batch in one transaction, retrying it when the database is locked. A
// row the database refuses is logged and counted; a batch that fails is logged and all
// its records counted as dropped, never lost silently.
func (d *DB) commit(batch []item) {
	var rejected []rejection
	var err error
	for attempt := 0; ; attempt++ {
		rejected, err = d.writeBatch(batch)
		if err == nil || !isBusy(err) || attempt == maxBusyRetries {
			break
		}
		d.log.Debug("storage: database is locked, retrying batch", "path", d.path, "attempt", attempt+1)
		time.Sleep(time.Duration(25<<attempt) * time.Millisecond)
	}
	if err != nil {
		d.commitErr = fmt.Errorf("commit batch of %d records: %w", len(batch), err)
		d.log.Error("storage: batch failed", "path", d.path, "records", len(batch), "err", err)
		d.noteDropped(len(batch), "batch failed", err)
		return
	}
	for _, r := range rejected {
		d.noteDropped(1, r.reason, r.err)
	}
}

// rejection is a record the database refused while its batch went on.
type rejection struct {
	reason string
	err    error
}

// writeBatch inserts the batch inside one BEGIN IMMEDIATE transaction with the
// prepared statements.
func (d *DB) writeBatch(batch []item) (rejected []rejection, err error) {
	tx, err := d.w.Begin()
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var qs, fs, as *sql.Stmt
	for i := range batch {
		it := &batch[i]
		var res sql.Result
		var reason string
		switch it.kind {
		case kindQuery:
			if qs == nil {
				qs = tx.Stmt(d.ins.query)
			}
			res, err = qs.Exec(d.queryArgs(&it.query)...)
			reason = "duplicate query id"
		case kindFeedback:
			if fs == nil {
				fs = tx.Stmt(d.ins.feedback)
			}
			f := it.fb
			res, err = fs.Exec(d.hashID(f.User), string(f.Platform), int64(f.Vote), f.Time.UnixMicro(), f.QueryID)
			reason = "unknown query id"
		case kindAdmin:
			if as == nil {
				as = tx.Stmt(d.ins.admin)
			}
			a := it.admin
			res, err = as.Exec(a.Time.UnixMicro(), string(a.Platform), d.hashID(a.User),
				safeText(a.Action), safeText(a.Result), safeText(a.KBVersion))
		}
		if err != nil {
			if !isRowError(err) {
				return nil, err
			}
			rejected = append(rejected, rejection{"row refused", err})
			err = nil
			continue
		}
		if n, _ := res.RowsAffected(); n == 0 {
			e := error(nil)
			if it.kind == kindFeedback {
				e = fmt.Errorf("%w %s", ErrUnknownQuery, it.fb.QueryID)
			} else if it.kind == kindQuery {
				e = fmt.Errorf("query id %s already in the log", it.query.ID)
			}
			rejected = append(rejected, rejection{reason, e})
		}
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return rejected, nil
}

// queryArgs turns a query into the insert's arguments, doing in the writer what the
// reply path should not pay for: UTF-8 repair, capping, normalising, hashing, JSON.
func (d *DB) queryArgs(q *bot.Query) []any {
	question := capQuestion(q.Question)
	score := q.Score
	if math.IsNaN(score) || math.IsInf(score, 0) {
		score = 0 // SQLite would store NaN as NULL, and JSON cannot carry either
	}
	sugg := "[]"
	if len(q.Suggestions) > 0 {
		ss := make([]string, len(q.Suggestions))
		for i, s := range q.Suggestions {
			ss[i] = safeText(s)
		}
		b, _ := json.Marshal(ss) // []string always marshals
		sugg = string(b)
	}
	answered := int64(0)
	if q.Answered {
		answered = 1
	}
	us := q.Time.UnixMicro()
	lat := max(q.Latency.Microseconds(), 0)
	norm := normalizeQuestion(question)
	return []any{
		safeText(q.ID), us, dayOf(us), safeText(string(q.Platform)), safeText(q.Workspace),
		d.hashID(q.Chat), d.hashID(q.User), question, norm, questionKey(norm), answered,
		safeText(q.EntryID), safeText(q.Section), score, sugg, safeText(q.KBVersion),
		lat, latencyBucket(lat),
	}
}

// questionKey is the key "most asked" groups by: FNV-1a 64 of the normalised question.
// It is stored, so it must never change. Two questions colliding in 64 bits (odds
// about n²/2⁶⁵) would only be counted together.
func questionKey(norm string) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(norm); i++ {
		h ^= uint64(norm[i])
		h *= prime
	}
	return int64(h)
}

// latencyBucket maps a latency in microseconds to a log-scale bucket: below 16 µs the
// value itself, above it 8 buckets per power of two, each 12.5% wide. Buckets grow with
// the latency, so the percentile can find its bucket by counting and then sort only
// that bucket; and rows of one bucket arrive in time order, so its index appends.
func latencyBucket(us int64) int64 {
	if us < 16 {
		return max(us, 0)
	}
	e := bits.Len64(uint64(us)) - 1 // floor(log2(us)) >= 4
	return int64(e)*8 + (us>>(e-3))&7
}

// dayOf returns the UTC day number of a Unix microsecond time, rounding down also
// before 1970.
func dayOf(us int64) int64 {
	const perDay = 86400 * 1_000_000
	d := us / perDay
	if us%perDay < 0 {
		d--
	}
	return d
}

// hashID returns the id as stored: hex HMAC-SHA256(UserSalt, id) when a salt is set.
// An empty id (a CLI user, a missing chat) stays empty: it identifies nobody.
func (d *DB) hashID(id string) string {
	if d.mac == nil || id == "" {
		return safeText(id)
	}
	d.mac.Reset()
	d.mac.Write([]byte(id))
	var sum [32]byte
	return hex.EncodeToString(d.mac.Sum(sum[:0]))
}

// safeText makes s valid UTF-8, so every text column holds text that exports as such.
func safeText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// capQuestion returns the question as stored: valid UTF-8, at most bot.MaxQuestionLen
// bytes, cut at a rune boundary.
func capQuestion(s string) string {
	s = safeText(s)
	if len(s) <= bot.MaxQuestionLen {
		return s
	}
	i := bot.MaxQuestionLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// normalizeQuestion is the key "most asked" groups by: lowercase, runs of white space
// collapsed to one space, punctuation and space trimmed at both ends, so "How do I
// reset my password?" and "how do i  reset my password" count as one question.
func normalizeQuestion(s string) string {
	s = strings.Join(strings.Fields(strings.ToLower(s)), " ")
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
}

// forgetChunk is how many rowids one ForgetUser transaction scans per table.
const forgetChunk = 20000

// forget deletes one user's rows. There is no index on user (see the schema), so it
// scans each table in rowid ranges, one short transaction per range, committing queued
// records in between so the writer never stalls for long. Every row recorded before
// the request is below the largest rowid at its start, so the scan covers it.
func (d *DB) forget(ctx context.Context, user string) (int64, error) {
	h := d.hashID(user)
	var total int64
	// Votes first, then queries (whose votes by others cascade), then admin actions.
	for _, table := range []string{"feedback", "queries", "admin_actions"} {
		var last int64
		if err := d.w.QueryRow(`SELECT coalesce(max(rowid), 0) FROM ` + table).Scan(&last); err != nil {
			return total, err
		}
		q := `DELETE FROM ` + table + ` WHERE rowid >= ? AND rowid < ? AND user = ?`
		for from := int64(0); from <= last; from += forgetChunk {
			n, err := d.deleteTx(func(tx *sql.Tx) error {
				_, err := tx.Exec(q, from, from+forgetChunk, h)
				return err
			})
			total += n
			if err != nil {
				return total, err
			}
			d.drainReady()
			if err := ctx.Err(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// purgeChunk is how many rows one purge transaction deletes from one table, small
// enough that the writer gets back to the queue within milliseconds.
const purgeChunk = 2000

// purge deletes rows older than before, chunk by chunk, committing queued records
// between chunks.
func (d *DB) purge(ctx context.Context, before time.Time) (int64, error) {
	cut := before.UnixMicro()
	var total int64
	limit := fmt.Sprint(purgeChunk)
	for _, st := range []struct {
		query string
		args  []any
	}{
		// queries_time is (day, time, ...): the day bound makes it a range scan.
		{`DELETE FROM queries WHERE rowid IN (SELECT rowid FROM queries WHERE day <= ? AND time < ? LIMIT ` + limit + `)`,
			[]any{dayOf(cut), cut}},
		{`DELETE FROM feedback WHERE rowid IN (SELECT rowid FROM feedback WHERE time < ? LIMIT ` + limit + `)`,
			[]any{cut}},
		{`DELETE FROM admin_actions WHERE rowid IN (SELECT rowid FROM admin_actions WHERE time < ? LIMIT ` + limit + `)`,
			[]any{cut}},
	} {
		for {
			var deleted int64
			n, err := d.deleteTx(func(tx *sql.Tx) error {
				res, err := tx.Exec(st.query, st.args...)
				if err != nil {
					return err
				}
				deleted, err = res.RowsAffected()
				return err
			})
			total += n
			if err != nil {
				return total, err
			}
			if deleted < purgeChunk {
				break
			}
			d.drainReady()
			if err := ctx.Err(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// deleteTx runs fn in a write transaction, retrying on "database is locked", and
// returns how many rows it changed, counting the votes that cascaded with their query.
func (d *DB) deleteTx(fn func(*sql.Tx) error) (int64, error) {
	var n int64
	var err error
	for attempt := 0; ; attempt++ {
		n, err = d.tryDeleteTx(fn)
		if err == nil || !isBusy(err) || attempt == maxBusyRetries {
			return n, err
		}
		time.Sleep(time.Duration(25<<attempt) * time.Millisecond)
	}
}

func (d *DB) tryDeleteTx(fn func(*sql.Tx) error) (int64, error) {
	tx, err := d.w.Begin()
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var before, after int64
	// total_changes() counts rows deleted by foreign key actions; RowsAffected does not.
	if err := tx.QueryRow(`SELECT total_changes()`).Scan(&before); err != nil {
		return 0, err
	}
	if err := fn(tx); err != nil {
		return 0, err
	}
	if err := tx.QueryRow(`SELECT total_changes()`).Scan(&after); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return after - before, nil
}
