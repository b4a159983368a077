package telegram

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot"
)

const webhookSecret = "hook_SECRET-0123456789"

// slowHandler makes the core take a while, to show the webhook does not wait for it.
type slowHandler struct {
	Handler
	delay time.Duration
}

func (h slowHandler) Handle(ctx context.Context, m bot.Message) bot.Reply {
	time.Sleep(h.delay)
	return h.Handler.Handle(ctx, m)
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cfg := e.cfg
	cfg.WebhookURL = "https://scobot.example/telegram/webhook"
	cfg.WebhookSecret = webhookSecret
	const delay = 300 * time.Millisecond
	b, err := New(context.Background(), cfg, slowHandler{e.core, delay}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := e.run(b)
	srv := httptest.NewServer(b.WebhookHandler())
	t.Cleanup(srv.Close)

	post := func(secret string, body string) (int, time.Duration) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set(SecretHeader, secret)
		}
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	update := func(id int, text string) string {
		raw, _ := json.Marshal(textUpdate(id, aliceDM, alice, text))
		return string(raw)
	}

	tests := []struct {
		name   string
		secret string
		body   string
		want   int
	}{
		{"no secret", "", update(1, clearQuestion), http.StatusUnauthorized},
		{"wrong secret", "hook_SECRET-0123456788", update(2, clearQuestion), http.StatusForbidden},
		{"secret prefix", webhookSecret[:5], update(3, clearQuestion), http.StatusForbidden},
		{"longer secret", webhookSecret + "x", update(4, clearQuestion), http.StatusForbidden},
		{"malformed update", webhookSecret, `{"update_id":5,"message":"x"}`, http.StatusOK},
		{"not JSON", webhookSecret, `<html>`, http.StatusOK},
	}
	for _, tt := range tests {
		if got, _ := post(tt.secret, tt.body); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusMethodNotAllowed; got != want {
		t.Errorf("GET: status %d, want %d", got, want)
	}

	status, took := post(webhookSecret, update(10, clearQuestion))
	if status != http.StatusOK {
		t.Fatalf("good update: status %d", status)
	}
	if took >= delay {
		t.Errorf("the webhook answered after %v, waiting for the handler (%v)", took, delay)
	}
	if got, _ := post(webhookSecret, update(10, clearQuestion)); got != http.StatusOK {
		t.Errorf("redelivery: status %d, want 200", got)
	}
	post(webhookSecret, update(11, "/help"))
	e.api.waitSent(t, 2)
	time.Sleep(2 * delay)
	sent := e.api.sentMessages()
	if len(sent) != 2 {
		t.Fatalf("%d messages sent, want 2 (updates 10 and 11; refused, malformed and repeated ones not)", len(sent))
	}
	if !strings.HasPrefix(sent[0].text, "<b>") || !strings.Contains(sent[1].text, "Commands") {
		t.Errorf("answers out of order or wrong: %q, %q", sent[0].text, sent[1].text)
	}
	if n := len(e.api.callsOf("getUpdates")); n != 0 {
		t.Errorf("webhook mode polled %d times", n)
	}

	stop()
	if got, _ := post(webhookSecret, update(12, clearQuestion)); got != http.StatusServiceUnavailable {
		t.Errorf("after shutdown: status %d, want 503", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "wrong secret token refused") || !strings.Contains(logs, "without a secret token refused") {
		t.Error("refused webhook requests are not logged")
	}
	if strings.Contains(logs, webhookSecret) || strings.Contains(logs, testToken) {
		t.Error("a secret is in the log")
	}
}

func TestWebhookQueueFull(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cfg := e.cfg
	cfg.WebhookURL = "https://scobot.example/telegram/webhook"
	cfg.WebhookSecret = webhookSecret
	b, err := New(context.Background(), cfg, e.core, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Run is not started, so nothing drains the queue: it fills, and then the handler
	// asks Telegram to come back later instead of blocking.
	// Chats whose ids are multiples of the number of workers all go to worker 0.
	h := b.WebhookHandler()
	chat := func(i int) *tgbotapi.Chat {
		return &tgbotapi.Chat{ID: int64((i + 1) * webhookWorkers), Type: "private"}
	}
	codes := map[int]int{}
	for i := range webhookQueue + 5 {
		raw, _ := json.Marshal(textUpdate(i+1, chat(i), alice, "/help"))
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(string(raw)))
		req.Header.Set(SecretHeader, webhookSecret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		codes[rec.Code]++
	}
	if codes[http.StatusOK] != webhookQueue || codes[http.StatusServiceUnavailable] != 5 {
		t.Errorf("statuses %v, want %d × 200 and 5 × 503", codes, webhookQueue)
	}
	// The refused one is taken when Telegram delivers it again.
	e.run(b)
	raw, _ := json.Marshal(textUpdate(webhookQueue+1, chat(webhookQueue), alice, "/help"))
	req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(string(raw)))
	req.Header.Set(SecretHeader, webhookSecret)
	rec := httptest.NewRecorder()
	waitFor(t, 5*time.Second, "room in the queue", func() bool {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		req = httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(string(raw)))
		req.Header.Set(SecretHeader, webhookSecret)
		return rec.Code == http.StatusOK
	})
	e.api.waitSent(t, webhookQueue+1)
}

func TestWebhookHandlerOffWhenPolling(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot()
	raw, _ := json.Marshal(tgbotapi.Update{UpdateID: 1})
	req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(string(raw)))
	req.Header.Set(SecretHeader, "")
	rec := httptest.NewRecorder()
	b.WebhookHandler().ServeHTTP(rec, req)
	if got, want := rec.Code, http.StatusNotFound; got != want {
		t.Errorf("status %d, want %d", got, want)
	}
}
