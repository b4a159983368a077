package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/scobot/scobot/knowledge"
)

// Command is what a message asks the bot to do. Adapters turn their platform's syntax
// ("/ask@ScoBot", "/sco help", a button) into one of these.
type Command string

// The commands, the same on every platform.
const (
	CmdAsk        Command = "ask"   // answer Message.Text; plain text is a question too
	CmdStart      Command = "start" // greet; with Text an entry id (a deep link), show it
	CmdHelp       Command = "help"
	CmdTopics     Command = "topics"
	CmdEntry      Command = "entry"   // show the entry whose id is Text (a suggestion tapped)
	CmdSection    Command = "section" // show the section's overview entry, Text is the section id
	CmdReload     Command = "reload"  // admins only
	CmdStats      Command = "stats"   // admins only
	CmdUnanswered Command = "unanswered"
)

// Message is one thing a user said to the bot, already translated by an adapter.
type Message struct {
	Platform  Platform
	Workspace string
	Chat      string
	User      string
	Command   Command // CmdAsk when empty
	Text      string  // the question, or the command's argument
	Admin     bool    // the adapter's configuration names this user an admin
	// RateKey is whom the rate limit counts, when that is not User: the web adapter
	// counts a client address, since its user ids are chosen by the client.
	RateKey string
}

// ReplyKind says what a Reply holds.
type ReplyKind int

// The kinds of reply.
const (
	ReplyAnswer      ReplyKind = iota // Answer is set
	ReplyDecline                      // the article does not cover it; Suggestions may be set
	ReplyHelp                         // Text
	ReplyTopics                       // Topics
	ReplyStats                        // Stats
	ReplyUnanswered                   // Unanswered
	ReplyReload                       // Text says what happened; Problems lists a bad knowledge base's errors
	ReplyRateLimited                  // Text
	ReplyRefused                      // Text: an admin command from someone else
	ReplyError                        // Text: something failed inside; details are logged
)

// Reply is what the bot answers, for an adapter to render.
type Reply struct {
	Kind        ReplyKind
	QueryID     string // set on answers and declines, for feedback buttons
	Question    string
	Answer      *AnswerView
	Suggestions []EntryRef
	Ambiguous   bool
	Score       float64 // the confidence of a declined question's best candidate
	Why         string
	Text        string
	Topics      []Topic
	Stats       *Stats
	Unanswered  []Count
	Problems    []string
	KBVersion   string
}

// AnswerView is an answer entry as adapters show it. Body and the other texts are
// Markdown from the knowledge base; adapters escape and render them.
type AnswerView struct {
	EntryID        string
	Section        string
	SectionHeading string
	Title          string
	Body           string
	Quote          string
	Score          float64
}

// EntryRef names an entry, for buttons and lists.
type EntryRef struct {
	ID      string
	Section string
	Title   string
	Score   float64
}

// Topic is one article section and its entries.
type Topic struct {
	Section string
	Heading string
	Entries []EntryRef
}

// QueryLog is where the core records what happens. The storage package implements it.
type QueryLog interface {
	Record(Query) error
	RecordFeedback(Feedback) error
	RecordAdmin(AdminAction) error
}

// StatsSource gives the statistics admins ask for. The storage package implements it.
type StatsSource interface {
	BotStats(ctx context.Context, since time.Time, limit int) (*Stats, error)
	Unanswered(ctx context.Context, since time.Time, limit int) ([]Count, error)
}

// Reloader reloads the knowledge base. It returns the new version, or the problems of a
// knowledge base that was refused (the old one stays live).
type Reloader interface {
	Reload(ctx context.Context, by string) (version string, problems []string, err error)
}

// Observer is told about every query, for metrics.
type Observer interface {
	ObserveQuery(p Platform, outcome string, latency time.Duration)
}

// KBHolder holds the live knowledge base. Swapping it is atomic: a question in flight
// finishes on the knowledge base it started with.
type KBHolder struct {
	p atomic.Pointer[knowledge.KB]
}

// Load returns the live knowledge base.
func (h *KBHolder) Load() *knowledge.KB { return h.p.Load() }

// Store makes kb the live knowledge base.
func (h *KBHolder) Store(kb *knowledge.KB) { h.p.Store(kb) }

// Config configures a Core.
type Config struct {
	KB       *KBHolder
	Log      QueryLog    // required
	Stats    StatsSource // nil: the stats commands say they are unavailable
	Reloader Reloader    // nil: reload says there is nothing to reload
	Observer Observer    // nil: no metrics
	Logger   *slog.Logger

	// RatePerMinute and Burst set each user's token bucket; zero RatePerMinute turns
	// the limit off.
	RatePerMinute float64
	Burst         int
}

// Core is the platform-neutral bot: every adapter hands it Messages and renders the
// Replies. It is safe for concurrent use.
type Core struct {
	cfg     Config
	log     *slog.Logger
	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
	now     func() time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewCore returns a Core.
func NewCore(cfg Config) (*Core, error) {
	if cfg.KB == nil || cfg.KB.Load() == nil {
		return nil, errors.New("new bot core: no knowledge base")
	}
	if cfg.Log == nil {
		return nil, errors.New("new bot core: no query log")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 5
	}
	return &Core{cfg: cfg, log: cfg.Logger, buckets: map[string]*bucket{}, now: time.Now}, nil
}

// KB returns the live knowledge base.
func (c *Core) KB() *knowledge.KB { return c.cfg.KB.Load() }

const helpText = `I answer questions about the OpEd "Embracing Leadership: Kazakhstan's Presidency Of Shanghai Cooperation Organization In 2023" by Sneha Yadav.

Ask in your own words, for example "When does Kazakhstan chair the SCO?" or "Which transport corridors are mentioned?".

Commands: help, topics (what the article covers), ask QUESTION. Vote on an answer to tell us if it helped.`

// Handle answers one message.
func (c *Core) Handle(ctx context.Context, m Message) Reply {
	if m.Command == "" {
		m.Command = CmdAsk
	}
	switch m.Command {
	case CmdAsk, CmdEntry, CmdSection:
		if !c.allow(m) {
			return Reply{Kind: ReplyRateLimited, Text: "You're asking faster than I can keep up with. Please wait a moment and try again."}
		}
	}
	switch m.Command {
	case CmdAsk:
		if strings.TrimSpace(m.Text) == "" {
			return Reply{Kind: ReplyHelp, Text: "Ask me a question about the article, for example: When does Kazakhstan chair the SCO?"}
		}
		return c.ask(m)
	case CmdStart:
		if id := strings.TrimSpace(m.Text); id != "" {
			if _, ok := c.KB().Entry(id); ok {
				return c.entry(m, id)
			}
		}
		return Reply{Kind: ReplyTopics, Text: "Hello! " + helpText, Topics: c.topics()}
	case CmdHelp:
		return Reply{Kind: ReplyHelp, Text: helpText}
	case CmdTopics:
		return Reply{Kind: ReplyTopics, Text: "The article covers these topics:", Topics: c.topics()}
	case CmdEntry:
		return c.entry(m, strings.TrimSpace(m.Text))
	case CmdSection:
		return c.section(m, strings.TrimSpace(m.Text))
	case CmdReload, CmdStats, CmdUnanswered:
		return c.admin(ctx, m)
	}
	return Reply{Kind: ReplyHelp, Text: "I don't know that command. " + helpText}
}

// ask answers a question and records it.
func (c *Core) ask(m Message) Reply {
	kb := c.KB()
	start := c.now()
	a := kb.Answer(m.Text)
	latency := c.now().Sub(start)
	r := Reply{Question: m.Text, Why: a.Why.String(), KBVersion: kb.Version, Ambiguous: a.Ambiguous}
	for _, s := range a.Suggestions {
		r.Suggestions = append(r.Suggestions, EntryRef{ID: s.Entry.ID, Section: s.Entry.Section, Title: s.Entry.Title, Score: s.Score})
	}
	q := Query{
		Platform: m.Platform, Workspace: m.Workspace, Chat: m.Chat, User: m.User,
		Question: m.Text, Answered: a.Answered, Score: a.Score, KBVersion: kb.Version, Latency: latency,
	}
	outcome := "declined"
	if a.Answered {
		r.Kind = ReplyAnswer
		r.Answer = view(a.Entry, a.Score)
		q.EntryID, q.Section = a.Entry.ID, a.Entry.Section
		outcome = "answered"
	} else {
		r.Kind = ReplyDecline
		r.Text = "The article doesn't cover that."
		r.Score = a.Score
	}
	for _, s := range r.Suggestions {
		q.Suggestions = append(q.Suggestions, s.ID)
	}
	r.QueryID = c.record(q, outcome)
	return r
}

// entry shows one entry directly: a deep link or a tapped suggestion. It is recorded as
// a query whose question is the entry's title, answered with full confidence.
func (c *Core) entry(m Message, id string) Reply {
	kb := c.KB()
	e, ok := kb.Entry(id)
	if !ok {
		return Reply{Kind: ReplyDecline, Text: "That answer no longer exists. Try asking your question again.", KBVersion: kb.Version}
	}
	r := Reply{Kind: ReplyAnswer, Question: e.Title, Answer: view(e, 1), KBVersion: kb.Version, Why: "chosen directly"}
	r.QueryID = c.record(Query{
		Platform: m.Platform, Workspace: m.Workspace, Chat: m.Chat, User: m.User,
		Question: e.Title, Answered: true, EntryID: e.ID, Section: e.Section, Score: 1, KBVersion: kb.Version,
	}, "answered")
	return r
}

// section shows the overview entry of a section: the "read the whole section" button.
func (c *Core) section(m Message, section string) Reply {
	kb := c.KB()
	entries := kb.EntriesInSection(section)
	if len(entries) == 0 {
		return Reply{Kind: ReplyDecline, Text: "I have nothing on that section.", KBVersion: kb.Version}
	}
	// Prefer the entry that covers the whole section; it is the one titled after it or,
	// by convention, named section-ID.
	pick := entries[0]
	for _, e := range entries {
		if e.ID == "section-"+section {
			pick = e
		}
	}
	return c.entry(m, pick.ID)
}

func (c *Core) record(q Query, outcome string) string {
	q.ID = NewQueryID()
	q.Time = c.now().UTC()
	if err := c.cfg.Log.Record(q); err != nil {
		c.log.Error("record query", "platform", q.Platform, "err", err)
	}
	if c.cfg.Observer != nil {
		c.cfg.Observer.ObserveQuery(q.Platform, outcome, q.Latency)
	}
	return q.ID
}

func view(e *knowledge.Entry, score float64) *AnswerView {
	sec, _ := knowledge.SectionByID(e.Section)
	return &AnswerView{EntryID: e.ID, Section: e.Section, SectionHeading: sec.Heading, Title: e.Title, Body: e.Body, Quote: e.Quote, Score: score}
}

func (c *Core) topics() []Topic {
	kb := c.KB()
	var out []Topic
	for _, s := range knowledge.Sections {
		t := Topic{Section: s.ID, Heading: s.Heading}
		for _, e := range kb.EntriesInSection(s.ID) {
			t.Entries = append(t.Entries, EntryRef{ID: e.ID, Section: e.Section, Title: e.Title})
		}
		out = append(out, t)
	}
	return out
}

// Vote records a user's vote on a query's answer. It returns a short sentence for the
// user.
func (c *Core) Vote(p Platform, user, queryID string, v Vote) (string, error) {
	if v != VoteUp && v != VoteDown {
		return "", errors.New("vote must be up or down")
	}
	if queryID == "" {
		return "", errors.New("vote needs a query id")
	}
	if err := c.cfg.Log.RecordFeedback(Feedback{QueryID: queryID, Platform: p, User: user, Vote: v, Time: c.now().UTC()}); err != nil {
		return "", fmt.Errorf("record vote: %w", err)
	}
	if v == VoteUp {
		return "Thanks for the feedback!", nil
	}
	return "Thanks — we'll use this to improve the answers.", nil
}

// admin runs an admin command, or refuses and records the attempt.
func (c *Core) admin(ctx context.Context, m Message) Reply {
	kbv := c.KB().Version
	act := AdminAction{Time: c.now().UTC(), Platform: m.Platform, User: m.User, Action: string(m.Command), KBVersion: kbv}
	if !m.Admin {
		act.Result = "refused"
		c.recordAdmin(act)
		c.log.Warn("admin command refused", "platform", m.Platform, "command", m.Command)
		return Reply{Kind: ReplyRefused, Text: "Sorry, only admins can use that command."}
	}
	var r Reply
	switch m.Command {
	case CmdReload:
		r = c.reload(ctx, m)
		act.Result = r.Text
		act.KBVersion = c.KB().Version
	case CmdStats:
		if c.cfg.Stats == nil {
			r = Reply{Kind: ReplyError, Text: "Statistics are not available."}
			break
		}
		st, err := c.cfg.Stats.BotStats(ctx, c.now().Add(-7*24*time.Hour), 5)
		if err != nil {
			c.log.Error("stats", "err", err)
			r = Reply{Kind: ReplyError, Text: "I couldn't read the statistics. The error is in the log."}
			break
		}
		r = Reply{Kind: ReplyStats, Stats: st, Text: "Last 7 days:"}
	case CmdUnanswered:
		if c.cfg.Stats == nil {
			r = Reply{Kind: ReplyError, Text: "Statistics are not available."}
			break
		}
		un, err := c.cfg.Stats.Unanswered(ctx, c.now().Add(-30*24*time.Hour), 10)
		if err != nil {
			c.log.Error("unanswered", "err", err)
			r = Reply{Kind: ReplyError, Text: "I couldn't read the unanswered questions. The error is in the log."}
			break
		}
		r = Reply{Kind: ReplyUnanswered, Unanswered: un, Text: "Most asked unanswered questions, last 30 days:"}
	}
	if act.Result == "" {
		act.Result = "ok"
		if r.Kind == ReplyError {
			act.Result = r.Text
		}
	}
	c.recordAdmin(act)
	return r
}

func (c *Core) reload(ctx context.Context, m Message) Reply {
	if c.cfg.Reloader == nil {
		return Reply{Kind: ReplyReload, Text: "These answers are built in; there is nothing to reload.", KBVersion: c.KB().Version}
	}
	version, problems, err := c.cfg.Reloader.Reload(ctx, string(m.Platform)+":"+m.User)
	if err != nil {
		r := Reply{Kind: ReplyReload, Problems: problems, KBVersion: c.KB().Version,
			Text: fmt.Sprintf("The knowledge base has errors, so the answers were not changed (version %s stays live).", c.KB().Version)}
		if len(problems) == 0 {
			r.Problems = []string{err.Error()}
		}
		return r
	}
	return Reply{Kind: ReplyReload, Text: "Reloaded: knowledge base version " + version + ".", KBVersion: version}
}

func (c *Core) recordAdmin(a AdminAction) {
	if err := c.cfg.Log.RecordAdmin(a); err != nil {
		c.log.Error("record admin action", "err", err)
	}
}

// maxBuckets bounds the rate limiter's memory: about 250 bytes a user.
const maxBuckets = 100_000

// allow takes a token from the user's bucket.
func (c *Core) allow(m Message) bool {
	if c.cfg.RatePerMinute <= 0 {
		return true
	}
	key := string(m.Platform) + "\x00" + m.Workspace + "\x00" + m.User
	if m.RateKey != "" {
		key = string(m.Platform) + "\x00" + m.RateKey
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Forget idle users now and then, so the map does not grow without bound.
	if now.Sub(c.sweep) > time.Minute {
		for k, b := range c.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(c.buckets, k)
			}
		}
		c.sweep = now
	}
	b, ok := c.buckets[key]
	if !ok && len(c.buckets) >= maxBuckets {
		// Too many users at once to remember them all: rather than grow without bound,
		// a newcomer is let through unmetered until idle buckets are swept.
		return true
	}
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(c.cfg.RatePerMinute/60), c.cfg.Burst)}
		c.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
