// Package slack is scobot's Slack adapter: the slash command (/sco by default), mentions
// in channels and direct messages, answered with Block Kit and buttons, over HTTP (the
// Events API, slash command and interactivity endpoints) or over Socket Mode.
//
// Every HTTP request is verified before anything reads it: the v0 signature over the
// raw body, in constant time, with a five-minute timestamp window and a body cap;
// whatever fails gets 401 and changes nothing. Slash commands are answered within
// Slack's 3-second limit (a slow answer follows through response_url); events and
// button clicks are acknowledged at once and handled by background workers, and events
// redelivered by Slack are handled once (by event_id, in bounded memory). Socket Mode
// acknowledges every envelope and watches the connection: one that goes quiet is
// closed and reopened, and Ready says so meanwhile.
//
// The package wraps github.com/slack-go/slack for the Web API and the payload types and
// github.com/gorilla/websocket for Socket Mode; the bot itself is the platform-neutral
// core in package bot.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/scobot/scobot/bot"
)

// Handler is what the adapter needs from the bot core (*bot.Core implements it).
type Handler interface {
	Handle(ctx context.Context, m bot.Message) bot.Reply
	Vote(p bot.Platform, user, queryID string, v bot.Vote) (string, error)
}

var _ Handler = (*bot.Core)(nil)

// Defaults of the adapter's timing and sizes; tests shorten some of them.
const (
	// answerWithin is how long a slash command waits for the core before it answers
	// "working on it" and sends the answer through response_url instead: Slack gives
	// up after 3 s, network included.
	defaultAnswerWithin = 2 * time.Second
	// jobTimeout bounds one background job: handling an event or a click, Web API
	// calls and their 429 waits included.
	defaultJobTimeout = 2 * time.Minute
	// drainWithin is how long Run keeps working through queued jobs after its context
	// ends; jobs still queued after that are dropped and counted in the log.
	defaultDrainWithin = 5 * time.Second
	defaultWorkers     = 8
	defaultQueueSize   = 1024
	// Event ids are kept an hour, longer than Slack's last retry (about 5 minutes
	// after the first attempt) and its 30,000 events an hour per workspace.
	eventTTL    = time.Hour
	maxEventIDs = 100_000
	// Trigger ids (one per slash command or click) are kept past the 5-minute window in
	// which a captured request still verifies, so a replay is not answered twice.
	triggerTTL    = 6 * time.Minute
	maxTriggerIDs = 50_000
)

// Run states.
const (
	stateNew int32 = iota
	stateRunning
	stateStopped
)

// Bot is the Slack adapter. Register its HTTP endpoints, then Run it; it is safe for
// concurrent use.
type Bot struct {
	cfg    Config
	h      Handler
	log    *slog.Logger
	secret []byte
	admins map[string]bool
	client *slack.Client // Web API, with the app-level token for Socket Mode
	api    *slack.Client // the same client when there is a bot token, else nil
	hc     *http.Client  // response_url posts
	redact *strings.Replacer

	events   *dedupe // event_id of events: Slack's retries
	triggers *dedupe // trigger_id of slash commands and clicks: replays

	// queue holds background jobs; mu orders sends on it against Run's stop, so no job
	// is queued after the workers have drained it.
	queue chan func(context.Context)
	mu    sync.RWMutex
	state atomic.Int32

	sock socketStatus

	refused rate.Sometimes // at most one log line a second about refused requests
	noToken sync.Once
	dropped atomic.Int64 // jobs dropped at shutdown

	// Timing and sizes; New sets the defaults and tests shorten them.
	now                    func() time.Time
	maxBody                int64
	answerWithin           time.Duration
	apiTimeout             time.Duration
	jobTimeout             time.Duration
	drainWithin            time.Duration
	workers                int
	pingEvery, quietAfter  time.Duration
	minBackoff, maxBackoff time.Duration
}

// New returns a Slack adapter for cfg that answers with h. It needs a signing secret
// (HTTP endpoints) or an app token (Socket Mode); a bot token is needed to answer
// mentions and direct messages.
func New(cfg Config, h Handler) (*Bot, error) {
	if h == nil {
		return nil, errors.New("new slack bot: no handler")
	}
	if cfg.Command == "" {
		cfg.Command = DefaultCommand
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new slack bot: %w", err)
	}
	if !cfg.Enabled() {
		return nil, errors.New("new slack bot: set SLACK_SIGNING_SECRET for the HTTP endpoints or SLACK_APP_TOKEN for Socket Mode")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Bot{
		cfg:          cfg,
		h:            h,
		log:          log.With("component", "slack"),
		secret:       []byte(cfg.SigningSecret),
		admins:       make(map[string]bool, len(cfg.AdminIDs)),
		hc:           &http.Client{Timeout: apiTimeout},
		events:       newDedupe(eventTTL, maxEventIDs),
		triggers:     newDedupe(triggerTTL, maxTriggerIDs),
		queue:        make(chan func(context.Context), defaultQueueSize),
		refused:      rate.Sometimes{Interval: time.Second},
		now:          time.Now,
		maxBody:      defaultMaxBody,
		answerWithin: defaultAnswerWithin,
		apiTimeout:   apiTimeout,
		jobTimeout:   defaultJobTimeout,
		drainWithin:  defaultDrainWithin,
		workers:      defaultWorkers,
		pingEvery:    defaultPingEvery,
		quietAfter:   defaultQuietAfter,
		minBackoff:   time.Second,
		maxBackoff:   time.Minute,
	}
	for _, id := range cfg.AdminIDs {
		b.admins[id] = true
	}
	var secrets []string
	for _, s := range []string{cfg.SigningSecret, cfg.BotToken, cfg.AppToken} {
		if s != "" {
			secrets = append(secrets, s, "[redacted]")
		}
	}
	b.redact = strings.NewReplacer(secrets...)
	opts := []slack.Option{slack.OptionHTTPClient(b.hc)}
	if u := cfg.apiURL(); u != "" {
		opts = append(opts, slack.OptionAPIURL(u))
	}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	b.client = slack.New(cfg.BotToken, opts...)
	if cfg.BotToken != "" {
		b.api = b.client
	} else {
		b.log.Warn("SLACK_BOT_TOKEN is not set: mentions and direct messages will not be answered")
	}
	if cfg.SocketMode() && cfg.SigningSecret != "" {
		b.log.Info("SLACK_APP_TOKEN is set: using Socket Mode; the HTTP endpoints stay off")
	}
	return b, nil
}

// Register adds the HTTP endpoints to mux: POST /slack/commands (the slash command),
// /slack/interactive (button clicks) and /slack/events (the Events API). In Socket Mode
// Slack reaches the bot over the WebSocket instead, and nothing is registered.
func (b *Bot) Register(mux *http.ServeMux) {
	if b.cfg.SocketMode() {
		return
	}
	mux.HandleFunc("POST /slack/commands", b.serveCommand)
	mux.HandleFunc("POST /slack/interactive", b.serveInteractive)
	mux.HandleFunc("POST /slack/events", b.serveEvents)
}

// Run runs the background workers that handle events and clicks and, with an app
// token, the Socket Mode connection, until ctx ends. Then it stops taking work,
// finishes what is queued (for a few seconds at most) and returns nil. It can be called
// once.
func (b *Bot) Run(ctx context.Context) error {
	if !b.state.CompareAndSwap(stateNew, stateRunning) {
		return errors.New("slack: Run called twice")
	}
	// Jobs outlive ctx by up to drainWithin: an event already acknowledged deserves its
	// answer even during a shutdown.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() { b.work(base, stop) })
	}
	if b.cfg.SocketMode() {
		b.runSocket(ctx)
	} else {
		<-ctx.Done()
	}
	b.mu.Lock()
	b.state.Store(stateStopped)
	b.mu.Unlock()
	t := time.AfterFunc(b.drainWithin, cancelBase)
	defer t.Stop()
	close(stop)
	wg.Wait()
	if n := b.dropped.Load(); n > 0 {
		b.log.Warn("slack jobs dropped at shutdown", "count", n)
	}
	return nil
}

// Ready returns nil when the adapter can take work, or why not: Run has not started or
// has ended, or the Socket Mode connection is down or has gone quiet.
func (b *Bot) Ready() error {
	switch b.state.Load() {
	case stateNew:
		return errors.New("slack: not started")
	case stateStopped:
		return errors.New("slack: stopped")
	}
	if !b.cfg.SocketMode() {
		return nil
	}
	return b.sock.ready(b.now(), b.quietAfter)
}

// work runs jobs until stop is closed, then drains the queue.
func (b *Bot) work(base context.Context, stop <-chan struct{}) {
	for {
		select {
		case job := <-b.queue:
			b.runJob(base, job)
		case <-stop:
			for {
				select {
				case job := <-b.queue:
					if base.Err() != nil {
						b.dropped.Add(1)
						continue
					}
					b.runJob(base, job)
				default:
					return
				}
			}
		}
	}
}

func (b *Bot) runJob(base context.Context, job func(context.Context)) {
	ctx, cancel := context.WithTimeout(base, b.jobTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("slack job panicked", "panic", b.redact.Replace(fmt.Sprint(p)))
		}
	}()
	job(ctx)
}

// enqueue queues a background job. It refuses when the queue is full or Run has
// stopped, so that the caller can refuse the delivery and let Slack retry it.
func (b *Bot) enqueue(job func(context.Context), wait time.Duration) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.state.Load() == stateStopped {
		return false
	}
	select {
	case b.queue <- job:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case b.queue <- job:
		return true
	case <-t.C:
		return false
	}
}

// handle asks the core, turning a panic into an apology rather than a crash.
func (b *Bot) handle(ctx context.Context, m bot.Message) (r bot.Reply) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("slack handler panicked", "panic", b.redact.Replace(fmt.Sprint(p)))
			r = bot.Reply{Kind: bot.ReplyError, Text: "Something went wrong on my side. Please try again."}
		}
	}()
	return b.h.Handle(ctx, m)
}

// coreMessage builds the core's message for a user's command.
func (b *Bot) coreMessage(team, channel, user string, c command) bot.Message {
	return bot.Message{
		Platform:  bot.PlatformSlack,
		Workspace: team,
		Chat:      channel,
		User:      user,
		Command:   c.cmd,
		Text:      c.text,
		Admin:     user != "" && b.admins[user],
	}
}

// render renders a reply with this bot's command name.
func (b *Bot) render(r bot.Reply) message { return render(r, b.cfg.Command) }

// errText is err's text with every configured secret removed, for logs. The adapter
// never puts a secret into an error itself; this guards against a library that might.
func (b *Bot) errText(err error) string {
	if err == nil {
		return ""
	}
	return b.redact.Replace(err.Error())
}
