package storage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
)

// fileBytes returns the bytes of the log and of its WAL, if any.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestUserSalt(t *testing.T) {
	t.Parallel()
	const alice, bob, carol = "alice-7734921", "bob-5518203", "carol-9921774"
	salt := []byte("a secret salt of the deployment")
	write := func(t *testing.T, opts Options) string {
		path := filepath.Join(t.TempDir(), "log.db")
		db, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		q := testQuery(1)
		q.User, q.Chat = alice, alice // a Telegram private chat: chat id = user id
		record(t, db, q)
		if err := db.RecordFeedback(bot.Feedback{QueryID: q.ID, User: bob, Vote: bot.VoteUp}); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordAdmin(bot.AdminAction{User: carol, Action: "stats", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("with salt", func(t *testing.T) {
		path := write(t, Options{UserSalt: salt})
		data := fileBytes(t, path)
		for _, id := range []string{alice, bob, carol} {
			if bytes.Contains(data, []byte(id)) {
				t.Errorf("raw user id %q is in the file", id)
			}
		}
		mac := func(id string) string {
			h := hmac.New(sha256.New, salt)
			h.Write([]byte(id))
			return hex.EncodeToString(h.Sum(nil))
		}
		raw := rawDB(t, path)
		for _, c := range []struct{ query, want string }{
			{`SELECT user FROM queries`, mac(alice)},
			{`SELECT chat FROM queries`, mac(alice)},
			{`SELECT user FROM feedback`, mac(bob)},
			{`SELECT user FROM admin_actions`, mac(carol)},
		} {
			var got string
			if err := raw.QueryRow(c.query).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s = %s, want HMAC-SHA256 %s", c.query, got, c.want)
			}
		}
	})

	t.Run("without salt", func(t *testing.T) {
		// The scan above would see the ids if they were there.
		data := fileBytes(t, write(t, Options{}))
		for _, id := range []string{alice, bob, carol} {
			if !bytes.Contains(data, []byte(id)) {
				t.Errorf("raw user id %q is not in the file without a salt", id)
			}
		}
	})
}

func TestForgetUser(t *testing.T) {
	t.Parallel()
	for _, salt := range [][]byte{nil, []byte("salt")} {
		t.Run(fmt.Sprintf("salt=%q", salt), func(t *testing.T) {
			t.Parallel()
			db, path, _ := openTest(t, Options{UserSalt: salt})
			ctx := context.Background()
			var aliceQ, bobQ []string
			for i := range 6 {
				q := testQuery(i)
				q.User = "alice"
				if i%2 == 1 {
					q.User = "bob"
					bobQ = append(bobQ, q.ID)
				} else {
					aliceQ = append(aliceQ, q.ID)
				}
				record(t, db, q)
			}
			votes := []bot.Feedback{
				{QueryID: aliceQ[0], User: "bob", Vote: bot.VoteUp},   // bob's vote on alice's query: goes with it
				{QueryID: bobQ[0], User: "alice", Vote: bot.VoteDown}, // alice's vote: goes
				{QueryID: bobQ[1], User: "bob", Vote: bot.VoteUp},     // stays
			}
			for _, v := range votes {
				if err := db.RecordFeedback(v); err != nil {
					t.Fatal(err)
				}
			}
			for _, u := range []string{"alice", "bob"} {
				if err := db.RecordAdmin(bot.AdminAction{User: u, Action: "stats"}); err != nil {
					t.Fatal(err)
				}
			}
			// No Flush: ForgetUser queues behind the records and must see them.
			n, err := db.ForgetUser(ctx, "alice")
			if err != nil {
				t.Fatalf("ForgetUser = %v", err)
			}
			if want := int64(3 + 1 + 1 + 1); n != want { // queries, bob's vote on them, alice's vote, admin action
				t.Errorf("ForgetUser deleted %d rows, want %d", n, want)
			}
			raw := rawDB(t, path)
			for _, c := range []struct {
				table string
				want  int
			}{{"queries", 3}, {"feedback", 1}, {"admin_actions", 1}} {
				if got := count(t, raw, `SELECT count(*) FROM `+c.table); got != c.want {
					t.Errorf("%d rows left in %s, want %d (bob's)", got, c.table, c.want)
				}
			}
			if n, err := db.ForgetUser(ctx, "alice"); n != 0 || err != nil {
				t.Errorf("ForgetUser again = %d, %v; want 0, nil", n, err)
			}
			if _, err := db.ForgetUser(ctx, ""); err == nil {
				t.Error("ForgetUser(\"\") = nil error, want one")
			}
		})
	}
}

// TestForgetUserInChunks forgets a user whose rows span many scan chunks while records
// keep arriving.
func TestForgetUserInChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50,000 rows")
	}
	t.Parallel()
	db, path, _ := openTest(t, Options{EnqueueTimeout: time.Minute}) // more records than the queue holds
	const n = 2*forgetChunk + 5000
	targets := 0
	for i := range n {
		q := testQuery(i)
		q.ID = seqID(i)
		q.User = "bulk"
		if i%1000 == 0 {
			q.User = "target"
			targets++
		}
		record(t, db, q)
	}
	done := make(chan struct{})
	go func() { // concurrent records of others
		defer close(done)
		for i := n; i < n+2000; i++ {
			q := testQuery(i)
			q.ID = seqID(i)
			q.User = "other"
			if err := db.Record(q); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got, err := db.ForgetUser(context.Background(), "target")
	<-done
	if err != nil || got != int64(targets) {
		t.Errorf("ForgetUser = %d, %v; want %d, nil", got, err, targets)
	}
	flush(t, db)
	raw := rawDB(t, path)
	if left := count(t, raw, `SELECT count(*) FROM queries WHERE user = 'target'`); left != 0 {
		t.Errorf("%d of target's rows left", left)
	}
	if total := count(t, raw, `SELECT count(*) FROM queries`); total != n+2000-targets {
		t.Errorf("%d rows in all, want %d", total, n+2000-targets)
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	db, path, _ := openTest(t, Options{})
	ctx := context.Background()
	cut := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// 5,000 old queries (more than one purge chunk), 10 new, votes and admin actions.
	const old = 5000
	for i := range old + 10 {
		q := testQuery(i)
		q.Time = cut.Add(-time.Duration(old-i) * time.Second)
		if i >= old {
			q.Time = cut.Add(time.Duration(i) * time.Second)
		}
		record(t, db, q)
		if i == 0 || i == old {
			// A vote cast after the cut on an old query goes with its query.
			if err := db.RecordFeedback(bot.Feedback{QueryID: q.ID, User: "v", Vote: bot.VoteUp, Time: cut.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, at := range []time.Time{cut.Add(-time.Hour), cut.Add(time.Hour)} {
		if err := db.RecordAdmin(bot.AdminAction{Time: at, Action: "reload"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.Purge(ctx, cut)
	if err != nil {
		t.Fatalf("Purge = %v", err)
	}
	if want := int64(old + 1 + 1); n != want {
		t.Errorf("Purge deleted %d rows, want %d", n, want)
	}
	raw := rawDB(t, path)
	for _, c := range []struct {
		table string
		want  int
	}{{"queries", 10}, {"feedback", 1}, {"admin_actions", 1}} {
		if got := count(t, raw, `SELECT count(*) FROM `+c.table); got != c.want {
			t.Errorf("%d rows left in %s, want %d", got, c.table, c.want)
		}
	}
	if got := count(t, raw, `SELECT count(*) FROM queries WHERE time < ?`, cut.UnixMicro()); got != 0 {
		t.Errorf("%d queries older than the cut left", got)
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log.db")
	logs := &logBuffer{}

	// Rows of two hours ago and of now; a log that keeps one hour purges at Open.
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	oldQ, newQ := testQuery(1), testQuery(2)
	oldQ.Time, newQ.Time = time.Now().Add(-2*time.Hour), time.Now()
	record(t, db, oldQ)
	record(t, db, newQ)
	db.Close()

	db, err = Open(path, Options{Retain: time.Hour, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the purge at open", func() bool {
		s, err := db.Stats(context.Background(), StatsOptions{})
		return err == nil && s.Total == 1
	})
	db.Close()
	if !strings.Contains(logs.String(), "purged old rows") {
		t.Errorf("the purge was not logged:\n%s", logs)
	}

	// A short retention purges rows as they age, on its schedule.
	db, err = Open(path, Options{Retain: 200 * time.Millisecond, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fresh := testQuery(3)
	fresh.Time = time.Now()
	record(t, db, fresh)
	waitFor(t, "the scheduled purge", func() bool {
		s, err := db.Stats(context.Background(), StatsOptions{})
		return err == nil && s.Total == 0
	})
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
