package slack

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeSocket is Slack's Socket Mode server: it greets each connection with hello and
// hands it to the test, which sends envelopes and reads the acks.
type fakeSocket struct {
	srv   *httptest.Server
	conns chan *fakeConn
	mu    sync.Mutex
	quiet bool // answer no pings, send nothing after hello
}

type fakeConn struct {
	ws  *websocket.Conn
	in  chan map[string]any // what the bot sent
	wmu sync.Mutex
}

func newFakeSocket(t *testing.T) *fakeSocket {
	fs := &fakeSocket{conns: make(chan *fakeConn, 10)}
	up := websocket.Upgrader{}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("ticket") != "SECRETTICKET" {
			http.Error(w, "no ticket", http.StatusForbidden)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		fc := &fakeConn{ws: ws, in: make(chan map[string]any, 100)}
		fs.mu.Lock()
		quiet := fs.quiet
		fs.mu.Unlock()
		if quiet {
			ws.SetPingHandler(func(string) error { return nil })
		}
		fc.send(t, map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A1"}})
		fs.conns <- fc
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				close(fc.in)
				return
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("the bot sent something that is not JSON: %q", data)
				continue
			}
			fc.in <- m
		}
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeSocket) url() string {
	return "ws" + strings.TrimPrefix(fs.srv.URL, "http") + "/link/?ticket=SECRETTICKET&app_id=A1"
}

func (fc *fakeConn) send(t *testing.T, v any) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	if err := fc.ws.WriteJSON(v); err != nil {
		t.Errorf("fake socket send: %v", err)
	}
}

// next returns the bot's next message, failing after a few seconds: Slack wants acks
// within 3.
func (fc *fakeConn) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m, ok := <-fc.in:
		if !ok {
			t.Fatal("the connection closed while waiting for an ack")
		}
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("no ack within 3 s")
	}
	return nil
}

func (fs *fakeSocket) nextConn(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-fs.conns:
		return fc
	case <-time.After(5 * time.Second):
		t.Fatal("the bot did not connect")
	}
	return nil
}

func socketEnv(t *testing.T, tune func(*Bot)) (*env, *fakeSocket) {
	fs := newFakeSocket(t)
	e := newEnv(t, false, tune, withSocketMode)
	e.api.mu.Lock()
	e.api.wsURL = fs.url()
	e.api.mu.Unlock()
	e.finishRun()
	return e, fs
}

func rawPayload(t *testing.T, body []byte) json.RawMessage {
	var m json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSocketMode(t *testing.T) {
	e, fs := socketEnv(t, func(b *Bot) { b.pingEvery, b.quietAfter = 50*time.Millisecond, 2*time.Second })
	// No HTTP endpoints in Socket Mode.
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, signedRequest("/slack/commands", []byte("user_id=U1"), "application/x-www-form-urlencoded"))
	if w.Code != http.StatusNotFound {
		t.Errorf("HTTP endpoint in Socket Mode: status %d, want 404", w.Code)
	}
	fc := fs.nextConn(t)
	waitFor(t, "ready", 2*time.Second, func() bool { return e.bot.Ready() == nil })

	// An event: acked, answered in its thread.
	ev := rawPayload(t, eventBody("Ev-sock", mention("<@UBOT> When does Kazakhstan chair the SCO?", "1700000000.000100", "")))
	fc.send(t, map[string]any{"envelope_id": "env-1", "type": "events_api", "payload": ev, "accepts_response_payload": false})
	if got := fc.next(t); got["envelope_id"] != "env-1" || got["payload"] != nil {
		t.Errorf("event ack: got %v, want {envelope_id: env-1}", got)
	}
	waitFor(t, "the answer", 5*time.Second, func() bool { p, _ := e.api.snapshot(); return len(p) == 1 })
	p, _ := e.api.snapshot()
	if p[0].Channel != "C1" || p[0].ThreadTS != "1700000000.000100" || !strings.Contains(p[0].Text, "July 2023") {
		t.Errorf("answer: got %+v", p[0])
	}

	// Its redelivery: acked, not answered again.
	fc.send(t, map[string]any{"envelope_id": "env-2", "type": "events_api", "payload": ev, "retry_attempt": 1, "retry_reason": "timeout"})
	if got := fc.next(t); got["envelope_id"] != "env-2" {
		t.Errorf("retry ack: got %v", got)
	}

	// A slash command: the answer rides on the ack.
	slash := map[string]any{"token": "x", "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/sco",
		"text": "share when does kazakhstan chair the sco", "response_url": e.api.responseURL("sock-slash"), "trigger_id": "t-s1"}
	fc.send(t, map[string]any{"envelope_id": "env-3", "type": "slash_commands", "payload": slash, "accepts_response_payload": true})
	got := fc.next(t)
	if got["envelope_id"] != "env-3" {
		t.Fatalf("slash ack: got %v", got)
	}
	payload, _ := got["payload"].(map[string]any)
	if payload["response_type"] != "in_channel" || !strings.Contains(strings.Join(blockTexts(payload["blocks"]), " "), "July 2023") {
		t.Errorf("slash ack payload: got %v", payload)
	}

	// A click: acked, answered through response_url.
	click := map[string]any{"type": "block_actions", "trigger_id": "t-s2", "response_url": e.api.responseURL("sock-click"),
		"user": map[string]any{"id": "U1"}, "team": map[string]any{"id": "T1"}, "channel": map[string]any{"id": "C1"},
		"container": map[string]any{"type": "message", "is_ephemeral": true},
		"actions":   []map[string]any{{"type": "button", "action_id": "entry_0", "block_id": "suggest", "value": "presidency-dates"}}}
	fc.send(t, map[string]any{"envelope_id": "env-4", "type": "interactive", "payload": click})
	if got := fc.next(t); got["envelope_id"] != "env-4" {
		t.Errorf("click ack: got %v", got)
	}
	waitFor(t, "the click's answer", 5*time.Second, func() bool { _, r := e.api.snapshot(); return len(r) == 1 })

	// Envelopes the bot does not understand are acked all the same.
	fc.send(t, map[string]any{"envelope_id": "env-5", "type": "something_new", "payload": map[string]any{}})
	if got := fc.next(t); got["envelope_id"] != "env-5" {
		t.Errorf("unknown envelope ack: got %v", got)
	}
	fc.send(t, map[string]any{"envelope_id": "env-6", "type": "events_api", "payload": "not an event"})
	if got := fc.next(t); got["envelope_id"] != "env-6" {
		t.Errorf("malformed event ack: got %v", got)
	}

	// Idle but alive: pings are answered, so the connection stays.
	time.Sleep(300 * time.Millisecond)
	if err := e.bot.Ready(); err != nil {
		t.Errorf("Ready on an idle, live connection: %v", err)
	}

	// Slack asks for a new connection: the bot opens one.
	fc.send(t, map[string]any{"type": "disconnect", "reason": "refresh_requested"})
	fs.nextConn(t)
	waitFor(t, "ready again", 2*time.Second, func() bool { return e.bot.Ready() == nil })
	e.api.mu.Lock()
	opens := e.api.opens
	e.api.mu.Unlock()
	if opens != 2 {
		t.Errorf("apps.connections.open calls: got %d, want 2", opens)
	}
	e.stop()
	if posts, _ := e.api.snapshot(); len(posts) != 1 {
		t.Errorf("answers posted: got %d, want 1 (the retry is a duplicate)", len(posts))
	}
	if q, _, _ := e.log.snapshot(); len(q) != 3 {
		t.Errorf("queries logged: got %d, want 3 (mention, slash command, click)", len(q))
	}
}

// TestSocketQuiet: a connection on which nothing arrives, not even pongs, is noticed,
// reported by Ready, and reopened.
func TestSocketQuiet(t *testing.T) {
	e, fs := socketEnv(t, func(b *Bot) { b.pingEvery, b.quietAfter = 20*time.Millisecond, 150*time.Millisecond })
	fs.mu.Lock()
	fs.quiet = true
	fs.mu.Unlock()
	// The first connection was made before quiet was set: make it go quiet by asking
	// for a new one, which is quiet.
	fc := fs.nextConn(t)
	fc.send(t, map[string]any{"type": "disconnect", "reason": "refresh_requested"})
	fs.nextConn(t)
	waitFor(t, "ready", 2*time.Second, func() bool { return e.bot.Ready() == nil })

	// Reopening fails for a while: Ready must say why.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := "ws" + strings.TrimPrefix(dead.URL, "http") + "/?ticket=SECRETTICKET"
	dead.Close()
	e.api.mu.Lock()
	e.api.wsURL = deadURL
	e.api.mu.Unlock()
	waitFor(t, "the quiet connection noticed", 3*time.Second, func() bool { return e.bot.Ready() != nil })
	time.Sleep(100 * time.Millisecond)
	err := e.bot.Ready()
	if err == nil || strings.Contains(err.Error(), "SECRETTICKET") {
		t.Errorf("Ready while reopening fails: got %v, want an error without the ticket", err)
	}

	// Reopening works again.
	fs.mu.Lock()
	fs.quiet = false
	fs.mu.Unlock()
	e.api.mu.Lock()
	e.api.wsURL = fs.url()
	e.api.mu.Unlock()
	fs.nextConn(t)
	waitFor(t, "ready after reopening", 3*time.Second, func() bool { return e.bot.Ready() == nil })
	if !strings.Contains(e.logs.String(), "quiet") {
		t.Errorf("the quiet connection was not logged")
	}
	if strings.Contains(e.logs.String(), "SECRETTICKET") {
		t.Errorf("the connection ticket appeared in the log")
	}
	e.stop()
	if err := e.bot.Ready(); err == nil {
		t.Error("Ready after Run: got nil, want an error")
	}
}

// TestSocketSlowSlash: over Socket Mode too, a slow core gets the slash command acked
// in time, and the answer follows through response_url.
func TestSocketSlowSlash(t *testing.T) {
	fs := newFakeSocket(t)
	e, release := slowEnv(t, 200*time.Millisecond, withSocketMode)
	e.api.mu.Lock()
	e.api.wsURL = fs.url()
	e.api.mu.Unlock()
	e.finishRun()
	fc := fs.nextConn(t)
	slash := map[string]any{"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/sco",
		"text": "when does kazakhstan chair the sco", "response_url": e.api.responseURL("sock-slow"), "trigger_id": "t-ss"}
	start := time.Now()
	fc.send(t, map[string]any{"envelope_id": "env-slow", "type": "slash_commands", "payload": slash, "accepts_response_payload": true})
	got := fc.next(t)
	if took := time.Since(start); took > time.Second {
		t.Errorf("acked after %v, want within answerWithin", took)
	}
	payload, _ := got["payload"].(map[string]any)
	if got["envelope_id"] != "env-slow" || payload["text"] != workingText {
		t.Errorf("ack: got %v, want the interim answer", got)
	}
	close(release)
	waitFor(t, "the late answer", 5*time.Second, func() bool { _, r := e.api.snapshot(); return len(r) == 1 })
	_, r := e.api.snapshot()
	if r[0]["replace_original"] != true || !strings.Contains(strings.Join(blockTexts(r[0]["blocks"]), " "), "July 2023") {
		t.Errorf("late answer: got %v", r[0])
	}
}
