package storage

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scobot/scobot/bot"
)

// StatsOptions selects what Stats counts.
type StatsOptions struct {
	Since time.Time // count queries and votes from this time on; zero: all
	Limit int       // the length of each ranked list (default 10)
}

// defaultStatsLimit is the length of Stats' ranked lists when StatsOptions.Limit is 0.
const defaultStatsLimit = 10

// sinceMicros returns the lower bound for the time columns.
func sinceMicros(since time.Time) int64 {
	if since.IsZero() {
		return math.MinInt64
	}
	return since.UnixMicro()
}

// The stats queries. Each reads one covering index (see migrations/0001_init.sql) in
// its GROUP BY order, so none reads the table or sorts the matching rows; only the
// groups are ranked, and the latency percentiles sort one bucket. TestStatsQueryPlans
// checks the plans, BenchmarkStats times them over 1,000,000 queries. "+time" stops
// the planner from choosing the time index and then sorting every row to group them;
// INDEXED BY pins the index a query was designed for.
var statsQueries = map[string]string{
	// By day, with the answered count: the totals are their sums.
	"day": `SELECT day, count(*), sum(answered) FROM queries INDEXED BY queries_time WHERE day >= ? AND time >= ?
		GROUP BY day ORDER BY day`,
	"platform": `SELECT platform, count(*) AS n FROM queries INDEXED BY queries_platform WHERE +time >= ?
		GROUP BY platform ORDER BY n DESC, platform`,
	// The question text comes from one row of each of the top groups only.
	"asked": `SELECT (SELECT question_norm FROM queries WHERE rowid = g.r), g.n FROM (
		SELECT question_key, count(*) AS n, max(rowid) AS r FROM queries INDEXED BY queries_question
		WHERE +time >= ? GROUP BY question_key ORDER BY n DESC, question_key LIMIT ?) AS g`,
	"unanswered": `SELECT (SELECT question_norm FROM queries WHERE rowid = g.r), g.n FROM (
		SELECT question_key, count(*) AS n, max(rowid) AS r FROM queries INDEXED BY queries_question
		WHERE answered = 0 AND +time >= ? GROUP BY question_key ORDER BY n DESC, question_key LIMIT ?) AS g`,
	// Entries and sections both: an entry is in one section, so this is a few hundred rows.
	"entries": `SELECT entry_id, section, count(*) FROM queries INDEXED BY queries_entry
		WHERE answered = 1 AND +time >= ? GROUP BY entry_id, section`,
	"votes": `SELECT entry_id, count(*) FILTER (WHERE vote = 1) AS up, count(*) FILTER (WHERE vote = -1) AS down
		FROM feedback INDEXED BY feedback_entry WHERE +time >= ? AND entry_id <> '' GROUP BY entry_id
		ORDER BY down DESC, up DESC, entry_id LIMIT ?`,
	"latency_buckets": `SELECT latency_bucket, count(*) FROM queries INDEXED BY queries_latency WHERE +time >= ?
		GROUP BY latency_bucket ORDER BY latency_bucket`,
	"latency": `SELECT latency_us FROM queries INDEXED BY queries_latency
		WHERE latency_bucket = ? AND time >= ? ORDER BY latency_us LIMIT 1 OFFSET ?`,
}

// Stats counts the queries and votes since opts.Since: totals, the answered share,
// queries by platform and by UTC day, the most asked (normalised) questions, the most
// used entries and sections, the most asked unanswered questions, votes per entry
// (most down-voted first, counted by when they were cast) and latency percentiles
// (nearest rank).
//
// Its parts run at once on the read pool, which never blocks the writer: about 170 ms
// for a million queries on two cores, against 400 one after the other (BenchmarkStats).
// Each part reads its own snapshot,
// so while records arrive the lists may differ by the few records committed between
// them; the totals and the days come from one query and always agree.
func (d *DB) Stats(ctx context.Context, opts StatsOptions) (*bot.Stats, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultStatsLimit
	}
	since := sinceMicros(opts.Since)
	s := &bot.Stats{Since: opts.Since}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	part := func(name string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil {
				once.Do(func() {
					first = fmt.Errorf("stats: %s: %w", name, err)
					cancel()
				})
			}
		})
	}
	part("by day", func() (err error) {
		s.ByDay, s.Total, s.Answered, err = byDay(ctx, d.r, since)
		return err
	})
	part("by platform", func() (err error) {
		s.ByPlatform, err = counts(ctx, d.r, statsQueries["platform"], since)
		return err
	})
	part("most asked", func() (err error) {
		s.TopAsked, err = questions(ctx, d.r, "asked", since, limit)
		return err
	})
	part("unanswered", func() (err error) {
		s.Unanswered, err = questions(ctx, d.r, "unanswered", since, limit)
		return err
	})
	part("entries", func() (err error) {
		s.TopEntries, s.TopSections, err = entries(ctx, d.r, since, limit)
		return err
	})
	part("votes", func() (err error) {
		s.Votes, err = votes(ctx, d.r, since, limit)
		return err
	})
	part("latency", func() (err error) {
		s.LatencyP50, s.LatencyP90, s.LatencyP99, err = latencies(ctx, d.r, since)
		return err
	})
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if s.Total > 0 {
		s.AnsweredPct = 100 * float64(s.Answered) / float64(s.Total)
	}
	return s, nil
}

// Unanswered returns the questions (normalised) that got no answer since the given
// time, most asked first: what the knowledge base should learn next.
func (d *DB) Unanswered(ctx context.Context, since time.Time, limit int) ([]bot.Count, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		limit = defaultStatsLimit
	}
	cs, err := questions(ctx, d.r, "unanswered", sinceMicros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("unanswered questions: %w", err)
	}
	return cs, nil
}

// querier is what the read helpers need from a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ querier = (*sql.DB)(nil)
	_ querier = (*sql.Tx)(nil)
)

// counts runs a "key, count" query.
func counts(ctx context.Context, q querier, query string, args ...any) ([]bot.Count, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []bot.Count
	for rows.Next() {
		var c bot.Count
		if err := rows.Scan(&c.Key, &c.Count); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// questions runs the "asked" or "unanswered" query. SQL ranks the groups by count and
// then by question key, a hash; here equal counts are put in text order, which reads
// better and does not depend on the hash.
func questions(ctx context.Context, q querier, which string, since int64, limit int) ([]bot.Count, error) {
	cs, err := counts(ctx, q, statsQueries[which], since, limit)
	slices.SortStableFunc(cs, byCountThenKey)
	return cs, err
}

// byCountThenKey orders counts largest first, ties by key.
func byCountThenKey(a, b bot.Count) int {
	if a.Count != b.Count {
		return cmp.Compare(b.Count, a.Count)
	}
	return strings.Compare(a.Key, b.Key)
}

// byDay counts queries per UTC day, oldest first, keyed YYYY-MM-DD, and returns
// their sums: all queries and the answered ones.
func byDay(ctx context.Context, q querier, since int64) (days []bot.Count, total, answered int, err error) {
	rows, err := q.QueryContext(ctx, statsQueries["day"], dayOf(since), since)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var day int64
		var n, a int
		if err := rows.Scan(&day, &n, &a); err != nil {
			return nil, 0, 0, err
		}
		key := time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
		days = append(days, bot.Count{Key: key, Count: n})
		total += n
		answered += a
	}
	return days, total, answered, rows.Err()
}

// entries returns the most used entries and sections, most used first.
func entries(ctx context.Context, q querier, since int64, limit int) (top, sections []bot.Count, err error) {
	rows, err := q.QueryContext(ctx, statsQueries["entries"], since)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	byEntry, bySection := map[string]int{}, map[string]int{}
	for rows.Next() {
		var entry, section string
		var n int
		if err := rows.Scan(&entry, &section, &n); err != nil {
			return nil, nil, err
		}
		if entry != "" {
			byEntry[entry] += n
		}
		if section != "" {
			bySection[section] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return rank(byEntry, limit), rank(bySection, limit), nil
}

// rank returns the limit largest counts, largest first, ties by key.
func rank(m map[string]int, limit int) []bot.Count {
	cs := make([]bot.Count, 0, len(m))
	for k, n := range m {
		cs = append(cs, bot.Count{Key: k, Count: n})
	}
	slices.SortFunc(cs, byCountThenKey)
	if len(cs) > limit {
		cs = cs[:limit]
	}
	if len(cs) == 0 {
		return nil
	}
	return cs
}

// votes returns the up and down votes per entry, most down-voted first: the answers
// that most need a look.
func votes(ctx context.Context, q querier, since int64, limit int) ([]bot.EntryVotes, error) {
	rows, err := q.QueryContext(ctx, statsQueries["votes"], since, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []bot.EntryVotes
	for rows.Next() {
		var v bot.EntryVotes
		if err := rows.Scan(&v.EntryID, &v.Up, &v.Down); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// latencies returns the nearest-rank 50th, 90th and 99th latency percentiles of the
// queries since the given time: the value at rank ceil(p/100*n) in latency order. One
// pass over the latency index counts each bucket, which tells the bucket and the rank
// inside it; then only that bucket is sorted.
func latencies(ctx context.Context, q querier, since int64) (p50, p90, p99 time.Duration, err error) {
	rows, err := q.QueryContext(ctx, statsQueries["latency_buckets"], since)
	if err != nil {
		return 0, 0, 0, err
	}
	type bucket struct{ id, n int64 }
	var buckets []bucket
	var total int64
	for rows.Next() {
		var b bucket
		if err := rows.Scan(&b.id, &b.n); err != nil {
			rows.Close()
			return 0, 0, 0, err
		}
		buckets = append(buckets, b)
		total += b.n
	}
	rows.Close()
	if err := rows.Err(); err != nil || total == 0 {
		return 0, 0, 0, err
	}
	var out [3]time.Duration
	for i, p := range []float64{50, 90, 99} {
		rank := min(max(int64(math.Ceil(p/100*float64(total))), 1), total)
		for _, b := range buckets {
			if rank > b.n {
				rank -= b.n
				continue
			}
			var us int64
			if err := q.QueryRowContext(ctx, statsQueries["latency"], b.id, since, rank-1).Scan(&us); err != nil {
				return 0, 0, 0, err
			}
			out[i] = time.Duration(us) * time.Microsecond
			break
		}
	}
	return out[0], out[1], out[2], nil
}

// isClosed reports whether Close has been called.
func (d *DB) isClosed() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.closed
}
