package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/scobot/scobot/bot"
)

// TestSignatureKnownAnswer checks the verifier against the example in Slack's
// "Verifying requests from Slack" page, and against slack-go's own verifier.
func TestSignatureKnownAnswer(t *testing.T) {
	const (
		ts   = "1531420618"
		body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		want = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	)
	if got := sign(testSecret, 1531420618, []byte(body)); got != want {
		t.Fatalf("test signer: got %s, want %s", got, want)
	}
	if !validSignature([]byte(testSecret), ts, []byte(body), want) {
		t.Error("validSignature refused Slack's documented example")
	}
	if validSignature([]byte(testSecret), ts, []byte(body+"x"), want) {
		t.Error("validSignature accepted a tampered body")
	}
	// slack-go agrees on a fresh request (its verifier has no clock to set).
	now := strconv.FormatInt(time.Now().Unix(), 10)
	sig := sign(testSecret, time.Now().Unix(), []byte(body))
	h := http.Header{}
	h.Set(headerTimestamp, now)
	h.Set(headerSignature, sig)
	sv, err := slack.NewSecretsVerifier(h, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	sv.Write([]byte(body))
	if err := sv.Ensure(); err != nil {
		t.Errorf("slack-go refused our signature: %v", err)
	}
	if !validSignature([]byte(testSecret), now, []byte(body), sig) {
		t.Error("validSignature refused what slack-go accepts")
	}
}

// TestRefused sends requests that fail verification to every endpoint: each gets 401
// and nothing happens: no query, no post, no queued job, no remembered id.
func TestRefused(t *testing.T) {
	e := newEnv(t, true, func(b *Bot) { b.maxBody = 4096 })
	good := []byte(url.Values{"user_id": {"U1"}, "text": {"when does kazakhstan chair the sco"}, "trigger_id": {"t-refused"}}.Encode())
	now := time.Now().Unix()
	tests := []struct {
		name   string
		ts     string
		sig    string
		body   []byte
		mutate func(*http.Request)
	}{
		{name: "no signature", ts: strconv.FormatInt(now, 10), sig: "", body: good},
		{name: "no timestamp", ts: "", sig: sign(testSecret, now, good), body: good},
		{name: "bad signature", ts: strconv.FormatInt(now, 10), sig: sign("wrong-secret", now, good), body: good},
		{name: "signature not hex", ts: strconv.FormatInt(now, 10), sig: "v0=" + strings.Repeat("zz", 32), body: good},
		{name: "signature truncated", ts: strconv.FormatInt(now, 10), sig: sign(testSecret, now, good)[:40], body: good},
		{name: "wrong version", ts: strconv.FormatInt(now, 10), sig: "v1=" + sign(testSecret, now, good)[3:], body: good},
		{name: "stale timestamp", ts: strconv.FormatInt(now-301, 10), sig: sign(testSecret, now-301, good), body: good},
		{name: "future timestamp", ts: strconv.FormatInt(now+301, 10), sig: sign(testSecret, now+301, good), body: good},
		{name: "timestamp not a number", ts: "12x", sig: sign(testSecret, now, good), body: good},
		{name: "tampered body", ts: strconv.FormatInt(now, 10), sig: sign(testSecret, now, good), body: bytes.Replace(good, []byte("U1"), []byte("U2"), 1)},
		{name: "signed other timestamp", ts: strconv.FormatInt(now-1, 10), sig: sign(testSecret, now, good), body: good},
		{name: "oversized body", ts: strconv.FormatInt(now, 10), sig: sign(testSecret, now, bytes.Repeat([]byte("a"), 4097)), body: bytes.Repeat([]byte("a"), 4097)},
		{name: "oversized body, no length", ts: strconv.FormatInt(now, 10), sig: sign(testSecret, now, bytes.Repeat([]byte("a"), 4097)), body: bytes.Repeat([]byte("a"), 4097),
			mutate: func(r *http.Request) { r.ContentLength = -1 }},
	}
	for _, path := range []string{"/slack/commands", "/slack/interactive", "/slack/events"} {
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(tt.body))
				if tt.ts != "" {
					r.Header.Set(headerTimestamp, tt.ts)
				}
				if tt.sig != "" {
					r.Header.Set(headerSignature, tt.sig)
				}
				if tt.mutate != nil {
					tt.mutate(r)
				}
				w := httptest.NewRecorder()
				e.mux.ServeHTTP(w, r)
				if got, want := w.Code, http.StatusUnauthorized; got != want {
					t.Errorf("status: got %d, want %d", got, want)
				}
			})
		}
	}
	time.Sleep(50 * time.Millisecond) // anything wrongly queued would have run by now
	q, f, a := e.log.snapshot()
	posts, responses := e.api.snapshot()
	if len(q)+len(f)+len(a)+len(posts)+len(responses) != 0 {
		t.Errorf("refused requests changed something: %d queries, %d votes, %d admin actions, %d posts, %d responses",
			len(q), len(f), len(a), len(posts), len(responses))
	}
	if n := e.bot.triggers.len() + e.bot.events.len(); n != 0 {
		t.Errorf("refused requests left %d remembered ids", n)
	}
	// The same request, properly signed, is answered.
	if w := e.slash("U1", "when does kazakhstan chair the sco", "t-ok"); w.Code != http.StatusOK {
		t.Errorf("a valid request after the refusals: status %d", w.Code)
	}
}

func TestURLVerification(t *testing.T) {
	e := newEnv(t, false, nil)
	body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	w := e.do("/slack/events", body, "application/json")
	if got, want := w.Code, http.StatusOK; got != want {
		t.Fatalf("status: got %d, want %d", got, want)
	}
	if got, want := w.Body.String(), "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"; got != want {
		t.Errorf("body: got %q, want the challenge %q", got, want)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type: got %q, want text/plain", ct)
	}
}

func TestSlashAnswer(t *testing.T) {
	e := newEnv(t, false, nil)
	m := slashReply(t, e.slash("U1", "When does Kazakhstan chair the SCO?", "t1"))
	if got, want := m["response_type"], "ephemeral"; got != want {
		t.Errorf("response_type: got %v, want %v", got, want)
	}
	blocks, _ := m["blocks"].([]any)
	if len(blocks) == 0 {
		t.Fatalf("no blocks: %v", m)
	}
	if got, want := blocks[0].(map[string]any)["type"], "header"; got != want {
		t.Errorf("first block: got %v, want %v", got, want)
	}
	texts := strings.Join(blockTexts(blocks), "\n")
	for _, want := range []string{"When is Kazakhstan's SCO presidency?", "*July 2023 to July 2024*", "*Source:* Overview", "\n>"} {
		if !strings.Contains(texts, want) {
			t.Errorf("answer lacks %q:\n%s", want, texts)
		}
	}
	if text, _ := m["text"].(string); !strings.Contains(text, "July 2023") {
		t.Errorf("fallback text: got %q, want the answer in plain text", text)
	}
	q, _, _ := e.log.snapshot()
	if len(q) != 1 {
		t.Fatalf("queries logged: got %d, want 1", len(q))
	}
	if got, want := q[0].Platform, bot.PlatformSlack; got != want {
		t.Errorf("platform: got %v, want %v", got, want)
	}
	if q[0].User != "U1" || q[0].Chat != "C1" || q[0].Workspace != "T1" || !q[0].Answered {
		t.Errorf("logged query: got %+v", q[0])
	}
	btn := buttons(blocks)
	if got, want := btn[actionVoteUp], q[0].ID; got != want {
		t.Errorf("vote button value: got %q, want the query id %q", got, want)
	}
	if _, ok := btn[actionVoteDown]; !ok {
		t.Errorf("no vote-down button: %v", btn)
	}
}

func TestSlashCommands(t *testing.T) {
	tests := []struct {
		name, user, text string
		wantType         string
		wantText         []string
		wantAdmin        string // the recorded admin action's result, if any
	}{
		{name: "share", user: "U1", text: "share when does kazakhstan chair the sco", wantType: "in_channel", wantText: []string{"July 2023"}},
		{name: "help", user: "U1", text: "help", wantType: "ephemeral", wantText: []string{"`/sco share QUESTION`", "topics"}},
		{name: "empty is help", user: "U1", text: "  ", wantType: "ephemeral", wantText: []string{"`/sco QUESTION`"}},
		{name: "topics", user: "U1", text: "topics", wantType: "ephemeral", wantText: []string{"*Enhancing Regional Security and Stability*", "• "}},
		{name: "declined", user: "U1", text: "best pizza recipe", wantType: "ephemeral", wantText: []string{"doesn't cover", "/sco topics"}},
		{name: "admin stats", user: adminID, text: "stats", wantType: "ephemeral", wantText: []string{"Last 7 days", "Questions: *"}, wantAdmin: "ok"},
		{name: "admin unanswered", user: adminID, text: "unanswered", wantType: "ephemeral", wantText: []string{"unanswered"}, wantAdmin: "ok"},
		{name: "admin reload reports problems", user: adminID, text: "reload", wantType: "ephemeral",
			wantText: []string{"not changed", "kb/x.md:3: title is empty", "&lt;unknown&gt; section &amp; more"}},
		{name: "non-admin stats refused", user: "U1", text: "stats", wantType: "ephemeral", wantText: []string{"only admins"}, wantAdmin: "refused"},
		{name: "non-admin reload refused", user: "U1", text: "reload", wantType: "ephemeral", wantText: []string{"only admins"}, wantAdmin: "refused"},
		{name: "admin output never shared", user: adminID, text: "share stats", wantType: "ephemeral", wantText: []string{"Last 7 days"}, wantAdmin: "ok"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, false, nil)
			m := slashReply(t, e.slash(tt.user, tt.text, "trig-"+strconv.Itoa(i)))
			if got := m["response_type"]; got != tt.wantType {
				t.Errorf("response_type: got %v, want %v", got, tt.wantType)
			}
			texts := strings.Join(blockTexts(m["blocks"]), "\n")
			for _, want := range tt.wantText {
				if !strings.Contains(texts, want) {
					t.Errorf("reply lacks %q:\n%s", want, texts)
				}
			}
			_, _, admin := e.log.snapshot()
			if tt.wantAdmin != "" {
				if len(admin) != 1 || admin[0].Result != tt.wantAdmin || admin[0].User != tt.user {
					t.Errorf("admin actions: got %+v, want one by %s with result %q", admin, tt.user, tt.wantAdmin)
				}
			}
		})
	}
}

// TestSlashEscaping checks that what a user types is echoed as text: no @channel ping,
// no link, no broken message. Slack sends what the user typed with &, < and > escaped
// and mentions as <!channel>.
func TestSlashEscaping(t *testing.T) {
	e := newEnv(t, false, nil)
	m := slashReply(t, e.slash("U1", "share <!channel> &amp; &lt;b&gt;summit&lt;/b&gt;", "t-esc"))
	texts := strings.Join(blockTexts(m["blocks"]), "\n")
	if strings.Contains(texts, "<!channel>") || strings.Contains(texts, "<b>") {
		t.Errorf("user text echoed unescaped:\n%s", texts)
	}
	if !strings.Contains(texts, "&amp; &lt;b&gt;summit&lt;/b&gt;") {
		t.Errorf("question echo: got\n%s\nwant the question escaped", texts)
	}
	q, _, _ := e.log.snapshot()
	if len(q) != 1 || q[0].Question != "& <b>summit</b>" {
		t.Errorf("the logged question should have lost the mention: %+v", q)
	}
}

// TestSlashReplay replays a signed slash command within the timestamp window: it is
// answered once.
func TestSlashReplay(t *testing.T) {
	e := newEnv(t, false, nil)
	v := url.Values{"user_id": {"U1"}, "team_id": {"T1"}, "channel_id": {"C1"}, "command": {"/sco"}, "text": {"summit"}, "trigger_id": {"t-replay"}}
	body := []byte(v.Encode())
	first := signedRequest("/slack/commands", body, "application/x-www-form-urlencoded")
	for i, want := range []bool{true, false} {
		again := httptest.NewRequest(http.MethodPost, "/slack/commands", bytes.NewReader(body))
		again.Header = first.Header.Clone() // the same timestamp and signature
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, again)
		if w.Code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, w.Code)
		}
		if got := w.Body.Len() > 0; got != want {
			t.Errorf("delivery %d answered: got %v, want %v", i, got, want)
		}
	}
	if q, _, _ := e.log.snapshot(); len(q) != 1 {
		t.Errorf("queries logged: got %d, want 1", len(q))
	}
}

// slowHandler is the real core behind a gate: Handle waits until release is closed.
type slowHandler struct {
	Handler
	release chan struct{}
}

func (s slowHandler) Handle(ctx context.Context, m bot.Message) bot.Reply {
	<-s.release
	return s.Handler.Handle(ctx, m)
}

func slowEnv(t *testing.T, answerWithin time.Duration, opts ...option) (*env, chan struct{}) {
	e := newEnv(t, false, nil, opts...)
	release := make(chan struct{})
	cfg := e.bot.cfg
	e.mux = http.NewServeMux()
	e = e.finish(cfg, slowHandler{Handler: e.core, release: release}, false, func(b *Bot) { b.answerWithin = answerWithin })
	if !cfg.SocketMode() {
		e.finishRun()
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return e, release
}

// TestSlashSlowHandler: a core slower than Slack's 3 s still gets the command
// answered in time ("working on it"), and its answer follows through response_url.
func TestSlashSlowHandler(t *testing.T) {
	e, release := slowEnv(t, 300*time.Millisecond)
	start := time.Now()
	m := slashReply(t, e.slash("U1", "share When does Kazakhstan chair the SCO?", "t-slow"))
	if took := time.Since(start); took > time.Second {
		t.Errorf("answered after %v, want within answerWithin", took)
	}
	if got, want := m["text"], workingText; got != want {
		t.Errorf("interim answer: got %v, want %v", got, want)
	}
	close(release)
	waitFor(t, "the late answer", 5*time.Second, func() bool { _, r := e.api.snapshot(); return len(r) == 1 })
	_, r := e.api.snapshot()
	if got, want := r[0]["_path"], "/respond/slash-t-slow"; got != want {
		t.Errorf("late answer went to %v, want %v", got, want)
	}
	if got, want := r[0]["response_type"], "in_channel"; got != want {
		t.Errorf("late answer response_type: got %v, want %v", got, want)
	}
	if !strings.Contains(strings.Join(blockTexts(r[0]["blocks"]), "\n"), "July 2023") {
		t.Errorf("late answer: got %v", r[0])
	}
}

// TestEventsSlowHandler: events are acknowledged at once however slow the answer.
func TestEventsSlowHandler(t *testing.T) {
	e, release := slowEnv(t, 300*time.Millisecond)
	start := time.Now()
	for i := range 5 {
		w := e.do("/slack/events", eventBody("Ev-slow-"+strconv.Itoa(i), mention("<@UBOT> summit", "1.000"+strconv.Itoa(i), "")), "application/json")
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("5 events acknowledged in %v, want at once", took)
	}
	close(release)
	waitFor(t, "the answers", 5*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) == 5 })
}

func TestEventMentionsAndDMs(t *testing.T) {
	tests := []struct {
		name       string
		inner      map[string]any
		wantChan   string
		wantThread string
	}{
		{name: "mention in a channel", inner: mention("<@UBOT> when does Kazakhstan chair the SCO?", "1700000000.000100", ""), wantChan: "C1", wantThread: "1700000000.000100"},
		{name: "mention in a thread", inner: mention("hey <@UBOT|scobot> when does Kazakhstan chair the SCO?", "1700000000.000300", "1700000000.000001"), wantChan: "C1", wantThread: "1700000000.000001"},
		{name: "direct message", inner: dm("When does Kazakhstan chair the SCO?", "1700000000.000500"), wantChan: "D1", wantThread: "1700000000.000500"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, true, nil)
			w := e.do("/slack/events", eventBody("Ev"+strconv.Itoa(i), tt.inner), "application/json")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			waitFor(t, "the answer", 5*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) == 1 })
			p, _ := e.api.snapshot()
			if got := p[0].Channel; got != tt.wantChan {
				t.Errorf("channel: got %q, want %q", got, tt.wantChan)
			}
			if got := p[0].ThreadTS; got != tt.wantThread {
				t.Errorf("thread_ts: got %q, want %q", got, tt.wantThread)
			}
			if !strings.Contains(p[0].Text, "July 2023") || !strings.Contains(strings.Join(blockTexts(toAny(p[0].Blocks)), "\n"), "July 2023") {
				t.Errorf("answer: got text %q, blocks %v", p[0].Text, p[0].Blocks)
			}
			q, _, _ := e.log.snapshot()
			if len(q) != 1 || strings.Contains(q[0].Question, "<@") || strings.Contains(q[0].Question, "UBOT") {
				t.Errorf("logged question should be the question alone: %+v", q)
			}
		})
	}
}

func toAny(blocks []map[string]any) []any {
	out := make([]any, len(blocks))
	for i, b := range blocks {
		out[i] = b
	}
	return out
}

// TestAdminCommandsStayPrivate: an admin's "@scobot stats" in a channel does not post
// the statistics there; in a direct message it does.
func TestAdminCommandsStayPrivate(t *testing.T) {
	e := newEnv(t, true, nil)
	inChannel := mention("<@UBOT> stats", "5.1", "")
	inChannel["user"] = adminID
	inDM := dm("stats", "5.2")
	inDM["user"] = adminID
	e.do("/slack/events", eventBody("Ev-adm1", inChannel), "application/json")
	e.do("/slack/events", eventBody("Ev-adm2", inDM), "application/json")
	e.stop()
	p, _ := e.api.snapshot()
	if len(p) != 2 {
		t.Fatalf("answers: got %d, want 2", len(p))
	}
	byChannel := map[string]string{}
	for _, x := range p {
		byChannel[x.Channel] = strings.Join(blockTexts(toAny(x.Blocks)), "\n")
	}
	if got := byChannel["C1"]; strings.Contains(got, "Last 7 days") || !strings.Contains(got, "direct message") {
		t.Errorf("in the channel: got %q, want a pointer to a private place", got)
	}
	if got := byChannel["D1"]; !strings.Contains(got, "Last 7 days") {
		t.Errorf("in the direct message: got %q, want the statistics", got)
	}
}

// TestEventsIgnored: the bot's own messages, other bots', edits, and messages outside
// direct messages get no answer.
func TestEventsIgnored(t *testing.T) {
	own := dm("summit", "1.1")
	own["user"] = "UBOT"
	otherBot := dm("summit", "1.2")
	otherBot["bot_id"] = "B999"
	botMention := mention("<@UBOT> summit", "1.3", "")
	botMention["bot_id"] = "B999"
	edited := dm("summit", "1.4")
	edited["subtype"] = "message_changed"
	botMessage := dm("summit", "1.5")
	botMessage["subtype"] = "bot_message"
	channelMsg := dm("summit", "1.6")
	channelMsg["channel_type"] = "channel"
	editedMention := mention("<@UBOT> summit", "1.7", "")
	editedMention["edited"] = map[string]any{"user": "U1", "ts": "1.8"}
	unknown := map[string]any{"type": "reaction_added", "user": "U1"}
	tests := map[string]map[string]any{
		"own message": own, "other bot": otherBot, "mention by a bot": botMention, "edit": edited,
		"bot_message": botMessage, "channel message": channelMsg, "edited mention": editedMention, "unknown type": unknown,
	}
	e := newEnv(t, true, nil)
	i := 0
	for name, inner := range tests {
		i++
		if w := e.do("/slack/events", eventBody("EvIgn"+strconv.Itoa(i), inner), "application/json"); w.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", name, w.Code)
		}
	}
	e.stop() // drains the queue
	if p, _ := e.api.snapshot(); len(p) != 0 {
		t.Errorf("ignored events were answered: %+v", p)
	}
	if q, _, _ := e.log.snapshot(); len(q) != 0 {
		t.Errorf("ignored events were logged: %+v", q)
	}
}

// TestEventRetriedAnsweredOnce: Slack redelivers an event (X-Slack-Retry-Num) while
// the first delivery is still being handled, and again later: one answer.
func TestEventRetriedAnsweredOnce(t *testing.T) {
	e, release := slowEnv(t, time.Second)
	body := eventBody("Ev-retry", mention("<@UBOT> summit", "1700000000.000100", ""))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			r := signedRequest("/slack/events", body, "application/json")
			if i > 0 {
				r.Header.Set("X-Slack-Retry-Num", strconv.Itoa(i))
				r.Header.Set("X-Slack-Retry-Reason", "http_timeout")
			}
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Errorf("delivery %d: status %d, want 200 (a retry must be acknowledged)", i, w.Code)
			}
		})
	}
	wg.Wait()
	close(release)
	waitFor(t, "the answer", 5*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) >= 1 })
	// A late retry, after the answer.
	r := signedRequest("/slack/events", body, "application/json")
	r.Header.Set("X-Slack-Retry-Num", "3")
	e.mux.ServeHTTP(httptest.NewRecorder(), r)
	e.stop()
	if p, _ := e.api.snapshot(); len(p) != 1 {
		t.Errorf("answers: got %d, want 1", len(p))
	}
	if q, _, _ := e.log.snapshot(); len(q) != 1 {
		t.Errorf("queries logged: got %d, want 1", len(q))
	}
}

// TestEventQueueFull: an event that cannot be queued is refused (503) without being
// remembered, so that Slack's retry is handled rather than dropped as a duplicate.
func TestEventQueueFull(t *testing.T) {
	e := newEnv(t, false, func(b *Bot) { b.queue = make(chan func(context.Context), 1) })
	first := eventBody("Ev-q1", mention("<@UBOT> summit", "1.1", ""))
	second := eventBody("Ev-q2", mention("<@UBOT> summit", "1.2", ""))
	if w := e.do("/slack/events", first, "application/json"); w.Code != http.StatusOK {
		t.Fatalf("first: status %d, want 200", w.Code)
	}
	if w := e.do("/slack/events", second, "application/json"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("second, queue full: status %d, want 503", w.Code)
	}
	e.finishRun()
	waitFor(t, "the first answer", 5*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) == 1 })
	if w := e.do("/slack/events", second, "application/json"); w.Code != http.StatusOK {
		t.Fatalf("second, retried: status %d, want 200", w.Code)
	}
	waitFor(t, "the retried answer", 5*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) == 2 })
}

// finishRun starts Run on an env built without it.
func (e *env) finishRun() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.bot.Run(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
}

func TestButtonVote(t *testing.T) {
	e := newEnv(t, true, nil)
	m := slashReply(t, e.slash("U1", "When does Kazakhstan chair the SCO?", "t-v1"))
	qid := buttons(m["blocks"])[actionVoteUp]
	w := e.do("/slack/interactive", interaction(e.api.responseURL("vote"), "t-v2", actionVoteDown, qid, true), "application/x-www-form-urlencoded")
	if got, want := w.Code, http.StatusOK; got != want {
		t.Fatalf("status: got %d, want %d", got, want)
	}
	waitFor(t, "the thanks", 5*time.Second, func() bool { _, r := e.api.snapshot(); return len(r) == 1 })
	_, f, _ := e.log.snapshot()
	if len(f) != 1 || f[0].QueryID != qid || f[0].Vote != bot.VoteDown || f[0].User != "U1" || f[0].Platform != bot.PlatformSlack {
		t.Errorf("votes recorded: got %+v, want one down vote on %s by U1", f, qid)
	}
	_, r := e.api.snapshot()
	if got, want := r[0]["replace_original"], false; got != want {
		t.Errorf("replace_original: got %v, want %v (the answer stays)", got, want)
	}
	if got, want := r[0]["response_type"], "ephemeral"; got != want {
		t.Errorf("response_type: got %v, want %v", got, want)
	}
	if text, _ := r[0]["text"].(string); !strings.Contains(text, "Thanks") {
		t.Errorf("text: got %q, want thanks", text)
	}
}

// TestButtonSuggestion: a "did you mean" click answers in place through response_url.
func TestButtonSuggestion(t *testing.T) {
	for _, ephemeralMsg := range []bool{true, false} {
		t.Run("ephemeral="+strconv.FormatBool(ephemeralMsg), func(t *testing.T) {
			e := newEnv(t, true, nil)
			w := e.do("/slack/interactive", interaction(e.api.responseURL("pick"), "t-p1", actionEntry+"1", "presidency-dates", ephemeralMsg), "application/x-www-form-urlencoded")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			waitFor(t, "the answer", 5*time.Second, func() bool { _, r := e.api.snapshot(); return len(r) == 1 })
			_, r := e.api.snapshot()
			if got, want := r[0]["replace_original"], true; got != want {
				t.Errorf("replace_original: got %v, want %v", got, want)
			}
			wantType := "in_channel"
			if ephemeralMsg {
				wantType = "ephemeral"
			}
			if got := r[0]["response_type"]; got != wantType {
				t.Errorf("response_type: got %v, want %v", got, wantType)
			}
			if texts := strings.Join(blockTexts(r[0]["blocks"]), "\n"); !strings.Contains(texts, "When is Kazakhstan's SCO presidency?") {
				t.Errorf("answer: got\n%s", texts)
			}
			q, _, _ := e.log.snapshot()
			if len(q) != 1 || q[0].EntryID != "presidency-dates" || q[0].User != "U1" {
				t.Errorf("logged: got %+v", q)
			}
		})
	}
}

// TestRateLimited: a 429 with Retry-After is waited out and the call made again.
func TestRateLimited(t *testing.T) {
	e := newEnv(t, true, nil)
	e.api.mu.Lock()
	e.api.limit429 = 1
	e.api.mu.Unlock()
	start := time.Now()
	e.do("/slack/events", eventBody("Ev-429", dm("summit", "1.9")), "application/json")
	waitFor(t, "the answer", 10*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) == 1 })
	if took := time.Since(start); took < time.Second {
		t.Errorf("answered after %v, want after Retry-After: 1", took)
	}
	if !strings.Contains(e.logs.String(), "rate limited") {
		t.Errorf("the wait was not logged:\n%s", e.logs.String())
	}
}

func TestRespondRateLimited(t *testing.T) {
	e := newEnv(t, false, nil)
	e.api.mu.Lock()
	e.api.limit429 = 1
	e.api.mu.Unlock()
	start := time.Now()
	if err := e.bot.respond(context.Background(), e.api.responseURL("r429"), message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("responded after %v, want after Retry-After: 1", took)
	}
	if _, r := e.api.snapshot(); len(r) != 1 {
		t.Errorf("responses: got %d, want 1", len(r))
	}
}

// TestErrorsHideSecrets makes the Web API refuse the token and a response_url fail, and
// checks that neither the errors nor the log show a secret (newEnv's cleanup checks the
// log) or the response_url's path.
func TestErrorsHideSecrets(t *testing.T) {
	e := newEnv(t, true, nil)
	e.api.mu.Lock()
	e.api.fail = "invalid_auth"
	e.api.mu.Unlock()
	err := e.bot.postMessage(context.Background(), "C1", "", message{Text: "x"})
	if err == nil || strings.Contains(err.Error(), testBotToken) {
		t.Errorf("postMessage error: got %v, want an error without the token", err)
	}
	e.do("/slack/events", eventBody("Ev-auth", dm("summit", "2.1")), "application/json")
	waitFor(t, "the failure logged", 5*time.Second, func() bool { return strings.Contains(e.logs.String(), "invalid_auth") })
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	err = e.bot.respond(context.Background(), dead.URL+"/commands/T1/123/SECRETPATH", message{Text: "x"})
	if err == nil || strings.Contains(err.Error(), "SECRETPATH") {
		t.Errorf("respond error: got %v, want an error without the URL's path", err)
	}
}

func TestReadyHTTP(t *testing.T) {
	e := newEnv(t, false, nil)
	if err := e.bot.Ready(); err == nil {
		t.Error("Ready before Run: got nil, want an error")
	}
	e.finishRun()
	waitFor(t, "ready", time.Second, func() bool { return e.bot.Ready() == nil })
	e.stop()
	if err := e.bot.Ready(); err == nil {
		t.Error("Ready after Run: got nil, want an error")
	}
	if err := e.bot.Run(context.Background()); err == nil {
		t.Error("a second Run: got nil, want an error")
	}
	// Work offered after Run has ended is refused, so Slack retries it elsewhere.
	if w := e.do("/slack/events", eventBody("Ev-late", dm("summit", "3.1")), "application/json"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("event after Run: status %d, want 503", w.Code)
	}
}

func TestNoBotToken(t *testing.T) {
	e := newEnv(t, true, nil, withoutBotToken)
	e.do("/slack/events", eventBody("Ev-nt", dm("summit", "4.1")), "application/json")
	e.stop()
	if p, _ := e.api.snapshot(); len(p) != 0 {
		t.Errorf("posted without a bot token: %+v", p)
	}
	if q, _, _ := e.log.snapshot(); len(q) != 0 {
		t.Errorf("a question nobody would see the answer to was logged: %+v", q)
	}
	if !strings.Contains(e.logs.String(), "SLACK_BOT_TOKEN is not set") {
		t.Errorf("the missing token was not logged:\n%s", e.logs.String())
	}
	// Slash commands still work: their answer is the HTTP response.
	if m := slashReply(t, e.slash("U1", "summit", "t-nt")); m["blocks"] == nil {
		t.Errorf("slash command without a bot token: got %v", m)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, true, nil)
	tests := []struct {
		path, body string
		want       int
	}{
		{"/slack/commands", "text=hi", http.StatusBadRequest}, // no user_id
		{"/slack/commands", "%zz", http.StatusBadRequest},
		{"/slack/interactive", "payload=", http.StatusBadRequest},
		{"/slack/interactive", "payload=%7Bnot+json", http.StatusBadRequest},
		{"/slack/interactive", `payload={"type":"view_submission"}`, http.StatusOK}, // acknowledged, ignored
		{"/slack/events", "{", http.StatusBadRequest},
		{"/slack/events", `{"type":"app_rate_limited"}`, http.StatusOK},
		{"/slack/events", `{"type":"event_callback","event_id":"E1","event":{"type":"app_mention","blocks":[{"type":"nope"}]}}`, http.StatusOK},
	}
	for _, tt := range tests {
		if got := e.do(tt.path, []byte(tt.body), "application/x-www-form-urlencoded").Code; got != tt.want {
			t.Errorf("%s %q: got %d, want %d", tt.path, tt.body, got, tt.want)
		}
	}
	// GET is not an endpoint.
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/slack/commands", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: got %d, want 405", w.Code)
	}
}

// TestSlashOverNetwork serves the endpoints on a loopback server, as Slack reaches them.
func TestSlashOverNetwork(t *testing.T) {
	e := newEnv(t, true, nil)
	srv := httptest.NewServer(e.mux)
	defer srv.Close()
	body := []byte(url.Values{"user_id": {"U1"}, "team_id": {"T1"}, "channel_id": {"C1"}, "text": {"summit"}, "trigger_id": {"t-net"}}.Encode())
	r := signedRequest("/slack/commands", body, "application/x-www-form-urlencoded")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/slack/commands", bytes.NewReader(body))
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, decode %v", resp.StatusCode, err)
	}
	if !strings.Contains(strings.Join(blockTexts(m["blocks"]), " "), "summits") {
		t.Errorf("answer: got %v", m)
	}
}
