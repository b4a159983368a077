// Package telegram is scobot's Telegram adapter: it receives updates by long polling or
// a webhook, turns them into bot.Messages for the core, and sends the core's replies
// back as HTML messages with inline buttons.
//
// It wraps github.com/go-telegram-bot-api/telegram-bot-api/v5 (v5.5.1, unmaintained)
// and works around its traps: its own update loop confirms an update only after it has
// been handled and keeps the last handled update_id in a StateStore; the HTTP client has
// timeouts and cancellation; setWebhook gets its secret_token through a raw request;
// 429s wait their retry_after; and the token, which the library puts in the URLs of its
// errors, is removed from every error and log line.
package telegram

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot"
)

// Handler is what the adapter needs from the bot core; *bot.Core implements it.
type Handler interface {
	Handle(ctx context.Context, m bot.Message) bot.Reply
	Vote(p bot.Platform, user, queryID string, v bot.Vote) (string, error)
}

// StateStore keeps small named values durably; *storage.DB implements it. The adapter
// keeps the last handled update_id there, so a restart neither loses nor repeats one.
type StateStore interface {
	State(ctx context.Context, key string) (string, bool, error)
	SetState(ctx context.Context, key, value string) error
}

var _ Handler = (*bot.Core)(nil)

// allowedUpdates is sent with every getUpdates and setWebhook: Telegram remembers the
// last list it was given, so leaving it out could keep an old, narrower one.
const allowedUpdates = `["message","callback_query"]`

const (
	pollLimit      = 100              // updates per getUpdates, Telegram's maximum
	batchWorkers   = 16               // chats handled at once from one polled batch
	handleTimeout  = 30 * time.Second // for one update, including the core's database reads
	seenWindow     = 4096             // recent update ids remembered to drop duplicates
	maxPollBackoff = 30 * time.Second
)

// Bot is a running Telegram adapter. Make one with New, then call Run.
type Bot struct {
	cfg     Config
	h       Handler
	st      StateStore
	log     *slog.Logger
	api     *tgbotapi.BotAPI
	client  *apiClient
	secrets redactor
	self    tgbotapi.User
	admins  map[int64]bool

	workspace string   // the bot's id: bot.Message.Workspace
	stateKey  string   // where the last handled update_id is kept
	secretSum [32]byte // SHA-256 of the webhook secret, compared in constant time

	out  *outbox
	seen *idSet // recently handled update ids

	// Polling: touched only by Run's goroutine.
	lastHandled int  // the highest update_id handled
	haveLast    bool // lastHandled is known (from the store or a batch)
	saved       int  // the value last written to the store

	// Webhook: the handler feeds queues that Run's workers drain.
	inMu      sync.RWMutex
	accepting bool
	queues    []chan tgbotapi.Update

	started atomic.Bool
	stopped atomic.Bool
	pollErr atomic.Pointer[error] // why polling is failing; nil when it works
}

// New connects to the Bot API: getMe (which checks the token), setMyCommands, and then
// deleteWebhook for long polling or setWebhook with the secret token for a webhook. In
// polling mode it reads the last handled update_id from st. Errors never contain the
// token.
func New(ctx context.Context, cfg Config, h Handler, st StateStore) (*Bot, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("telegram config: %w", err)
	}
	if h == nil {
		return nil, errors.New("telegram: no handler")
	}
	if cfg.WebhookURL == "" && st == nil {
		return nil, errors.New("telegram: long polling needs a state store for the last update id")
	}
	cfg = cfg.withDefaults()
	b := &Bot{
		cfg:       cfg,
		h:         h,
		st:        st,
		log:       cfg.Logger.With("platform", string(bot.PlatformTelegram)),
		secrets:   redactor{cfg.Token, cfg.WebhookSecret},
		admins:    map[int64]bool{},
		seen:      newIDSet(seenWindow),
		secretSum: sha256.Sum256([]byte(cfg.WebhookSecret)),
	}
	for _, id := range cfg.AdminIDs {
		b.admins[id] = true
	}
	b.client = newAPIClient(cfg.httpTimeout(), b.secrets)
	b.client.setCallContext(ctx) // start-up calls end with New's context

	err := b.call(ctx, "getMe", 3, func() error {
		api, err := tgbotapi.NewBotAPIWithClient(cfg.Token, cfg.APIEndpoint, b.client)
		b.api = api
		return err
	})
	if err != nil {
		return nil, err
	}
	b.self = b.api.Self
	if b.self.UserName == "" {
		b.log.Warn("getMe returned no username; commands addressed as /cmd@bot in groups will be ignored")
	}
	b.workspace = strconv.FormatInt(b.self.ID, 10)
	b.stateKey = "telegram." + b.workspace + ".last_update_id"

	b.setCommands(ctx)
	if cfg.WebhookURL != "" {
		if err := b.setWebhook(ctx); err != nil {
			return nil, err
		}
		b.queues = make([]chan tgbotapi.Update, webhookWorkers)
		for i := range b.queues {
			b.queues[i] = make(chan tgbotapi.Update, webhookQueue)
		}
		b.accepting = true
	} else {
		// getUpdates fails while a webhook is set, for instance after switching modes.
		err := b.call(ctx, "deleteWebhook", 3, func() error {
			_, err := b.api.Request(tgbotapi.DeleteWebhookConfig{DropPendingUpdates: false})
			return err
		})
		if err != nil {
			return nil, err
		}
		if err := b.loadOffset(ctx); err != nil {
			return nil, err
		}
	}

	b.out = newOutbox(b)
	b.client.setCallContext(b.out.ctx) // from now on calls live as long as the sends
	b.log.Info("connected", "bot", b.self.UserName, "mode", b.mode())
	return b, nil
}

func (b *Bot) mode() string {
	if b.cfg.WebhookURL != "" {
		return "webhook"
	}
	return "long polling"
}

// Username is the bot's @username, without the @ (for deep links: t.me/<username>).
func (b *Bot) Username() string { return b.self.UserName }

// call runs fn, one Bot API call, up to attempts times: transient errors back off,
// a 429 waits its retry_after. The error it returns is a redacted *callError.
func (b *Bot) call(ctx context.Context, method string, attempts int, fn func() error) error {
	for n := 0; ; n++ {
		err := fn()
		if err == nil {
			return nil
		}
		ce := classify(method, err, b.secrets)
		if !ce.transient || n+1 >= attempts || ctx.Err() != nil {
			return ce
		}
		wait := backoff(b.cfg.retryBase, n, maxPollBackoff)
		if ce.retryAfter > 0 {
			wait = ce.retryAfter
		}
		b.log.Warn("bot api call failed; retrying", "method", method, "err", ce, "retry_in", wait)
		if !sleep(ctx, wait) {
			return ce
		}
	}
}

// commands is the menu clients show; admins also get adminCommands in their chats.
var (
	commands = []tgbotapi.BotCommand{
		{Command: "start", Description: "Start, and see the topics"},
		{Command: "ask", Description: "Ask a question about the article"},
		{Command: "topics", Description: "What the article covers"},
		{Command: "help", Description: "How to ask"},
	}
	adminCommands = []tgbotapi.BotCommand{
		{Command: "stats", Description: "Statistics of the last 7 days (admins)"},
		{Command: "unanswered", Description: "Questions I could not answer (admins)"},
		{Command: "reload", Description: "Reload the knowledge base (admins)"},
	}
)

// maxAdminMenus bounds the start-up calls that give admins their longer menu.
const maxAdminMenus = 10

// setCommands registers the command menu. A failure only costs the menu, so it is
// logged, not returned.
func (b *Bot) setCommands(ctx context.Context) {
	err := b.call(ctx, "setMyCommands", 3, func() error {
		_, err := b.api.Request(tgbotapi.SetMyCommandsConfig{Commands: commands})
		return err
	})
	if err != nil {
		b.log.Warn("could not set the command menu", "err", err)
	}
	for i, id := range b.cfg.AdminIDs {
		if i == maxAdminMenus {
			break
		}
		scope := &tgbotapi.BotCommandScope{Type: "chat", ChatID: id}
		all := append(append([]tgbotapi.BotCommand{}, commands...), adminCommands...)
		err := b.call(ctx, "setMyCommands", 1, func() error {
			_, err := b.api.Request(tgbotapi.SetMyCommandsConfig{Commands: all, Scope: scope})
			return err
		})
		if err != nil {
			// Usually "chat not found": the admin has not opened a chat with the bot yet.
			b.log.Debug("could not set an admin's command menu", "err", err)
		}
	}
}

// setWebhook registers the webhook with its secret_token. The library's WebhookConfig
// predates secret_token, so this is a raw request.
func (b *Bot) setWebhook(ctx context.Context) error {
	params := tgbotapi.Params{
		"url":             b.cfg.WebhookURL,
		"secret_token":    b.cfg.WebhookSecret,
		"allowed_updates": allowedUpdates,
		"max_connections": strconv.Itoa(webhookWorkers * 5),
	}
	return b.call(ctx, "setWebhook", 3, func() error {
		_, err := b.api.MakeRequest("setWebhook", params)
		return err
	})
}

// loadOffset reads the last handled update_id. Without it, the first poll takes every
// update Telegram still holds.
func (b *Bot) loadOffset(ctx context.Context) error {
	v, ok, err := b.st.State(ctx, b.stateKey)
	if err != nil {
		return fmt.Errorf("telegram: read last update id: %w", err)
	}
	if !ok {
		return nil
	}
	id, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("telegram: read last update id: stored value %q is not a number", v)
	}
	b.lastHandled, b.haveLast, b.saved = id, true, id
	b.log.Info("resuming after the last handled update", "update_id", id)
	return nil
}

// Run receives and answers updates until ctx ends: by long polling, or in webhook mode
// by draining what WebhookHandler queued. When ctx ends it stops receiving, finishes
// the updates it has, waits (for a while) for the answers still queued, and returns nil.
// Run may be called once.
func (b *Bot) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("telegram: Run called twice")
	}
	defer b.stopped.Store(true)
	if b.cfg.WebhookURL != "" {
		b.runWebhook(ctx)
	} else {
		b.poll(ctx)
	}
	b.out.drain(b.cfg.drainTimeout)
	b.log.Info("stopped")
	return nil
}

// Ready returns nil while the bot can receive and send, and otherwise an error saying
// why not, for a readiness probe.
func (b *Bot) Ready() error {
	if b.stopped.Load() {
		return errors.New("telegram: stopped")
	}
	if p := b.pollErr.Load(); p != nil {
		return *p
	}
	return b.out.health()
}

// poll is the long-polling loop. An update is confirmed to Telegram (by polling with an
// offset above it) only after it has been handled and its id stored.
func (b *Bot) poll(ctx context.Context) {
	b.client.setPollContext(ctx) // cancels a poll in flight when ctx ends
	hctx := context.WithoutCancel(ctx)
	fails := 0
	for ctx.Err() == nil {
		b.out.waitBacklog(ctx)
		raws, err := b.getUpdates()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			fails++
			sleep(ctx, b.pollFailed(ctx, err, fails))
			continue
		}
		if fails > 0 {
			b.log.Info("polling works again", "after_failures", fails)
		}
		fails = 0
		b.pollErr.Store(nil)
		if !b.handleBatch(hctx, raws) && len(raws) > 0 {
			// Nothing in the batch had an update_id, so the offset cannot move past
			// it; Telegram would return it at once. Do not hammer it.
			sleep(ctx, maxPollBackoff)
		}
	}
}

// getUpdates asks for the updates after the last handled one. It returns them raw, so
// that one update the library cannot decode does not lose the whole batch.
func (b *Bot) getUpdates() ([]json.RawMessage, error) {
	params := tgbotapi.Params{
		"limit":           strconv.Itoa(pollLimit),
		"timeout":         strconv.Itoa(b.cfg.pollSeconds()),
		"allowed_updates": allowedUpdates,
	}
	if b.haveLast {
		params["offset"] = strconv.Itoa(b.lastHandled + 1)
	}
	resp, err := b.api.MakeRequest("getUpdates", params)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(resp.Result, &raws); err != nil {
		return nil, fmt.Errorf("decode updates: %w", err)
	}
	return raws, nil
}

// pollFailed logs a failed getUpdates, updates readiness, and returns how long to wait.
func (b *Bot) pollFailed(ctx context.Context, err error, fails int) time.Duration {
	ce := classify("getUpdates", err, b.secrets)
	wait := backoff(2*b.cfg.retryBase, fails-1, maxPollBackoff)
	if ce.retryAfter > 0 {
		wait = ce.retryAfter
	}
	var why error = ce
	switch ce.code {
	case http.StatusUnauthorized, http.StatusNotFound:
		why = fmt.Errorf("the bot token was refused: %w", ce)
	case http.StatusConflict:
		why = fmt.Errorf("another getUpdates or a webhook is active (two instances running?): %w", ce)
		// The usual cause after a switch from webhook mode; deleting it again is cheap.
		_ = b.call(ctx, "deleteWebhook", 1, func() error {
			_, err := b.api.Request(tgbotapi.DeleteWebhookConfig{})
			return err
		})
	}
	b.log.Warn("getUpdates failed", "err", why, "failures", fails, "retry_in", wait)
	if fails >= 2 || ce.code == http.StatusUnauthorized || ce.code == http.StatusConflict {
		e := fmt.Errorf("telegram: receiving updates fails: %w", why)
		b.pollErr.Store(&e)
	}
	return wait
}

// polled is one update of a batch: decoded, or nil when it was malformed.
type polled struct {
	id int
	u  *tgbotapi.Update
}

// handleBatch handles one batch from getUpdates: updates of one chat in order, chats in
// parallel; then it stores the highest update_id, which the next poll confirms. It
// reports whether the batch had any update_id to move the offset past.
func (b *Bot) handleBatch(ctx context.Context, raws []json.RawMessage) bool {
	batch := make([]polled, 0, len(raws))
	for _, raw := range raws {
		var u tgbotapi.Update
		if err := json.Unmarshal(raw, &u); err != nil {
			var idOnly struct {
				UpdateID *int `json:"update_id"`
			}
			if json.Unmarshal(raw, &idOnly) != nil || idOnly.UpdateID == nil {
				b.log.Warn("malformed update without an id skipped", "err", err)
				continue
			}
			b.log.Warn("malformed update skipped", "update_id", *idOnly.UpdateID, "err", err)
			batch = append(batch, polled{id: *idOnly.UpdateID})
			continue
		}
		batch = append(batch, polled{id: u.UpdateID, u: &u})
	}
	if len(batch) == 0 {
		return false
	}

	// Telegram only returns updates from the offset on. A batch entirely below it that
	// is not a repeat of what this process handled means Telegram started its ids again
	// (it does after a week without updates): believe it rather than drop everything.
	highest := batch[0].id
	reset := b.haveLast
	for _, p := range batch {
		highest = max(highest, p.id)
		if p.id > b.lastHandled || b.seen.has(p.id) {
			reset = false
		}
	}
	if reset {
		b.log.Warn("update ids went back; assuming Telegram restarted them", "last_handled", b.lastHandled, "now", highest)
		b.lastHandled = highest
	}

	groups := map[int64][]*tgbotapi.Update{}
	var order []int64
	for _, p := range batch {
		if p.u == nil {
			continue
		}
		if (!reset && b.haveLast && p.id <= b.lastHandled) || !b.seen.add(p.id) {
			b.log.Debug("duplicate update ignored", "update_id", p.id)
			continue
		}
		k := chatKey(p.u)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p.u)
	}
	sem := make(chan struct{}, batchWorkers)
	var wg sync.WaitGroup
	for _, k := range order {
		ups := groups[k]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for _, u := range ups {
				b.handleUpdate(ctx, u)
			}
		}()
	}
	wg.Wait()

	if !b.haveLast || highest > b.lastHandled {
		b.lastHandled, b.haveLast = highest, true
	}
	b.saveOffset()
	return true
}

// saveOffset stores the last handled update_id. If that fails the loop still goes on:
// a crash before the next poll would then answer the batch again, which is better than
// stopping. The store commits it after the query records queued before it.
func (b *Bot) saveOffset() {
	if b.saved == b.lastHandled {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v := strconv.Itoa(b.lastHandled)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = b.st.SetState(ctx, b.stateKey, v); err == nil {
			b.saved = b.lastHandled
			return
		}
		if !sleep(ctx, b.cfg.retryBase) {
			break
		}
	}
	b.log.Error("could not store the last handled update id; a restart now may answer some updates twice",
		"update_id", b.lastHandled, "err", err)
}

// handleUpdate handles one update. A panic is logged and the update dropped: one bad
// update never stops the loop.
func (b *Bot) handleUpdate(ctx context.Context, u *tgbotapi.Update) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("update handler panicked; update dropped", "update_id", u.UpdateID,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, handleTimeout)
	defer cancel()
	switch {
	case u.Message != nil:
		b.onMessage(ctx, u.Message)
	case u.CallbackQuery != nil:
		b.onCallback(ctx, u.CallbackQuery)
	default:
		b.log.Debug("update type not handled; ignored", "update_id", u.UpdateID)
	}
}

// chatKey returns the chat an update belongs to, so one chat's updates are handled in
// order; 0 when it has none.
func chatKey(u *tgbotapi.Update) int64 {
	switch {
	case u.Message != nil && u.Message.Chat != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil && u.CallbackQuery.Message.Chat != nil:
		return u.CallbackQuery.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.From != nil:
		return u.CallbackQuery.From.ID
	}
	return 0
}

// idSet remembers the last n ids added, to drop duplicate updates. Forgetting is
// first in, first out; it is best effort by design, the offset does the rest.
type idSet struct {
	mu   sync.Mutex
	ring []int
	next int
	m    map[int]struct{}
}

func newIDSet(n int) *idSet {
	return &idSet{ring: make([]int, 0, n), m: make(map[int]struct{}, n)}
}

// add adds id and reports whether it was new.
func (s *idSet) add(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; ok {
		return false
	}
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, id)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % len(s.ring)
	}
	s.m[id] = struct{}{}
	return true
}

func (s *idSet) has(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[id]
	return ok
}

// remove forgets id, so a redelivery of an update that could not be queued is taken.
func (s *idSet) remove(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
