package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"golang.org/x/time/rate"
)

const (
	sendSlots        = 32   // Bot API calls in flight at once
	maxQueued        = 100  // messages waiting per chat; more are dropped
	maxBacklog       = 2000 // messages waiting in all; polling pauses above it
	maxSendAttempts  = 5    // per message, for 5xx, network errors and 429s
	maxSendBackoff   = 30 * time.Second
	maxCallbackWait  = 10 * time.Second // a callback answer later than this is useless
	maxCallbackText  = 200              // Telegram's limit on a callback answer's text
	sendFailsToFlag  = 3                // consecutive failed sends that make Ready fail
	sweepEvery       = time.Minute
	forgetIdleChat   = 10 * time.Minute
	forgetBlocked    = 24 * time.Hour
	logDropsInterval = 10 * time.Second
)

// outMsg is one message to send.
type outMsg struct {
	chatID   int64
	text     string // Telegram HTML, or plain text when plain is set
	plain    bool   // sent without parse_mode: the fallback for HTML Telegram refused
	keyboard *tgbotapi.InlineKeyboardMarkup
	replyTo  int
}

// outbox sends messages: each chat has its own queue and its own goroutine while it
// has something to send, so a chat that is paced, throttled by a 429 or slow to answer
// never holds up another. Sends are paced per chat, per group and overall.
type outbox struct {
	b      *Bot
	log    *slog.Logger
	ctx    context.Context // ends when Run gives up on what is still queued
	cancel context.CancelFunc
	slots  chan struct{}
	pace   *pacing // nil: no pacing
	global *rate.Limiter

	mu    sync.Mutex
	chats map[int64]*chatQueue
	swept time.Time

	wg        sync.WaitGroup
	queued    atomic.Int64 // messages waiting in all chats' queues
	dropped   atomic.Int64 // messages never sent, since the last log line about them
	lastDrop  atomic.Int64 // UnixNano of that log line
	sendFails atomic.Int32 // consecutive transient failures
	lastErr   atomic.Pointer[error]
}

// chatQueue is one chat's queue and pacing.
type chatQueue struct {
	id      int64
	items   []outMsg
	running bool
	blocked bool // the chat answered 403: the bot was blocked or removed
	last    time.Time
	chat    *rate.Limiter
	group   *rate.Limiter // groups only (negative ids)
}

func newOutbox(b *Bot) *outbox {
	ctx, cancel := context.WithCancel(context.Background())
	o := &outbox{
		b: b, log: b.log, ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, sendSlots),
		chats: map[int64]*chatQueue{},
		swept: time.Now(),
	}
	if !b.cfg.NoPacing {
		o.pace = b.cfg.pace
		o.global = rate.NewLimiter(o.pace.global, o.pace.globalBurst)
	}
	return o
}

// enqueue queues messages in order behind what their chats already have queued.
func (o *outbox) enqueue(msgs ...outMsg) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	o.sweep(now)
	for _, m := range msgs {
		q := o.chats[m.chatID]
		if q == nil {
			q = &chatQueue{id: m.chatID}
			if o.pace != nil {
				q.chat = rate.NewLimiter(o.pace.chat, o.pace.chatBurst)
				if m.chatID < 0 {
					q.group = rate.NewLimiter(o.pace.group, o.pace.groupBurst)
				}
			}
			o.chats[m.chatID] = q
		}
		q.last = now
		if q.blocked {
			o.drop(1, "the chat blocked the bot")
			continue
		}
		if len(q.items) >= maxQueued {
			o.drop(1, "too many messages queued for one chat")
			continue
		}
		q.items = append(q.items, m)
		o.queued.Add(1)
		if !q.running {
			q.running = true
			o.wg.Add(1)
			go o.run(q)
		}
	}
}

// sweep forgets idle chats now and then, so the map does not grow without bound. It
// runs under o.mu.
func (o *outbox) sweep(now time.Time) {
	if now.Sub(o.swept) < sweepEvery {
		return
	}
	o.swept = now
	for id, q := range o.chats {
		idle := now.Sub(q.last)
		if !q.running && len(q.items) == 0 && (idle > forgetBlocked || !q.blocked && idle > forgetIdleChat) {
			delete(o.chats, id)
		}
	}
}

// unblock lets messages go to a chat again: someone there wrote to the bot.
func (o *outbox) unblock(chatID int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if q := o.chats[chatID]; q != nil {
		q.blocked = false
	}
}

// run sends a chat's queue until it is empty.
func (o *outbox) run(q *chatQueue) {
	defer o.wg.Done()
	for {
		o.mu.Lock()
		if len(q.items) == 0 || q.blocked || o.ctx.Err() != nil {
			n := len(q.items)
			q.items, q.running = nil, false
			o.mu.Unlock()
			o.queued.Add(-int64(n))
			if n > 0 {
				o.drop(n, "the chat blocked the bot, or shutting down")
			}
			return
		}
		m := q.items[0]
		q.items[0] = outMsg{}
		q.items = q.items[1:]
		o.mu.Unlock()
		o.deliver(q, m)
		o.queued.Add(-1)
	}
}

// waitBacklog waits while more than maxBacklog messages are queued, so that the
// poller takes no more updates than can be answered: they wait at Telegram instead of
// in memory. A single flooding chat is bounded by maxQueued instead.
func (o *outbox) waitBacklog(ctx context.Context) {
	for o.queued.Load() > maxBacklog {
		if !sleep(ctx, 10*time.Millisecond) {
			return
		}
	}
}

// deliver sends one message: paced, retried with backoff on 5xx and network errors,
// after retry_after on a 429, as plain text if Telegram cannot parse its HTML, to the
// new chat if a group became a supergroup; a 403 blocks the chat.
func (o *outbox) deliver(q *chatQueue, m outMsg) {
	fellBack, migrated := false, false
	for attempt := 0; ; attempt++ {
		if !o.wait(q) {
			o.drop(1, "shutting down")
			return
		}
		err := o.send(m)
		if err == nil {
			o.sendFails.Store(0)
			return
		}
		ce := classify("sendMessage", err, o.b.secrets)
		switch {
		case ce.code == http.StatusForbidden:
			o.mu.Lock()
			q.blocked = true
			o.mu.Unlock()
			o.log.Info("chat blocked the bot or removed it; not sending to it until it writes again", "err", ce)
			o.log.Debug("blocked chat", "chat_id", q.id)
			return
		case ce.migrateTo != 0 && !migrated:
			m.chatID, migrated = ce.migrateTo, true
			o.log.Info("group became a supergroup; sending there", "err", ce)
			continue
		case ce.parseEntities() && !fellBack:
			// The HTML is ours and escaped, so this is a bug; the user still gets the
			// answer, without formatting.
			o.log.Error("Telegram refused the HTML of a message; sending it as plain text", "err", ce)
			m.text, m.plain, fellBack = plainText(m.text), true, true
			continue
		case ce.transient && attempt+1 < maxSendAttempts:
			wait := backoff(o.b.cfg.retryBase, attempt, maxSendBackoff)
			if ce.retryAfter > 0 {
				wait = ce.retryAfter
			} else {
				o.failed(ce)
			}
			o.log.Warn("send failed; retrying", "err", ce, "attempt", attempt+1, "retry_in", wait)
			if !sleep(o.ctx, wait) {
				o.drop(1, "shutting down")
				return
			}
		case o.ctx.Err() != nil:
			o.drop(1, "shutting down")
			return
		default:
			if ce.transient {
				o.failed(ce)
			}
			o.log.Error("send failed; message dropped", "err", ce, "attempts", attempt+1)
			return
		}
	}
}

// wait paces one send: the chat's limiter, the group's, then the global one.
func (o *outbox) wait(q *chatQueue) bool {
	if o.pace == nil {
		return o.ctx.Err() == nil
	}
	for _, l := range []*rate.Limiter{q.chat, q.group, o.global} {
		if l != nil && l.Wait(o.ctx) != nil {
			return false
		}
	}
	return true
}

// send makes the sendMessage call.
func (o *outbox) send(m outMsg) error {
	cfg := tgbotapi.NewMessage(m.chatID, m.text)
	if !m.plain {
		cfg.ParseMode = tgbotapi.ModeHTML
	}
	cfg.DisableWebPagePreview = true
	if m.keyboard != nil {
		cfg.ReplyMarkup = *m.keyboard
	}
	if m.replyTo != 0 {
		cfg.ReplyToMessageID = m.replyTo
		cfg.AllowSendingWithoutReply = true // the question may have been deleted
	}
	return o.request(cfg)
}

// request makes one Bot API call within the limit of calls in flight.
func (o *outbox) request(c tgbotapi.Chattable) error {
	select {
	case o.slots <- struct{}{}:
	case <-o.ctx.Done():
		return o.ctx.Err()
	}
	defer func() { <-o.slots }()
	_, err := o.b.api.Request(c)
	return err
}

// answerCallback answers a callback query in the background, so the spinner stops.
// It is not paced: it is not a message, and it must come within seconds.
func (o *outbox) answerCallback(id, text string) {
	cfg := tgbotapi.NewCallback(id, truncate(text, maxCallbackText))
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for attempt := 0; ; attempt++ {
			err := o.request(cfg)
			if err == nil {
				return
			}
			ce := classify("answerCallbackQuery", err, o.b.secrets)
			wait := backoff(o.b.cfg.retryBase, attempt, maxCallbackWait)
			if ce.retryAfter > 0 {
				wait = ce.retryAfter
			}
			if !ce.transient || attempt+1 >= 3 || wait > maxCallbackWait {
				o.log.Warn("could not answer a callback query", "err", ce)
				return
			}
			if !sleep(o.ctx, wait) {
				return
			}
		}
	}()
}

// failed notes a transient send failure for Ready.
func (o *outbox) failed(ce *callError) {
	var err error = ce
	o.lastErr.Store(&err)
	o.sendFails.Add(1)
}

// health is nil unless the last sends all failed.
func (o *outbox) health() error {
	if n := o.sendFails.Load(); n >= sendFailsToFlag {
		var last error = errors.New("unknown error")
		if p := o.lastErr.Load(); p != nil {
			last = *p
		}
		return fmt.Errorf("telegram: the last %d sends failed: %w", n, last)
	}
	return nil
}

// drop counts messages that will never be sent, and logs them at most every few
// seconds, so a flood cannot flood the log too.
func (o *outbox) drop(n int, why string) {
	total := o.dropped.Add(int64(n))
	now := time.Now().UnixNano()
	last := o.lastDrop.Load()
	if now-last < int64(logDropsInterval) || !o.lastDrop.CompareAndSwap(last, now) {
		return
	}
	o.dropped.Add(-total)
	o.log.Warn("messages dropped", "count", total, "why", why)
}

// drain waits for everything queued to be sent, at most timeout; then it cancels what
// is left (waiting on pacing or a retry) and waits for the senders to stop.
func (o *outbox) drain(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		o.log.Warn("shutdown: gave up waiting for queued messages", "waited", timeout)
		o.cancel()
		<-done
	}
	o.cancel()
}
