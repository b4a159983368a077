package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
)

// storedQuery is a queries row as the tests read it back.
type storedQuery struct {
	ID, Platform, Workspace, Chat, User, Question, Norm string
	Time, Day, LatencyUS                                int64
	Answered                                            bool
	EntryID, Section, Suggestions, KBVersion            string
	Score                                               float64
}

func readQuery(t *testing.T, path, id string) storedQuery {
	t.Helper()
	var s storedQuery
	err := rawDB(t, path).QueryRow(`SELECT id, time, day, platform, workspace, chat, user, question, question_norm,
		answered, entry_id, section, score, suggestions, kb_version, latency_us FROM queries WHERE id = ?`, id).Scan(
		&s.ID, &s.Time, &s.Day, &s.Platform, &s.Workspace, &s.Chat, &s.User, &s.Question, &s.Norm,
		&s.Answered, &s.EntryID, &s.Section, &s.Score, &s.Suggestions, &s.KBVersion, &s.LatencyUS)
	if err != nil {
		t.Fatalf("read query %s: %v", id, err)
	}
	return s
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	db, path, _ := openTest(t, Options{})
	q := bot.Query{
		ID:          bot.NewQueryID(),
		Time:        time.Date(2026, 5, 4, 23, 59, 59, 123456789, time.UTC),
		Platform:    bot.PlatformSlack,
		Workspace:   "T123",
		Chat:        "C456",
		User:        "U789",
		Question:    "  How do I   RESET my password?? ",
		Answered:    true,
		EntryID:     "reset-password",
		Section:     "accounts",
		Score:       12.5,
		Suggestions: []string{"change-password", "unlock-account"},
		KBVersion:   "sha256:abc",
		Latency:     1234567 * time.Nanosecond,
	}
	record(t, db, q)
	flush(t, db)

	got := readQuery(t, path, q.ID)
	want := storedQuery{
		ID: q.ID, Time: q.Time.UnixMicro(), Day: q.Time.Unix() / 86400, Platform: "slack", Workspace: "T123",
		Chat: "C456", User: "U789", Question: q.Question, Norm: "how do i reset my password", Answered: true,
		EntryID: "reset-password", Section: "accounts", Score: 12.5,
		Suggestions: `["change-password","unlock-account"]`, KBVersion: "sha256:abc", LatencyUS: 1234,
	}
	if got != want {
		t.Errorf("stored query:\n got %+v\nwant %+v", got, want)
	}
}

func TestRecordDefaults(t *testing.T) {
	t.Parallel()
	db, path, _ := openTest(t, Options{})
	before := time.Now()
	q := bot.Query{ID: "q1", Question: "hi", Score: math.NaN(), Latency: -time.Second}
	record(t, db, q)
	flush(t, db)
	got := readQuery(t, path, "q1")
	if got.Time < before.UnixMicro() || got.Time > time.Now().UnixMicro() {
		t.Errorf("zero Time stored as %d, want now", got.Time)
	}
	if got.Score != 0 || got.LatencyUS != 0 || got.Suggestions != "[]" {
		t.Errorf("score, latency, suggestions = %v, %d, %s; want 0, 0, []", got.Score, got.LatencyUS, got.Suggestions)
	}
}

func TestQuestionStoredSafely(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", bot.MaxQuestionLen+10)
	// "é" is 2 bytes: 999 a's and an é would end at 1001, so the é must go.
	boundary := strings.Repeat("a", bot.MaxQuestionLen-1) + "é" + "tail"
	tests := []struct {
		name, question, want string
	}{
		{"short", "where is the canteen?", "where is the canteen?"},
		{"long ascii", long, long[:bot.MaxQuestionLen]},
		{"cut at rune boundary", boundary, boundary[:bot.MaxQuestionLen-1]},
		{"invalid utf-8", "caf\xe9 au lait \xff", "caf\uFFFD au lait \uFFFD"},
		{"nul byte kept", "a\x00b", "a\x00b"},
		{"empty", "", ""},
	}
	db, path, _ := openTest(t, Options{})
	for i, tc := range tests {
		q := testQuery(i)
		q.ID = fmt.Sprintf("q%d", i)
		q.Question = tc.question
		record(t, db, q)
	}
	flush(t, db)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readQuery(t, path, fmt.Sprintf("q%d", i))
			if got.Question != tc.want {
				t.Errorf("stored question = %q (%d bytes), want %q (%d bytes)", got.Question, len(got.Question), tc.want, len(tc.want))
			}
			if !utf8.ValidString(got.Question) || !utf8.ValidString(got.Norm) || len(got.Question) > bot.MaxQuestionLen {
				t.Errorf("stored question %q, norm %q: want valid UTF-8 within %d bytes", got.Question, got.Norm, bot.MaxQuestionLen)
			}
		})
	}
}

func TestNormalizeQuestion(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"How do I reset my password?", "how do i reset my password"},
		{"  how do i\treset   my\npassword ", "how do i reset my password"},
		{"¿Dónde está la CANTINA?", "dónde está la cantina"},
		{"...hello!!!", "hello"},
		{"what is c++?", "what is c++"},
		{"e-mail: setup", "e-mail: setup"},
		{"?!", ""},
		{"", ""},
		{"« Où ? »", "où"},
	}
	for _, tc := range tests {
		if got := normalizeQuestion(tc.in); got != tc.want {
			t.Errorf("normalizeQuestion(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLatencyBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		us   int64
		want int64
	}{
		{-5, 0}, {0, 0}, {15, 15}, {16, 32}, {17, 32}, {18, 33}, {31, 39}, {32, 40}, {1000, 79}, {1024, 80},
	}
	for _, tc := range tests {
		if got := latencyBucket(tc.us); got != tc.want {
			t.Errorf("latencyBucket(%d) = %d, want %d", tc.us, got, tc.want)
		}
	}
	// Buckets never go down as latency goes up, and are at most 12.5% wide.
	prev, start := latencyBucket(0), int64(0)
	for us := int64(1); us < 1<<22; us++ {
		b := latencyBucket(us)
		if b < prev {
			t.Fatalf("latencyBucket(%d) = %d < latencyBucket(%d) = %d", us, b, us-1, prev)
		}
		if b != prev {
			prev, start = b, us
		}
		if us >= 16 && float64(us-start) > 0.125*float64(start) {
			t.Fatalf("bucket %d spans %d..%d, more than 12.5%%", b, start, us)
		}
	}
}

func TestQuestionKeyIsFNV1a(t *testing.T) {
	t.Parallel()
	// The key is stored: it must stay FNV-1a 64 (reference values from the spec).
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xcbf29ce484222325},
		{"a", 0xaf63dc4c8601ec8c},
		{"foobar", 0x85944171f73967e8},
	}
	for _, tc := range tests {
		if got := uint64(questionKey(tc.in)); got != tc.want {
			t.Errorf("questionKey(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

func TestFeedbackUpsert(t *testing.T) {
	t.Parallel()
	db, path, _ := openTest(t, Options{})
	q := testQuery(1)
	record(t, db, q)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Recorded right behind its query, before any commit: the FIFO keeps the order.
	votes := []bot.Feedback{
		{QueryID: q.ID, Platform: bot.PlatformSlack, User: "alice", Vote: bot.VoteUp, Time: t0},
		{QueryID: q.ID, Platform: bot.PlatformSlack, User: "bob", Vote: bot.VoteUp, Time: t0},
		{QueryID: q.ID, Platform: bot.PlatformSlack, User: "alice", Vote: bot.VoteDown, Time: t0.Add(time.Minute)},
	}
	for _, v := range votes {
		if err := db.RecordFeedback(v); err != nil {
			t.Fatalf("RecordFeedback(%+v) = %v", v, err)
		}
	}
	flush(t, db)
	if n := db.Dropped(); n != 0 {
		t.Errorf("Dropped() = %d, want 0", n)
	}
	rows, err := rawDB(t, path).Query(`SELECT user, vote, time, entry_id FROM feedback ORDER BY user`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var user, entry string
		var vote, at int64
		if err := rows.Scan(&user, &vote, &at, &entry); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %d %s", user, vote, at, entry))
	}
	want := []string{
		fmt.Sprintf("alice -1 %d %s", t0.Add(time.Minute).UnixMicro(), q.EntryID),
		fmt.Sprintf("bob 1 %d %s", t0.UnixMicro(), q.EntryID),
	}
	if !slices.Equal(got, want) {
		t.Errorf("feedback rows = %q, want %q", got, want)
	}
}

func TestFeedbackUnknownQuery(t *testing.T) {
	t.Parallel()
	db, path, logs := openTest(t, Options{})
	record(t, db, testQuery(1))
	if err := db.RecordFeedback(bot.Feedback{QueryID: "no-such-query", User: "alice", Vote: bot.VoteUp}); err != nil {
		t.Fatalf("RecordFeedback = %v, want nil (checked by the writer)", err)
	}
	flush(t, db)
	if n := db.Dropped(); n != 1 {
		t.Errorf("Dropped() = %d, want 1", n)
	}
	if n := count(t, rawDB(t, path), `SELECT count(*) FROM feedback`); n != 0 {
		t.Errorf("%d feedback rows, want 0", n)
	}
	if !strings.Contains(logs.String(), ErrUnknownQuery.Error()) || !strings.Contains(logs.String(), "no-such-query") {
		t.Errorf("log does not name the unknown query:\n%s", logs)
	}
}

func TestRecordRejectsInvalid(t *testing.T) {
	t.Parallel()
	db, _, _ := openTest(t, Options{})
	tests := []struct {
		name string
		err  error
	}{
		{"query without id", db.Record(bot.Query{Question: "x"})},
		{"vote without query id", db.RecordFeedback(bot.Feedback{User: "u", Vote: bot.VoteUp})},
		{"vote neither up nor down", db.RecordFeedback(bot.Feedback{QueryID: "q", User: "u", Vote: 0})},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: err = nil, want an error", tc.name)
		}
	}
	if n := db.Dropped(); n != 0 {
		t.Errorf("Dropped() = %d, want 0: refused records are not dropped ones", n)
	}
}

func TestDuplicateQueryID(t *testing.T) {
	t.Parallel()
	db, path, logs := openTest(t, Options{})
	q := testQuery(1)
	record(t, db, q)
	record(t, db, q)
	record(t, db, testQuery(2))
	flush(t, db)
	if n := db.Dropped(); n != 1 {
		t.Errorf("Dropped() = %d, want 1", n)
	}
	if n := count(t, rawDB(t, path), `SELECT count(*) FROM queries`); n != 2 {
		t.Errorf("%d queries stored, want 2: a duplicate must not fail its batch", n)
	}
	if !strings.Contains(logs.String(), "already in the log") {
		t.Errorf("log does not mention the duplicate:\n%s", logs)
	}
}

func TestAdminAction(t *testing.T) {
	t.Parallel()
	db, path, _ := openTest(t, Options{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := bot.AdminAction{Time: at, Platform: bot.PlatformTelegram, User: "admin1", Action: "reload", Result: "ok", KBVersion: "kb2"}
	if err := db.RecordAdmin(a); err != nil {
		t.Fatal(err)
	}
	flush(t, db)
	var got bot.AdminAction
	var us int64
	err := rawDB(t, path).QueryRow(`SELECT time, platform, user, action, result, kb_version FROM admin_actions`).Scan(
		&us, &got.Platform, &got.User, &got.Action, &got.Result, &got.KBVersion)
	if err != nil {
		t.Fatal(err)
	}
	got.Time = time.UnixMicro(us).UTC()
	if got != a {
		t.Errorf("admin action = %+v, want %+v", got, a)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/log.db"
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		record(t, db, testQuery(i))
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	ctx := context.Background()
	_, statsErr := db.Stats(ctx, StatsOptions{})
	_, forgetErr := db.ForgetUser(ctx, "u")
	_, purgeErr := db.Purge(ctx, time.Now())
	_, unansweredErr := db.Unanswered(ctx, time.Time{}, 10)
	for name, err := range map[string]error{
		"Record":         db.Record(testQuery(1000)),
		"RecordFeedback": db.RecordFeedback(bot.Feedback{QueryID: "q", User: "u", Vote: bot.VoteUp}),
		"RecordAdmin":    db.RecordAdmin(bot.AdminAction{Action: "stats"}),
		"Flush":          db.Flush(ctx),
		"Stats":          statsErr,
		"ForgetUser":     forgetErr,
		"Purge":          purgeErr,
		"Unanswered":     unansweredErr,
		"Export":         db.Export(ctx, &strings.Builder{}, "csv", time.Time{}),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if n := count(t, rawDB(t, path), `SELECT count(*) FROM queries`); n != 100 {
		t.Errorf("%d queries in the file after Close, want 100", n)
	}
}

// holdWriteLock takes the database's write lock from another connection, as another
// process would, until the returned function is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	other := rawDBWritable(t, path)
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO admin_actions VALUES (0, '', 'lock-holder', '', '', '')`); err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback() }
}

func TestQueueFull(t *testing.T) {
	t.Parallel()
	db, path, logs := openTest(t, Options{QueueSize: 4, BatchSize: 1, EnqueueTimeout: 20 * time.Millisecond})
	release := holdWriteLock(t, path) // the writer blocks on its first batch
	var accepted, full int
	for i := range 20 {
		switch err := db.Record(testQuery(i)); {
		case err == nil:
			accepted++
		case errors.Is(err, ErrQueueFull):
			full++
		default:
			t.Fatalf("Record = %v", err)
		}
	}
	if full == 0 || db.Dropped() != uint64(full) {
		t.Errorf("%d records refused, Dropped() = %d; want some, and equal", full, db.Dropped())
	}
	if d := db.QueueDepth(); d != 4 {
		t.Errorf("QueueDepth() = %d, want 4 (full)", d)
	}
	release()
	flush(t, db)
	if n := count(t, rawDB(t, path), `SELECT count(*) FROM queries`); n != accepted {
		t.Errorf("%d queries stored, want the %d accepted", n, accepted)
	}
	if !strings.Contains(logs.String(), "queue full") {
		t.Errorf("the drops were not logged:\n%s", logs)
	}
}

func TestBusyRetry(t *testing.T) {
	t.Parallel()
	// A short busy timeout, so the writer meets "database is locked" and must retry.
	db, path, logs := openTest(t, Options{busyTimeout: 20 * time.Millisecond})
	release := holdWriteLock(t, path)
	for i := range 10 {
		record(t, db, testQuery(i))
	}
	time.AfterFunc(150*time.Millisecond, release)
	flush(t, db)
	if n := count(t, rawDB(t, path), `SELECT count(*) FROM queries`); n != 10 || db.Dropped() != 0 {
		t.Errorf("%d queries stored, %d dropped; want 10 and 0", n, db.Dropped())
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("want a retry in the log:\n%s", logs)
	}
}

func TestBatchFailureIsCountedAndLogged(t *testing.T) {
	t.Parallel()
	db, path, logs := openTest(t, Options{})
	record(t, db, testQuery(0))
	flush(t, db)
	// Break the schema behind the writer's back: every later batch fails.
	other := rawDBWritable(t, path)
	if _, err := other.Exec(`DROP TABLE feedback; DROP TABLE queries`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		record(t, db, testQuery(i))
	}
	err := db.Flush(context.Background())
	wantErrContains(t, err, "commit batch of")
	if n := db.Dropped(); n != 3 {
		t.Errorf("Dropped() = %d, want 3", n)
	}
	if !strings.Contains(logs.String(), "batch failed") {
		t.Errorf("the failed batch was not logged:\n%s", logs)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Errorf("next Flush = %v, want nil: the failure is reported once", err)
	}
}

// TestConcurrent records queries, votes and admin actions from many goroutines while
// others read stats and export, and checks that nothing was locked out or lost.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 400
	logs := &logBuffer{}
	path := t.TempDir() + "/log.db"
	// A small queue, so back-pressure happens; a long timeout, so nothing is dropped.
	db, err := Open(path, Options{QueueSize: 64, BatchSize: 32, EnqueueTimeout: time.Minute, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, 100)
	for r := range 3 {
		wg.Go(func() {
			for !done.Load() {
				var err error
				switch r {
				case 0:
					_, err = db.Stats(ctx, StatsOptions{})
				case 1:
					err = db.Export(ctx, discardWriter{}, "jsonl", time.Time{})
				case 2:
					_, err = db.Unanswered(ctx, time.Time{}, 5)
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
			}
		})
	}
	var producers sync.WaitGroup
	for w := range writers {
		producers.Go(func() {
			for i := range perWriter {
				q := testQuery(w*perWriter + i)
				q.ID = fmt.Sprintf("w%d-q%d", w, i)
				if err := db.Record(q); err != nil {
					errs <- err
					return
				}
				if i%4 == 0 {
					if err := db.RecordFeedback(bot.Feedback{QueryID: q.ID, User: "voter", Vote: bot.VoteDown}); err != nil {
						errs <- err
						return
					}
				}
				if i%50 == 0 {
					if err := db.RecordAdmin(bot.AdminAction{Action: "stats", User: "admin", Result: "ok"}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	producers.Wait()
	done.Store(true)
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := db.Dropped(); n != 0 {
		t.Errorf("Dropped() = %d, want 0", n)
	}
	if l := logs.String(); strings.Contains(l, "locked") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
		t.Errorf("log shows trouble:\n%s", l)
	}
	raw := rawDB(t, path)
	for _, c := range []struct {
		table string
		want  int
	}{
		{"queries", writers * perWriter},
		{"feedback", writers * perWriter / 4},
		{"admin_actions", writers * perWriter / 50},
	} {
		if got := count(t, raw, `SELECT count(*) FROM `+c.table); got != c.want {
			t.Errorf("%d rows in %s after Close, want %d", got, c.table, c.want)
		}
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
