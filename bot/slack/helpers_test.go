package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
)

// The test secrets. Every test's log is searched for them when it ends.
const (
	testSecret   = "8f742231b10e8888abcd99yyyzzz85a5"
	testBotToken = "xoxb-1111-2222-botSECRETtoken"
	testAppToken = "xapp-1-A111-333-appSECRETtoken"
	adminID      = "UADMIN1"
)

// sign signs a request exactly as Slack documents it: X-Slack-Signature is "v0=" and
// the hex HMAC-SHA256, keyed with the signing secret, of "v0:" + timestamp + ":" + the
// raw body.
func sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, "v0:"+strconv.FormatInt(ts, 10)+":")
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// signedRequest builds a POST signed now with the test secret.
func signedRequest(path string, body []byte, contentType string) *http.Request {
	ts := time.Now().Unix()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set(headerTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(headerSignature, sign(testSecret, ts, body))
	return r
}

// syncBuffer is a log destination that tests may read while the bot writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// memLog is an in-memory query log and stats source for the real core.
type memLog struct {
	mu       sync.Mutex
	queries  []bot.Query
	feedback []bot.Feedback
	admin    []bot.AdminAction
}

func (l *memLog) Record(q bot.Query) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, q)
	return nil
}

func (l *memLog) RecordFeedback(f bot.Feedback) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.feedback = append(l.feedback, f)
	return nil
}

func (l *memLog) RecordAdmin(a bot.AdminAction) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.admin = append(l.admin, a)
	return nil
}

func (l *memLog) BotStats(ctx context.Context, since time.Time, limit int) (*bot.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := &bot.Stats{Since: since, Total: len(l.queries), ByPlatform: []bot.Count{{Key: "slack", Count: len(l.queries)}}}
	for _, q := range l.queries {
		if q.Answered {
			st.Answered++
		} else {
			st.Unanswered = append(st.Unanswered, bot.Count{Key: q.Question, Count: 1})
		}
	}
	return st, nil
}

func (l *memLog) Unanswered(ctx context.Context, since time.Time, limit int) ([]bot.Count, error) {
	st, _ := l.BotStats(ctx, since, limit)
	return st.Unanswered, nil
}

func (l *memLog) snapshot() (q []bot.Query, f []bot.Feedback, a []bot.AdminAction) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bot.Query(nil), l.queries...), append([]bot.Feedback(nil), l.feedback...), append([]bot.AdminAction(nil), l.admin...)
}

// badReloader refuses every reload with problems, as a broken knowledge base would.
type badReloader struct{}

func (badReloader) Reload(ctx context.Context, by string) (string, []string, error) {
	return "", []string{"kb/x.md:3: title is empty", "kb/y.md: <unknown> section & more"}, errors.New("knowledge base has 2 errors")
}

// posted is one chat.postMessage the fake Web API received.
type posted struct {
	Channel, Text, ThreadTS string
	Blocks                  []map[string]any
}

// fakeAPI is Slack's Web API and response_url endpoint, on loopback.
type fakeAPI struct {
	srv *httptest.Server

	mu        sync.Mutex
	posts     []posted
	responses []map[string]any // response_url posts
	opens     int              // apps.connections.open calls
	wsURL     string           // what apps.connections.open returns
	limit429  int              // answer this many of the next calls with 429 Retry-After: 1
	badTokens int              // calls that came without the expected token
	fail      string           // when set, every Web API call fails with this error
	notify    chan struct{}
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{notify: make(chan struct{}, 1000)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() {
		select {
		case f.notify <- struct{}{}:
		default:
		}
	}()
	if f.limit429 > 0 {
		f.limit429--
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if f.fail != "" && strings.HasPrefix(r.URL.Path, "/api/") {
		io.WriteString(w, `{"ok":false,"error":"`+f.fail+`"}`)
		return
	}
	switch {
	case r.URL.Path == "/api/chat.postMessage":
		form, _ := url.ParseQuery(string(body))
		if form.Get("token") != testBotToken && r.Header.Get("Authorization") != "Bearer "+testBotToken {
			f.badTokens++
			io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		p := posted{Channel: form.Get("channel"), Text: form.Get("text"), ThreadTS: form.Get("thread_ts")}
		_ = json.Unmarshal([]byte(form.Get("blocks")), &p.Blocks)
		f.posts = append(f.posts, p)
		io.WriteString(w, `{"ok":true,"channel":"`+p.Channel+`","ts":"1700000000.000200"}`)
	case r.URL.Path == "/api/apps.connections.open":
		if r.Header.Get("Authorization") != "Bearer "+testAppToken {
			f.badTokens++
			io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		f.opens++
		io.WriteString(w, `{"ok":true,"url":"`+f.wsURL+`"}`)
	case strings.HasPrefix(r.URL.Path, "/respond/"):
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		m["_path"] = r.URL.Path
		f.responses = append(f.responses, m)
		io.WriteString(w, "ok")
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAPI) apiURL() string { return f.srv.URL + "/api" } // no trailing slash on purpose

func (f *fakeAPI) responseURL(id string) string { return f.srv.URL + "/respond/" + id }

func (f *fakeAPI) snapshot() ([]posted, []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]posted(nil), f.posts...), append([]map[string]any(nil), f.responses...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// env is one bot under test with its fakes.
type env struct {
	t    testing.TB
	bot  *Bot
	api  *fakeAPI
	log  *memLog
	logs *syncBuffer
	mux  *http.ServeMux
	core *bot.Core
	stop func() // ends Run and waits for it
}

type option func(*Config, *bot.Config)

func withSocketMode(c *Config, _ *bot.Config)  { c.AppToken = testAppToken }
func withoutBotToken(c *Config, _ *bot.Config) { c.BotToken = "" }

// newEnv builds a bot on the real core (embedded knowledge base, in-memory log) and a
// fake Web API. With run, Run is started and stopped at the end of the test.
func newEnv(t testing.TB, run bool, tune func(*Bot), opts ...option) *env {
	t.Helper()
	kb, err := knowledge.Default()
	if err != nil {
		t.Fatal(err)
	}
	var h bot.KBHolder
	h.Store(kb)
	e := &env{t: t, api: newFakeAPI(t), log: &memLog{}, logs: &syncBuffer{}, mux: http.NewServeMux()}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{SigningSecret: testSecret, BotToken: testBotToken, APIURL: e.api.apiURL(), AdminIDs: []string{adminID}, Logger: logger}
	ccfg := bot.Config{KB: &h, Log: e.log, Stats: e.log, Reloader: badReloader{}, Logger: logger}
	for _, o := range opts {
		o(&cfg, &ccfg)
	}
	e.core, err = bot.NewCore(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	return e.finish(cfg, e.core, run, tune)
}

// finish builds the bot for handler h.
func (e *env) finish(cfg Config, h Handler, run bool, tune func(*Bot)) *env {
	t := e.t
	b, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	b.minBackoff, b.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	if tune != nil {
		tune(b)
	}
	e.bot = b
	b.Register(e.mux)
	e.stop = func() {}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		waitFor(t, "Run to start", time.Second, func() bool { return b.state.Load() == stateRunning })
		var once sync.Once
		e.stop = func() {
			once.Do(func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Run returned %v, want nil", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("Run did not return after its context ended")
				}
			})
		}
	}
	t.Cleanup(func() {
		e.stop()
		logs := e.logs.String()
		for _, s := range []string{testSecret, testBotToken, testAppToken} {
			if strings.Contains(logs, s) {
				t.Errorf("a secret appeared in the log:\n%s", logs)
			}
		}
	})
	return e
}

// do serves a signed request through the registered endpoints.
func (e *env) do(path string, body []byte, contentType string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, signedRequest(path, body, contentType))
	return w
}

// slash sends a signed slash command from user.
func (e *env) slash(user, text, trigger string) *httptest.ResponseRecorder {
	v := url.Values{
		"token": {"legacy-ignored"}, "team_id": {"T1"}, "team_domain": {"test"}, "channel_id": {"C1"},
		"channel_name": {"general"}, "user_id": {user}, "user_name": {"someone"}, "command": {"/sco"},
		"text": {text}, "response_url": {e.api.responseURL("slash-" + trigger)}, "trigger_id": {trigger},
		"api_app_id": {"A1"},
	}
	return e.do("/slack/commands", []byte(v.Encode()), "application/x-www-form-urlencoded")
}

// slashReply decodes a slash command's JSON answer.
func slashReply(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", w.Code, w.Body.String())
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, w.Body.String())
	}
	return m
}

// blockTexts returns every text in a message's blocks, in order, for assertions.
func blockTexts(blocks any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			for k, c := range x {
				if k != "text" || !isString(c) {
					walk(c)
				}
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(blocks)
	return out
}

func isString(v any) bool { _, ok := v.(string); return ok }

// buttons returns the action_id → value of every button in a message's blocks.
func buttons(blocks any) map[string]string {
	out := map[string]string{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "button" {
				id, _ := x["action_id"].(string)
				val, _ := x["value"].(string)
				out[id] = val
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(blocks)
	return out
}

// eventBody is an event_callback wrapping inner, as the Events API sends it.
func eventBody(eventID string, inner map[string]any) []byte {
	body, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(), "event": inner,
		"authorizations": []map[string]any{{"team_id": "T1", "user_id": "UBOT", "is_bot": true}},
	})
	return body
}

func mention(text, ts, threadTS string) map[string]any {
	m := map[string]any{"type": "app_mention", "user": "U1", "text": text, "ts": ts, "channel": "C1", "event_ts": ts}
	if threadTS != "" {
		m["thread_ts"] = threadTS
	}
	return m
}

func dm(text, ts string) map[string]any {
	return map[string]any{"type": "message", "channel_type": "im", "user": "U2", "text": text, "ts": ts, "channel": "D1", "event_ts": ts}
}

// interaction is a block_actions payload for a click on a button, as a signed form body.
func interaction(responseURL, trigger, actionID, value string, ephemeral bool) []byte {
	p, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": trigger, "response_url": responseURL,
		"user": map[string]any{"id": "U1"}, "team": map[string]any{"id": "T1"}, "channel": map[string]any{"id": "C1"},
		"container": map[string]any{"type": "message", "message_ts": "1.2", "is_ephemeral": ephemeral},
		"actions":   []map[string]any{{"type": "button", "action_id": actionID, "block_id": "b", "value": value, "action_ts": "1.3"}},
	})
	return []byte(url.Values{"payload": {string(p)}}.Encode())
}
