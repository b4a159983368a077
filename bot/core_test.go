package bot_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
)

// fakeLog is an in-memory QueryLog and StatsSource.
type fakeLog struct {
	mu       sync.Mutex
	queries  []bot.Query
	votes    []bot.Feedback
	admin    []bot.AdminAction
	statsErr error
}

func (f *fakeLog) Record(q bot.Query) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return nil
}
func (f *fakeLog) RecordFeedback(v bot.Feedback) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.votes = append(f.votes, v)
	return nil
}
func (f *fakeLog) RecordAdmin(a bot.AdminAction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin = append(f.admin, a)
	return nil
}
func (f *fakeLog) BotStats(context.Context, time.Time, int) (*bot.Stats, error) {
	return &bot.Stats{Total: 7}, f.statsErr
}
func (f *fakeLog) Unanswered(context.Context, time.Time, int) ([]bot.Count, error) {
	return []bot.Count{{Key: "budget", Count: 3}}, f.statsErr
}

var (
	_ bot.QueryLog    = (*fakeLog)(nil)
	_ bot.StatsSource = (*fakeLog)(nil)
)

type fakeReloader struct{ err error }

func (r fakeReloader) Reload(context.Context, string) (string, []string, error) {
	if r.err != nil {
		return "", []string{"bad.md:3: error: unknown section"}, r.err
	}
	return "v2", nil, nil
}

func newCore(t *testing.T, cfg bot.Config) (*bot.Core, *fakeLog) {
	t.Helper()
	kb, err := knowledge.Default()
	if err != nil {
		t.Fatal(err)
	}
	log := &fakeLog{}
	cfg.KB = &bot.KBHolder{}
	cfg.KB.Store(kb)
	cfg.Log, cfg.Stats = log, log
	c, err := bot.NewCore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, log
}

func TestHandle(t *testing.T) {
	c, log := newCore(t, bot.Config{Reloader: fakeReloader{}})
	ctx := context.Background()
	tests := []struct {
		m    bot.Message
		want bot.ReplyKind
	}{
		{bot.Message{Text: "When does Kazakhstan chair the SCO?"}, bot.ReplyAnswer},
		{bot.Message{Text: "How do I bake bread?"}, bot.ReplyDecline},
		{bot.Message{Text: "   "}, bot.ReplyHelp},
		{bot.Message{Command: bot.CmdHelp}, bot.ReplyHelp},
		{bot.Message{Command: bot.CmdTopics}, bot.ReplyTopics},
		{bot.Message{Command: bot.CmdStart}, bot.ReplyTopics},
		{bot.Message{Command: bot.CmdStart, Text: "tourism"}, bot.ReplyAnswer},
		{bot.Message{Command: bot.CmdStart, Text: "no-such-entry"}, bot.ReplyTopics},
		{bot.Message{Command: bot.CmdEntry, Text: "tourism"}, bot.ReplyAnswer},
		{bot.Message{Command: bot.CmdEntry, Text: "gone"}, bot.ReplyDecline},
		{bot.Message{Command: bot.CmdSection, Text: "author"}, bot.ReplyAnswer},
		{bot.Message{Command: bot.CmdStats}, bot.ReplyRefused},
		{bot.Message{Command: bot.CmdStats, Admin: true}, bot.ReplyStats},
		{bot.Message{Command: bot.CmdUnanswered, Admin: true}, bot.ReplyUnanswered},
		{bot.Message{Command: bot.CmdReload, Admin: true}, bot.ReplyReload},
		{bot.Message{Command: "frobnicate"}, bot.ReplyHelp},
	}
	for _, tt := range tests {
		tt.m.Platform, tt.m.User = bot.PlatformTelegram, "u1"
		if got := c.Handle(ctx, tt.m); got.Kind != tt.want {
			t.Errorf("Handle(%+v).Kind = %v, want %v", tt.m, got.Kind, tt.want)
		}
	}
	if r := c.Handle(ctx, bot.Message{Platform: bot.PlatformTelegram, Command: bot.CmdSection, Text: "author"}); r.Answer == nil || r.Answer.EntryID != "section-author" {
		t.Errorf("section author shows %+v, want the section-author entry", r.Answer)
	}
	// Questions, entries shown and sections shown are all logged; the refusal is too.
	if len(log.queries) != 6 {
		t.Errorf("logged %d queries, want 6", len(log.queries))
	}
	for _, q := range log.queries {
		if q.ID == "" || q.KBVersion == "" || q.Platform != bot.PlatformTelegram || q.Time.IsZero() {
			t.Errorf("logged query lacks id, version, platform or time: %+v", q)
		}
	}
	var refused int
	for _, a := range log.admin {
		if a.Result == "refused" {
			refused++
		}
	}
	if refused != 1 || len(log.admin) != 4 {
		t.Errorf("admin actions = %+v, want 4 with 1 refused", log.admin)
	}
}

func TestReloadReportsProblems(t *testing.T) {
	c, log := newCore(t, bot.Config{Reloader: fakeReloader{err: errors.New("bad")}})
	r := c.Handle(context.Background(), bot.Message{Command: bot.CmdReload, Admin: true})
	if r.Kind != bot.ReplyReload || len(r.Problems) != 1 || r.Problems[0] != "bad.md:3: error: unknown section" {
		t.Errorf("reload of a bad knowledge base = %+v, want its problems", r)
	}
	if len(log.admin) != 1 || log.admin[0].Result == "ok" {
		t.Errorf("admin action = %+v, want a failed reload recorded", log.admin)
	}
}

func TestVote(t *testing.T) {
	c, log := newCore(t, bot.Config{})
	if _, err := c.Vote(bot.PlatformWeb, "u", "id", bot.VoteUp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vote(bot.PlatformWeb, "u", "id", 0); err == nil {
		t.Errorf("Vote(0): no error")
	}
	if _, err := c.Vote(bot.PlatformWeb, "u", "", bot.VoteDown); err == nil {
		t.Errorf("Vote without a query id: no error")
	}
	if len(log.votes) != 1 {
		t.Errorf("votes = %+v, want 1", log.votes)
	}
}

func TestRateLimitPerUser(t *testing.T) {
	c, _ := newCore(t, bot.Config{RatePerMinute: 1, Burst: 2})
	ctx := context.Background()
	var kinds []bot.ReplyKind
	for i := 0; i < 3; i++ {
		kinds = append(kinds, c.Handle(ctx, bot.Message{Platform: bot.PlatformSlack, User: "a", Text: "terrorism"}).Kind)
	}
	if kinds[2] != bot.ReplyRateLimited {
		t.Errorf("third question within the burst of 2 = %v, want rate limited", kinds[2])
	}
	if k := c.Handle(ctx, bot.Message{Platform: bot.PlatformSlack, User: "b", Text: "terrorism"}).Kind; k != bot.ReplyAnswer {
		t.Errorf("another user = %v, want an answer", k)
	}
	if k := c.Handle(ctx, bot.Message{Platform: bot.PlatformSlack, User: "a", Command: bot.CmdHelp}).Kind; k != bot.ReplyHelp {
		t.Errorf("help while limited = %v, want help: only questions are limited", k)
	}
}

func TestNewCoreNeedsKBAndLog(t *testing.T) {
	if _, err := bot.NewCore(bot.Config{}); err == nil {
		t.Errorf("NewCore without a knowledge base: no error")
	}
}
