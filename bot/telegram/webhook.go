package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// SecretHeader carries the webhook's secret_token on every update Telegram posts.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

const (
	webhookWorkers = 8       // updates handled at once; one chat always goes to the same one
	webhookQueue   = 256     // updates waiting per worker before the handler answers 503
	maxWebhookBody = 1 << 20 // bytes; updates are a few KB
)

// WebhookHandler returns the handler for Telegram's webhook posts (cmd mounts it at
// /telegram/webhook). It refuses a request without the secret token (401) or with a
// wrong one (403), compared in constant time; otherwise it queues the update, answers
// 200 at once, and Run's workers handle it. A full queue answers 503 so that Telegram
// delivers the update again later. In polling mode it answers 404.
func (b *Bot) WebhookHandler() http.Handler {
	return http.HandlerFunc(b.serveWebhook)
}

func (b *Bot) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if b.cfg.WebhookURL == "" {
		http.Error(w, "telegram webhook is off: the bot uses long polling", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(SecretHeader)
	if got == "" {
		b.log.Warn("webhook request without a secret token refused", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	// Comparing digests keeps the time independent of the lengths too.
	if sum := sha256.Sum256([]byte(got)); subtle.ConstantTimeCompare(sum[:], b.secretSum[:]) != 1 {
		b.log.Warn("webhook request with a wrong secret token refused", "remote", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the update", http.StatusBadRequest)
		return
	}
	var u tgbotapi.Update
	if err := json.Unmarshal(body, &u); err != nil {
		// Telegram would post it again and again, holding up the updates behind it;
		// take it and drop it instead.
		b.log.Warn("malformed webhook update ignored", "err", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	if !b.seen.add(u.UpdateID) {
		b.log.Debug("duplicate update ignored", "update_id", u.UpdateID)
		w.WriteHeader(http.StatusOK)
		return
	}
	if !b.queue(u) {
		b.seen.remove(u.UpdateID)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// queue hands an update to its chat's worker without blocking; false when the
// worker's queue is full or the bot is shutting down.
func (b *Bot) queue(u tgbotapi.Update) bool {
	b.inMu.RLock()
	defer b.inMu.RUnlock()
	if !b.accepting {
		return false
	}
	k := uint64(chatKey(&u))
	select {
	case b.queues[k%uint64(len(b.queues))] <- u:
		return true
	default:
		return false
	}
}

// runWebhook handles queued webhook updates until ctx ends, then stops accepting,
// finishes what is queued and returns.
func (b *Bot) runWebhook(ctx context.Context) {
	hctx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, q := range b.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range q {
				b.handleUpdate(hctx, &u)
			}
		}()
	}
	<-ctx.Done()
	b.inMu.Lock()
	b.accepting = false
	for _, q := range b.queues {
		close(q)
	}
	b.inMu.Unlock()
	wg.Wait()
}
