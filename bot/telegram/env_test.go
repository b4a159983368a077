package telegram

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
	"github.com/scobot/scobot/storage"
)

var _ StateStore = (*storage.DB)(nil)

// testEnv is a fake Bot API, a real query log in a temporary SQLite file and the real
// bot core on the embedded knowledge base.
type testEnv struct {
	t      testing.TB
	api    *fakeAPI
	dbPath string
	db     *storage.DB
	core   *bot.Core
	logs   *logBuffer
	log    *slog.Logger
	cfg    Config
}

// envOption changes the environment before the core is made.
type envOption func(*testEnv, *bot.Config)

func withReloader(r bot.Reloader) envOption {
	return func(_ *testEnv, c *bot.Config) { c.Reloader = r }
}

func newTestEnv(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{t: t, api: newFakeAPI(t), logs: &logBuffer{}}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.dbPath = filepath.Join(t.TempDir(), "scobot.db")
	e.db = e.openDB()
	kb, err := knowledge.Default()
	if err != nil {
		t.Fatal(err)
	}
	holder := &bot.KBHolder{}
	holder.Store(kb)
	cc := bot.Config{KB: holder, Log: e.db, Stats: e.db, Logger: e.log}
	for _, o := range opts {
		o(e, &cc)
	}
	e.core, err = bot.NewCore(cc)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{
		Token:       testToken,
		APIEndpoint: e.api.endpoint(),
		AdminIDs:    []int64{admin.ID},
		NoPacing:    true,
		PollTimeout: time.Second,
		Logger:      e.log,
		retryBase:   5 * time.Millisecond,
	}
	return e
}

func (e *testEnv) openDB() *storage.DB {
	e.t.Helper()
	db, err := storage.Open(e.dbPath, storage.Options{Logger: e.log})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// newBot makes a Bot on the environment's config, changed by mut.
func (e *testEnv) newBot(mut ...func(*Config)) *Bot {
	e.t.Helper()
	cfg := e.cfg
	for _, m := range mut {
		m(&cfg)
	}
	b, err := New(context.Background(), cfg, e.core, e.db)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return b
}

// run runs b until the returned stop is called (or the test ends); stop checks that
// Run returned nil in good time.
func (e *testEnv) run(b *Bot) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop = func() {
		e.t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			e.t.Fatal("Run did not return after its context ended")
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// stats flushes the query log and returns all of its statistics.
func (e *testEnv) stats() *bot.Stats {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
	st, err := e.db.Stats(ctx, storage.StatsOptions{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}
