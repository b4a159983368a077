package storage

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
)

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// benchGen generates realistic queries: a Zipf-distributed set of ~24,000 questions
// with a 10% tail of one-off ones, 75% answered over 500 entries in 40 sections,
// 50,000 users, latencies from 1 ms to a few hundred.
type benchGen struct {
	rng       *rand.Rand
	question  *rand.Zipf
	entry     *rand.Zipf
	platforms []bot.Platform
}

func newBenchGen(seed uint64) *benchGen {
	rng := rand.New(rand.NewPCG(seed, 1))
	return &benchGen{
		rng:       rng,
		question:  rand.NewZipf(rng, 1.1, 1, 30*40*20-1),
		entry:     rand.NewZipf(rng, 1.2, 1, 499),
		platforms: []bot.Platform{bot.PlatformTelegram, bot.PlatformTelegram, bot.PlatformSlack, bot.PlatformWeb},
	}
}

var (
	benchVerbs = []string{"reset", "change", "find", "delete", "update", "export", "share", "print", "open", "close",
		"renew", "cancel", "book", "pay", "download", "upload", "install", "remove", "configure", "enable",
		"disable", "check", "request", "approve", "sign", "scan", "connect", "sync", "restore", "archive"}
	benchNouns = []string{"password", "invoice", "badge", "laptop", "vpn", "printer", "holiday", "payslip", "contract",
		"parking", "email", "calendar", "account", "phone", "expense report", "timesheet", "wifi", "desk", "locker",
		"training", "pension", "insurance", "car", "visa", "certificate", "keycard", "monitor", "headset",
		"software licence", "database", "repository", "ticket", "meeting room", "guest pass", "budget", "order",
		"delivery", "refund", "signature", "backup"}
	benchPlaces = []string{"", " at home", " in the office", " on my phone", " for a guest", " for my team",
		" abroad", " this week", " today", " before friday", " after leaving", " on linux", " on windows",
		" on a mac", " in slack", " in the portal", " for next year", " again", " quickly", " myself"}
)

// query returns the i-th of n queries spread evenly over the year before end.
func (g *benchGen) query(i, n int, end time.Time) bot.Query {
	k := int(g.question.Uint64())
	text := fmt.Sprintf("How do I %s the %s%s?", benchVerbs[k%30], benchNouns[k/30%40], benchPlaces[k/1200%20])
	if g.rng.IntN(10) == 0 {
		text = fmt.Sprintf("%s (case %d)", text, g.rng.IntN(1_000_000_000))
	}
	start := end.Add(-365 * 24 * time.Hour)
	t := start.Add(time.Duration(float64(365*24*time.Hour) * float64(i) / float64(n)))
	q := bot.Query{
		ID:        fmt.Sprintf("%012x-7000-8000-%012x", t.UnixMilli(), i),
		Time:      t,
		Platform:  g.platforms[g.rng.IntN(len(g.platforms))],
		Workspace: "T0001",
		Chat:      fmt.Sprintf("C%06d", g.rng.IntN(5000)),
		User:      fmt.Sprintf("U%08d", g.rng.IntN(50_000)),
		Question:  text,
		Answered:  g.rng.IntN(4) != 0,
		Score:     g.rng.Float64() * 20,
		KBVersion: "sha256:4f2a9c",
		Latency:   time.Duration(float64(time.Millisecond) * (1 + g.rng.ExpFloat64()*20)),
	}
	if q.Answered {
		e := int(g.entry.Uint64())
		q.EntryID = fmt.Sprintf("entry-%03d", e)
		q.Section = fmt.Sprintf("section-%02d", e%40)
	} else {
		q.Suggestions = []string{fmt.Sprintf("entry-%03d", g.rng.IntN(500)), fmt.Sprintf("entry-%03d", g.rng.IntN(500))}
	}
	return q
}

// BenchmarkRecord measures sustained throughput through the batched writer into a
// real file, from the first Record to the end of Close (which commits the rest).
func BenchmarkRecord(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		b.Run(sync, func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "bench.db"),
				Options{Synchronous: sync, EnqueueTimeout: time.Minute, Logger: discardLogger})
			if err != nil {
				b.Fatal(err)
			}
			g := newBenchGen(1)
			pool := make([]bot.Query, 4096)
			for i := range pool {
				pool[i] = g.query(i, len(pool), time.Now())
			}
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = bot.NewQueryID()
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				q := pool[i%len(pool)]
				q.ID = ids[i]
				q.Time = start.Add(time.Duration(i) * time.Microsecond) // as live traffic: in time order
				if err := db.Record(q); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "queries/s")
			if n := db.Dropped(); n != 0 {
				b.Fatalf("Dropped() = %d, want 0", n)
			}
		})
	}
}

// BenchmarkRecordEnqueue measures what Record costs the reply path while the queue has
// room: the real Record on a DB whose queue is drained by a goroutine that discards,
// so the benchmark times the caller's side only (BenchmarkRecord times the writer).
func BenchmarkRecordEnqueue(b *testing.B) {
	newDB := func(b *testing.B) *DB {
		opts, _ := Options{Logger: discardLogger}.withDefaults()
		d := &DB{opts: opts, log: opts.Logger, queue: make(chan item, opts.QueueSize)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range d.queue {
			}
		}()
		b.Cleanup(func() {
			d.mu.Lock()
			d.closed = true
			close(d.queue)
			d.mu.Unlock()
			<-done
		})
		return d
	}
	q := newBenchGen(1).query(0, 1, time.Now())
	q.Suggestions = []string{"entry-001", "entry-002"} // the costlier case: Record copies them
	b.Run("serial", func(b *testing.B) {
		d := newDB(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := d.Record(q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		d := newDB(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := d.Record(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// Size of the benchmark log, and a version to bump when benchGen changes.
const (
	benchRows       = 1_000_000
	benchGenVersion = 1
)

// benchLog returns the path of a log of benchRows generated queries (and a vote on
// every tenth), built once and kept in os.TempDir keyed by the schema (a hash of the
// migrations) and the generator version: building it takes a while.
func benchLog(b *testing.B) string {
	b.Helper()
	var schema strings.Builder
	for _, m := range migrations {
		schema.WriteString(m.sql)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("scobot-storage-bench-s%d-%x-g%d-%d.db",
		schemaVersion, uint64(questionKey(schema.String())), benchGenVersion, benchRows))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	tmp := path + ".tmp"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	db, err := Open(tmp, Options{Logger: discardLogger})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := bulkInsert(tmp, benchRows); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s (%d queries) in %v", path, benchRows, time.Since(start).Round(time.Millisecond))
	return path
}

// bulkInsert fills a migrated log fast: indexes dropped, one transaction, indexes
// rebuilt (a sort each) at the end. The rows go through the writer's own queryArgs.
func bulkInsert(path string, n int) error {
	raw, err := sql.Open("sqlite3", "file:"+escapeURIPath(path)+"?_synchronous=OFF&_cache_size=-262144")
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	var indexes []string
	rows, err := raw.Query(`SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			return err
		}
		names, indexes = append(names, name), append(indexes, ddl)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := raw.Exec(`DROP INDEX ` + name); err != nil {
			return err
		}
	}
	tx, err := raw.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.Prepare(insertQuery)
	if err != nil {
		return err
	}
	vote, err := tx.Prepare(`INSERT INTO feedback (query_id, user, platform, vote, time, entry_id) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	g := newBenchGen(42)
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	w := &DB{} // no salt: queryArgs only normalises
	for i := range n {
		q := g.query(i, n, end)
		if _, err := ins.Exec(w.queryArgs(&q)...); err != nil {
			return err
		}
		if i%10 == 0 {
			v := bot.VoteUp
			if g.rng.IntN(3) == 0 {
				v = bot.VoteDown
			}
			if _, err := vote.Exec(q.ID, fmt.Sprintf("U%08d", g.rng.IntN(50_000)), string(q.Platform), int64(v),
				q.Time.Add(time.Minute).UnixMicro(), q.EntryID); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, ddl := range indexes {
		if _, err := raw.Exec(ddl); err != nil {
			return err
		}
	}
	_, err = raw.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// BenchmarkStats times each stats query over a log of 1,000,000 queries, over the
// whole log and over its last 30 days, and Stats and Unanswered as a whole.
func BenchmarkStats(b *testing.B) {
	path := benchLog(b)
	db, err := Open(path, Options{Logger: discardLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, window := range []struct {
		name  string
		since time.Time
	}{
		{"all", time.Time{}},
		{"30d", end.AddDate(0, 0, -30)},
	} {
		since := sinceMicros(window.since)
		sub := func(name string, f func() error) {
			b.Run(window.name+"/"+name, func(b *testing.B) {
				for b.Loop() {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		sub("day+total", func() error { _, _, _, err := byDay(ctx, db.r, since); return err })
		sub("platform", func() error { _, err := counts(ctx, db.r, statsQueries["platform"], since); return err })
		sub("asked", func() error { _, err := counts(ctx, db.r, statsQueries["asked"], since, 10); return err })
		sub("unanswered", func() error { _, err := counts(ctx, db.r, statsQueries["unanswered"], since, 10); return err })
		sub("entries+sections", func() error { _, _, err := entries(ctx, db.r, since, 10); return err })
		sub("votes", func() error { _, err := votes(ctx, db.r, since, 10); return err })
		sub("latency-p50+p90+p99", func() error { _, _, _, err := latencies(ctx, db.r, since); return err })
		b.Run(window.name+"/Stats", func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Stats(ctx, StatsOptions{Since: window.since}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(window.name+"/Unanswered", func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Unanswered(ctx, window.since, 20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
