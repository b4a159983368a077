package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
)

// Questions with known outcomes on the embedded knowledge base.
const (
	clearQuestion     = "educational exchanges" // answered: educational-youth-exchanges
	clearEntry        = "educational-youth-exchanges"
	ambiguousQuestion = "corridors" // answered, unsure, 3 suggestions
	declineWithSugg   = "Which country held the SCO presidency before Kazakhstan?"
	declineNoSugg     = "pizza recipe"
)

func entryTitle(t *testing.T, id string) string {
	t.Helper()
	kb, _ := knowledge.Default()
	e, ok := kb.Entry(id)
	if !ok {
		t.Fatalf("no entry %s", id)
	}
	return e.Title
}

func TestNewPollingStartsUp(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot()
	if got, want := b.Username(), "ScoTestBot"; got != want {
		t.Errorf("Username() = %q, want %q", got, want)
	}
	got := e.api.calledMethods()
	want := []string{"getMe", "setMyCommands", "setMyCommands", "deleteWebhook"}
	if !slices.Equal(got, want) {
		t.Errorf("start-up calls = %v, want %v", got, want)
	}
	sets := e.api.callsOf("setMyCommands")
	var menu []tgbotapi.BotCommand
	if err := json.Unmarshal([]byte(sets[0].form.Get("commands")), &menu); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range menu {
		names = append(names, c.Command)
	}
	if got, want := strings.Join(names, ","), "start,ask,topics,help"; got != want {
		t.Errorf("public menu = %s, want %s", got, want)
	}
	if sets[0].form.Has("scope") {
		t.Errorf("public menu has a scope: %s", sets[0].form.Get("scope"))
	}
	if got, want := sets[1].form.Get("scope"), fmt.Sprintf(`{"type":"chat","chat_id":%d}`, admin.ID); got != want {
		t.Errorf("admin menu scope = %s, want %s", got, want)
	}
	if !strings.Contains(sets[1].form.Get("commands"), `"reload"`) {
		t.Errorf("admin menu lacks reload: %s", sets[1].form.Get("commands"))
	}
	if del := e.api.callsOf("deleteWebhook"); del[0].form.Get("drop_pending_updates") == "true" {
		t.Error("deleteWebhook drops the pending updates")
	}
	if err := b.Ready(); err != nil {
		t.Errorf("Ready() = %v, want nil", err)
	}
	if got, poll := b.client.hc.Timeout, e.cfg.PollTimeout; got <= poll {
		t.Errorf("HTTP client timeout %v, want above the poll timeout %v", got, poll)
	}
}

func TestNewWebhookStartsUp(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.newBot(func(c *Config) {
		c.WebhookURL = "https://scobot.example/telegram/webhook"
		c.WebhookSecret = "s3cret_Webhook-token"
	})
	got := e.api.calledMethods()
	want := []string{"getMe", "setMyCommands", "setMyCommands", "setWebhook"}
	if !slices.Equal(got, want) {
		t.Errorf("start-up calls = %v, want %v", got, want)
	}
	form := e.api.callsOf("setWebhook")[0].form
	for k, want := range map[string]string{
		"url":             "https://scobot.example/telegram/webhook",
		"secret_token":    "s3cret_Webhook-token",
		"allowed_updates": `["message","callback_query"]`,
	} {
		if got := form.Get(k); got != want {
			t.Errorf("setWebhook %s = %q, want %q", k, got, want)
		}
	}
	if strings.Contains(e.logs.String(), "s3cret_Webhook-token") {
		t.Error("the webhook secret is in the log")
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"wrong token", func(c *Config) { c.Token = "999:wrongTokenWrongToken" }, "Unauthorized"},
		{"no server", func(c *Config) { c.APIEndpoint = "http://127.0.0.1:1/bot%s/%s" }, "getMe"},
		{"bad endpoint", func(c *Config) { c.APIEndpoint = "http://127.0.0.1/bot/%s" }, EnvAPIEndpoint},
		{"malformed token", func(c *Config) { c.Token = "not a token" }, EnvToken},
		{"webhook without secret", func(c *Config) { c.WebhookURL = "https://x.example/hook" }, EnvWebhookSecret},
	}
	for _, tt := range tests {
		cfg := e.cfg
		tt.mut(&cfg)
		_, err := New(context.Background(), cfg, e.core, e.db)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New() error = %v, want one containing %q", tt.name, err, tt.want)
			continue
		}
		for _, secret := range []string{cfg.Token, url.PathEscape(cfg.Token), url.QueryEscape(cfg.Token)} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: New() error shows the token: %v", tt.name, err)
			}
		}
	}
	if _, err := New(context.Background(), e.cfg, e.core, nil); err == nil {
		t.Error("New without a state store in polling mode succeeded")
	}
}

func TestAnswersAQuestion(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot()
	e.run(b)
	e.api.push(textUpdate(1, aliceDM, alice, clearQuestion))
	m := e.api.waitSent(t, 1)[0]

	if got, want := m.chatID, aliceDM.ID; got != want {
		t.Errorf("chat = %d, want %d", got, want)
	}
	if got, want := m.parseMode, "HTML"; got != want {
		t.Errorf("parse_mode = %q, want %q", got, want)
	}
	title := "<b>" + esc(entryTitle(t, clearEntry)) + "</b>\n\n"
	if !strings.HasPrefix(m.text, title) {
		t.Errorf("answer starts %q, want the bold title %q", m.text[:min(60, len(m.text))], title)
	}
	if !strings.Contains(m.text, "<b>Source:</b> ") {
		t.Errorf("answer has no source: %q", m.text)
	}
	if m.replyTo != 0 {
		t.Errorf("private answer replies to message %d, want a plain message", m.replyTo)
	}
	for _, label := range []string{"👍", "👎", "📖"} {
		if _, ok := m.button(label); !ok {
			t.Errorf("answer has no %s button", label)
		}
	}
	if got, want := m.buttonCount(), 3; got != want {
		t.Errorf("a clear answer has %d buttons, want %d (no suggestions)", got, want)
	}

	polls := e.api.callsOf("getUpdates")
	first := polls[0].form
	if got, want := first.Get("timeout"), "1"; got != want {
		t.Errorf("getUpdates timeout = %q, want %q", got, want)
	}
	if got, want := first.Get("allowed_updates"), `["message","callback_query"]`; got != want {
		t.Errorf("getUpdates allowed_updates = %q, want %q", got, want)
	}
	if first.Has("offset") {
		t.Errorf("first poll of a new bot sends offset %s, want none", first.Get("offset"))
	}
	waitFor(t, 5*time.Second, "a poll with offset 2", func() bool {
		ps := e.api.callsOf("getUpdates")
		return ps[len(ps)-1].form.Get("offset") == "2"
	})
	if st := e.stats(); st.Total != 1 || st.Answered != 1 {
		t.Errorf("query log: %d queries, %d answered; want 1, 1", st.Total, st.Answered)
	}
	v, ok, err := e.db.State(context.Background(), "telegram.7012345678.last_update_id")
	if err != nil || !ok || v != "1" {
		t.Errorf("stored last update id = %q, %v, %v; want \"1\"", v, ok, err)
	}
}

// stopAt is the core, but it ends the bot's run when it sees one message: a shutdown
// in the middle of a batch, after the batch was fetched and before it is confirmed.
type stopAt struct {
	Handler
	text string
	stop context.CancelFunc
}

func (s stopAt) Handle(ctx context.Context, m bot.Message) bot.Reply {
	if "/"+string(m.Command)+" "+m.Text == s.text {
		s.stop()
	}
	return s.Handler.Handle(ctx, m)
}

// TestRestartNeitherLosesNorRepeats stops a bot in the middle of a backlog, with a
// batch fetched but not yet confirmed to Telegram, and starts another on the same
// SQLite file: every update is answered exactly once.
func TestRestartNeitherLosesNorRepeats(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const total = 250
	var ups []tgbotapi.Update
	for i := 1; i <= total; i++ {
		chat := &tgbotapi.Chat{ID: int64(2000 + i%7), Type: "private"}
		ups = append(ups, textUpdate(i, chat, &tgbotapi.User{ID: chat.ID}, fmt.Sprintf("/start %d", i)))
	}
	e.api.push(ups...)
	e.api.mu.Lock()
	e.api.maxBatch = 20 // batches 1-20, 21-40, 41-60...
	e.api.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b1, err := New(context.Background(), e.cfg, stopAt{e.core, "/start 50", cancel}, e.db)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b1.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first bot did not stop")
	}
	// It finished the batch it had (41-60) and stored 60, but never polled again: the
	// fake still holds 41-250, as Telegram would, since nothing above 40 was confirmed.
	afterFirst := len(e.api.sentMessages())
	if afterFirst != 60 {
		t.Errorf("the first bot answered %d updates, want 60 (three whole batches)", afterFirst)
	}
	polls := e.api.callsOf("getUpdates")
	if got, want := polls[len(polls)-1].form.Get("offset"), "41"; got != want {
		t.Errorf("the first bot's last poll had offset %s, want %s", got, want)
	}

	t.Logf("the first bot answered %d of %d updates", afterFirst, total)
	b2 := e.newBot() // a fresh process: only the SQLite file carries over
	if got, want := b2.lastHandled, afterFirst; got != want {
		t.Errorf("second bot resumes after update %d, want %d (answered by the first)", got, want)
	}
	e.run(b2)
	e.api.waitSent(t, total)
	time.Sleep(100 * time.Millisecond) // any repeat would arrive now
	sent := e.api.sentMessages()
	if got, want := e.api.callsOf("getUpdates")[len(polls)].form.Get("offset"), "61"; got != want {
		t.Errorf("the second bot's first poll had offset %s, want %s", got, want)
	}

	if got, want := len(sent), total; got != want {
		t.Errorf("%d messages sent for %d updates across a restart, want exactly %d", got, total, want)
	}
	perChat := map[int64]int{}
	for _, m := range sent {
		perChat[m.chatID]++
	}
	for i := 1; i <= total; i++ {
		perChat[int64(2000+i%7)]--
	}
	for chat, n := range perChat {
		if n != 0 {
			t.Errorf("chat %d: %+d messages against updates", chat, n)
		}
	}
}

func TestDuplicateUpdatesIgnored(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.run(e.newBot())
	u1 := textUpdate(1, aliceDM, alice, clearQuestion)
	u2 := textUpdate(2, aliceDM, alice, ambiguousQuestion)
	e.api.push(u1, u2)
	e.api.waitSent(t, 2)
	// A server that sends them again (or a redelivery), and one update twice in a batch.
	polls := len(e.api.callsOf("getUpdates"))
	e.api.replay(u1, u2)
	waitFor(t, 5*time.Second, "the redelivery to be taken", func() bool { return len(e.api.callsOf("getUpdates")) > polls+1 })
	u3 := textUpdate(3, aliceDM, alice, "/help")
	e.api.push(u3, u3)
	e.api.waitSent(t, 3)
	time.Sleep(100 * time.Millisecond)
	if got, want := len(e.api.sentMessages()), 3; got != want {
		t.Errorf("%d messages for 3 distinct updates, want %d", got, want)
	}
}

func TestUnknownAndMalformedUpdatesDoNotStopTheLoop(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.run(e.newBot())
	e.api.pushRaw(1, `{"update_id":1,"message":"not an object"}`)
	e.api.pushRaw(2, `{"update_id":2,"poll":{"id":"p1","question":"?","options":[],"total_voter_count":0}}`)
	e.api.pushRaw(3, `{"update_id":3,"my_chat_member":{"chat":{"id":5,"type":"private"}},"brand_new_field":[1,2]}`)
	e.api.pushRaw(4, `{"update_id":4,"message":{"message_id":1,"date":1,"chat":{"id":77,"type":"private"},"text":"no sender"}}`)
	e.api.pushRaw(5, `{"update_id":5,"edited_message":{"message_id":2,"date":1,"chat":{"id":77,"type":"private"},"from":{"id":77},"text":"edited"}}`)
	e.api.pushRaw(6, `{"update_id":6,"message":{"message_id":3,"date":1,"chat":{"id":77,"type":"private"},"from":{"id":77},"sticker":{"file_id":"x"}}}`)
	e.api.pushRaw(7, `{"update_id":7,"callback_query":{"id":"cq7","from":{"id":77},"data":"\u0000\u00ffjunk"}}`)
	e.api.pushRaw(8, `[1,2,3]`)
	e.api.push(textUpdate(9, aliceDM, alice, clearQuestion))

	sent := e.api.waitSent(t, 1)
	if got, want := sent[0].chatID, aliceDM.ID; got != want {
		t.Errorf("answered chat %d, want %d", got, want)
	}
	waitFor(t, 5*time.Second, "the junk callback answered", func() bool { return len(e.api.callbackAnswers()) == 1 })
	if got := e.api.callbackAnswers()[0].Get("text"); !strings.Contains(got, "no longer works") {
		t.Errorf("junk button answered %q", got)
	}
	waitFor(t, 5*time.Second, "a poll past every update", func() bool {
		ps := e.api.callsOf("getUpdates")
		return ps[len(ps)-1].form.Get("offset") == "10"
	})
	time.Sleep(50 * time.Millisecond)
	if got, want := len(e.api.sentMessages()), 1; got != want {
		t.Errorf("%d messages sent, want %d (only the question)", got, want)
	}
	if !strings.Contains(e.logs.String(), "malformed update skipped") {
		t.Error("the malformed update was not logged")
	}
}

// TestGroupRules checks which group messages the bot answers: commands for it, mentions
// and replies to it, and nothing else.
func TestGroupRules(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot()
	e.run(b)
	me := &tgbotapi.User{ID: e.api.me.ID, IsBot: true, UserName: e.api.me.UserName}
	replyToBot := textUpdate(0, group, bob, clearQuestion)
	replyToBot.Message.ReplyToMessage = &tgbotapi.Message{MessageID: 5, From: me, Chat: group}
	replyToBob := textUpdate(0, group, alice, clearQuestion)
	replyToBob.Message.ReplyToMessage = &tgbotapi.Message{MessageID: 6, From: bob, Chat: group}
	textMention := textUpdate(0, group, bob, "Sco educational exchanges")
	textMention.Message.Entities = []tgbotapi.MessageEntity{{Type: "text_mention", Offset: 0, Length: 3, User: me}}
	fromBot := textUpdate(0, group, &tgbotapi.User{ID: 555, IsBot: true, UserName: "OtherBot"}, "/ask@ScoTestBot "+clearQuestion)

	tests := []struct {
		name string
		u    tgbotapi.Update
		want bool
	}{
		{"command for this bot", textUpdate(0, group, bob, "/ask@ScoTestBot "+clearQuestion), true},
		{"command for this bot, other case", textUpdate(0, group, bob, "/ask@scotestbot "+clearQuestion), true},
		{"command for another bot", textUpdate(0, group, bob, "/ask@OtherBot "+clearQuestion), false},
		{"bare known command", textUpdate(0, group, bob, "/ask "+clearQuestion), true},
		{"bare help", textUpdate(0, group, bob, "/help"), true},
		{"bare unknown command", textUpdate(0, group, bob, "/weather"), false},
		{"unknown command for this bot", textUpdate(0, group, bob, "/weather@ScoTestBot"), true},
		{"plain chatter", textUpdate(0, group, bob, clearQuestion), false},
		{"mention", textUpdate(0, group, bob, "@ScoTestBot "+clearQuestion), true},
		{"mention of another bot", textUpdate(0, group, bob, "hey @OtherBot "+clearQuestion), false},
		{"name without @", textUpdate(0, group, bob, "ScoTestBot "+clearQuestion), false},
		{"text mention", textMention, true},
		{"reply to the bot", replyToBot, true},
		{"reply to a person", replyToBob, false},
		{"message from a bot", fromBot, false},
	}
	var ups []tgbotapi.Update
	for i, tt := range tests {
		tt.u.UpdateID = i + 1
		tt.u.Message.MessageID = 1000 + i
		ups = append(ups, tt.u)
	}
	// A last command in the same group: everything before it has been dealt with once
	// its answer arrives, since one chat is handled and sent in order.
	end := textUpdate(len(tests)+1, group, bob, "/topics@ScoTestBot")
	end.Message.MessageID = 9999
	ups = append(ups, end)
	e.api.push(ups...)
	waitFor(t, 10*time.Second, "the closing /topics", func() bool {
		for _, m := range e.api.sentMessages() {
			if m.replyTo == 9999 {
				return true
			}
		}
		return false
	})
	answered := map[int]bool{}
	for _, m := range e.api.sentMessages() {
		answered[m.replyTo] = true
		if m.chatID != group.ID {
			t.Errorf("message to chat %d, want the group", m.chatID)
		}
	}
	for i, tt := range tests {
		if got := answered[1000+i]; got != tt.want {
			t.Errorf("%s: answered = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDeepLinks(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.run(e.newBot())
	e.api.push(textUpdate(1, aliceDM, alice, "/start "+clearEntry))
	m := e.api.waitSent(t, 1)[0]
	if want := "<b>" + esc(entryTitle(t, clearEntry)) + "</b>"; !strings.HasPrefix(m.text, want) {
		t.Errorf("deep link answered %q, want the entry %q", m.text, want)
	}
	if _, ok := m.button("👍"); !ok {
		t.Error("deep-linked answer has no vote buttons")
	}

	for i, text := range []string{"/start", "/start no-such-entry", "/topics"} {
		e.api.push(textUpdate(2+i, aliceDM, alice, text))
		m := e.api.waitSent(t, 2+i)[1+i]
		if text != "/topics" && !strings.HasPrefix(m.text, "Hello!") {
			t.Errorf("%q answered %q, want a greeting", text, m.text)
		}
		if got := m.buttonCount(); got < 10 {
			t.Errorf("%q: %d topic buttons, want one per section", text, got)
		}
		data, _ := m.button("Economic Cooperation")
		if data != "s:economic-cooperation" {
			t.Errorf("%q: economic cooperation button %q, want s:economic-cooperation", text, data)
		}
	}
}

// TestButtonsRoundTrip taps every kind of button the bot sends and checks what comes
// back: a vote recorded and acknowledged, a section, a suggested entry.
func TestButtonsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.run(e.newBot())
	e.api.push(textUpdate(1, aliceDM, alice, ambiguousQuestion))
	ans := e.api.waitSent(t, 1)[0]
	if !strings.Contains(ans.text, "Maybe one of these") {
		t.Errorf("unsure answer does not say so: %q", ans.text)
	}
	if got := ans.buttonCount(); got < 4 || got > 3+maxSuggestions {
		t.Errorf("unsure answer has %d buttons, want votes, section and 1-3 suggestions", got)
	}

	up, _ := ans.button("👍")
	down, _ := ans.button("👎")
	section, _ := ans.button("📖")
	var suggestion string
	for _, row := range ans.markup.InlineKeyboard {
		if d := *row[0].CallbackData; strings.HasPrefix(d, "e:") {
			suggestion = d
			break
		}
	}
	for _, d := range []string{up, down, section, suggestion} {
		if d == "" || len(d) > maxCallbackData {
			t.Fatalf("button data %q: missing or over 64 bytes", d)
		}
	}

	e.api.push(callbackUpdate(2, aliceDM, alice, up))
	waitFor(t, 5*time.Second, "the vote answered", func() bool { return len(e.api.callbackAnswers()) == 1 })
	if got, want := e.api.callbackAnswers()[0].Get("text"), "Thanks for the feedback!"; got != want {
		t.Errorf("vote answered %q, want %q", got, want)
	}
	e.api.push(callbackUpdate(3, aliceDM, bob, down))
	waitFor(t, 5*time.Second, "the second vote answered", func() bool { return len(e.api.callbackAnswers()) == 2 })
	st := e.stats()
	if len(st.Votes) != 1 || st.Votes[0].EntryID != "transport-energy-corridors" || st.Votes[0].Up != 1 || st.Votes[0].Down != 1 {
		t.Errorf("votes in the log = %+v, want 1 up and 1 down on transport-energy-corridors", st.Votes)
	}

	e.api.push(callbackUpdate(4, aliceDM, alice, section))
	sec := e.api.waitSent(t, 2)[1]
	if !strings.HasPrefix(sec.text, "<b>") || !strings.Contains(sec.text, "Source:") {
		t.Errorf("section button sent %q, want an answer", sec.text)
	}

	e.api.push(callbackUpdate(5, aliceDM, alice, suggestion))
	sug := e.api.waitSent(t, 3)[2]
	kb, _ := knowledge.Default()
	entry, _ := kb.Entry(strings.TrimPrefix(suggestion, "e:"))
	if want := "<b>" + esc(entry.Title) + "</b>"; !strings.HasPrefix(sug.text, want) {
		t.Errorf("suggestion button sent %q, want %q", sug.text, want)
	}
	waitFor(t, 5*time.Second, "every callback answered", func() bool { return len(e.api.callbackAnswers()) == 4 })

	e.api.push(textUpdate(6, aliceDM, alice, declineWithSugg))
	dec := e.api.waitSent(t, 4)[3]
	if !strings.Contains(dec.text, "Did you mean") {
		t.Errorf("decline with suggestions: %q", dec.text)
	}
	if n := dec.buttonCount(); n < 1 || n > maxSuggestions {
		t.Errorf("decline has %d buttons, want 1-3 suggestions", n)
	}
	e.api.push(textUpdate(7, aliceDM, alice, declineNoSugg))
	if dec := e.api.waitSent(t, 5)[4]; dec.buttonCount() != 0 || !strings.Contains(dec.text, "/topics") {
		t.Errorf("plain decline: %q with %d buttons", dec.text, dec.buttonCount())
	}
}

// problemReloader refuses every reload with many problems, some of them full of HTML.
type problemReloader struct{ n int }

func (r problemReloader) Reload(ctx context.Context, by string) (string, []string, error) {
	var ps []string
	for i := range r.n {
		ps = append(ps, fmt.Sprintf("entry-%03d.md:%d: title must be <= 80 chars & not \"%s\"", i, i+1, strings.Repeat("<b>x</b>", 3)))
	}
	return "", ps, fmt.Errorf("%d problems", r.n)
}

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withReloader(problemReloader{n: 400}))
	e.run(e.newBot())
	adminDM := &tgbotapi.Chat{ID: admin.ID, Type: "private"}
	bobDM := &tgbotapi.Chat{ID: bob.ID, Type: "private"}

	e.api.push(textUpdate(1, bobDM, bob, "/stats"), textUpdate(2, bobDM, bob, "/reload"))
	refusals := e.api.waitSent(t, 2)
	for _, m := range refusals {
		if !strings.Contains(m.text, "only admins") {
			t.Errorf("non-admin got %q, want a refusal", m.text)
		}
	}
	if !strings.Contains(e.logs.String(), "admin command refused") {
		t.Error("the refused attempt is not logged")
	}

	e.api.push(textUpdate(3, adminDM, admin, clearQuestion), textUpdate(4, adminDM, admin, declineNoSugg))
	e.api.waitSent(t, 4)
	// A later batch: storing the offset after the first committed its queries.
	e.api.push(textUpdate(5, adminDM, admin, "/stats"), textUpdate(6, adminDM, admin, "/unanswered"))
	msgs := e.api.waitSent(t, 6)[2:]
	if !strings.Contains(msgs[2].text, "Questions: ") {
		t.Errorf("/stats answered %q", msgs[2].text)
	}
	if !strings.Contains(msgs[3].text, esc(declineNoSugg)) {
		t.Errorf("/unanswered answered %q, want the declined question", msgs[3].text)
	}

	e.api.push(textUpdate(7, adminDM, admin, "/reload"))
	waitFor(t, 5*time.Second, "the reload report", func() bool {
		return strings.Contains(e.api.sentMessages()[len(e.api.sentMessages())-1].text, "entry-399.md")
	})
	report := e.api.sentMessages()[6:]
	if len(report) < 2 {
		t.Fatalf("a reload report of 400 problems came in %d message, want it split", len(report))
	}
	var all strings.Builder
	for _, m := range report {
		all.WriteString(plainText(m.text) + "\n")
	}
	for i := range 400 {
		if n := strings.Count(all.String(), fmt.Sprintf("entry-%03d.md", i)); n != 1 {
			t.Errorf("problem %d appears %d times in the report, want once", i, n)
		}
	}
	if !strings.Contains(all.String(), `<= 80 chars & not "<b>x</b>`) {
		t.Error("problems lost their <, & and quotes")
	}
}

// TestSplitting sends a long answer and checks every part: within 4,096 characters,
// valid HTML on its own, cut between paragraphs, buttons only under the last.
func TestSplitting(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var paras []string
	for i := range 40 {
		paras = append(paras, fmt.Sprintf("Paragraph %d: **Kazakhstan** & the *SCO* <agree> on [corridors](https://example.com/?a=1&b=%d). %s", i, i, strings.Repeat("Trade grows. ", 12)))
	}
	long := bot.Reply{Kind: bot.ReplyAnswer, QueryID: bot.NewQueryID(), Answer: &bot.AnswerView{
		EntryID: "x", Section: "overview", SectionHeading: "Overview", Title: "A <long> answer",
		Body: strings.Join(paras, "\n\n"), Quote: "Quoted & cited",
	}}
	b := e.newBot()
	b.out.enqueue(render(long).messages(aliceDM.ID, 0)...)
	e.run(b)
	waitFor(t, 5*time.Second, "the last part with buttons", func() bool {
		ms := e.api.sentMessages()
		return len(ms) > 0 && ms[len(ms)-1].markup != nil
	})
	parts := e.api.sentMessages()
	if len(parts) < 3 {
		t.Fatalf("%d parts, want at least 3 for %d characters", len(parts), len(long.Answer.Body))
	}
	for i, p := range parts {
		if n := utf16Len(p.text); n > maxMessageLen {
			t.Errorf("part %d: %d characters", i, n)
		}
		if err := validateTelegramHTML(p.text); err != nil {
			t.Errorf("part %d: %v", i, err)
		}
		if (p.markup != nil) != (i == len(parts)-1) {
			t.Errorf("part %d of %d has buttons = %v", i, len(parts), p.markup != nil)
		}
		if i < len(parts)-1 && !strings.HasSuffix(plainText(p.text), strings.TrimSpace(strings.Repeat("Trade grows. ", 12))) {
			t.Errorf("part %d does not end at a paragraph: ...%q", i, p.text[max(0, len(p.text)-40):])
		}
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()

	t.Run("429 waits retry_after and holds up no other chat", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		slow := &tgbotapi.Chat{ID: 3001, Type: "private"}
		e.api.script("sendMessage", scripted{status: tooMany(1).status, body: tooMany(1).body, chatID: slow.ID})
		e.run(e.newBot())
		start := time.Now()
		e.api.push(textUpdate(1, slow, alice, clearQuestion), textUpdate(2, aliceDM, alice, clearQuestion))
		e.api.waitSent(t, 2)
		fast, throttled := e.api.sentTo(aliceDM.ID), e.api.sentTo(slow.ID)
		if len(fast) != 1 || len(throttled) != 1 {
			t.Fatalf("sent %d and %d, want 1 each", len(fast), len(throttled))
		}
		if d := throttled[0].at.Sub(start); d < time.Second {
			t.Errorf("the throttled chat got its answer after %v, want after retry_after (1s)", d)
		}
		if d := fast[0].at.Sub(start); d > 700*time.Millisecond {
			t.Errorf("another chat waited %v behind the 429", d)
		}
		if got, want := len(e.api.callsOf("sendMessage")), 3; got != want {
			t.Errorf("%d sendMessage calls, want %d", got, want)
		}
	})

	t.Run("502 HTML is retried", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		e.api.script("sendMessage", badGateway, badGateway)
		e.run(e.newBot())
		e.api.push(textUpdate(1, aliceDM, alice, clearQuestion))
		e.api.waitSent(t, 1)
		if got, want := len(e.api.callsOf("sendMessage")), 3; got != want {
			t.Errorf("%d sendMessage calls, want %d (two 502s, then success)", got, want)
		}
		if !strings.Contains(e.logs.String(), "not Bot API JSON") {
			t.Error("the 502 page is not logged as a non-JSON answer")
		}
	})

	t.Run("400 can't parse entities falls back to plain text", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		e.api.script("sendMessage", cantParse)
		e.run(e.newBot())
		e.api.push(textUpdate(1, aliceDM, alice, clearQuestion))
		m := e.api.waitSent(t, 1)[0]
		if m.parseMode != "" || strings.Contains(m.text, "<b>") {
			t.Errorf("fallback sent parse_mode %q, text %q; want plain text", m.parseMode, m.text)
		}
		if !strings.HasPrefix(m.text, entryTitle(t, clearEntry)) {
			t.Errorf("fallback text %q does not start with the title", m.text)
		}
		if m.markup == nil {
			t.Error("fallback lost the buttons")
		}
	})

	t.Run("403 stops sending to that chat", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t)
		gone := &tgbotapi.Chat{ID: 3003, Type: "private"}
		user := &tgbotapi.User{ID: gone.ID}
		s := blocked
		s.chatID, s.delay = gone.ID, 100*time.Millisecond
		e.api.script("sendMessage", s)
		e.run(e.newBot())
		e.api.push(textUpdate(1, gone, user, clearQuestion), textUpdate(2, gone, user, "/help"),
			textUpdate(3, gone, user, "/topics"), textUpdate(4, aliceDM, alice, "/help"))
		e.api.waitSent(t, 1)
		time.Sleep(300 * time.Millisecond)
		var toGone int
		for _, c := range e.api.callsOf("sendMessage") {
			if c.form.Get("chat_id") == strconv.FormatInt(gone.ID, 10) {
				toGone++
			}
		}
		if toGone != 1 {
			t.Errorf("%d sends to the chat after its 403, want only the one that failed", toGone)
		}
		// Writing again means the user unblocked the bot.
		e.api.push(textUpdate(5, gone, user, "/help"))
		waitFor(t, 5*time.Second, "an answer after unblocking", func() bool { return len(e.api.sentTo(gone.ID)) == 1 })
	})
}

func TestPacing(t *testing.T) {
	t.Parallel()
	if got, want := defaultPacing, (pacing{chat: 1, chatBurst: 3, group: 20.0 / 60, groupBurst: 3, global: 30, globalBurst: 30}); got != want {
		t.Errorf("defaultPacing = %+v, want %+v", got, want)
	}
	// The same limiters, ten to twenty times faster, so the test takes a second.
	e := newTestEnv(t)
	b := e.newBot(func(c *Config) {
		c.NoPacing = false
		c.pace = &pacing{chat: 20, chatBurst: 1, group: 10, groupBurst: 1, global: 40, globalBurst: 1}
	})
	chat, other := aliceDM.ID, int64(3100)
	msg := func(chat int64, i int) outMsg { return outMsg{chatID: chat, text: fmt.Sprintf("m%d", i)} }
	start := time.Now()
	for i := range 6 {
		b.out.enqueue(msg(chat, i))
	}
	b.out.enqueue(msg(other, 0))
	for i := range 4 {
		b.out.enqueue(msg(group.ID, i))
	}
	e.run(b)
	e.api.waitSent(t, 11)
	// Each limiter hands out its first token at once and the next ones at its rate,
	// so the last message of a run cannot arrive before (n-1)/rate after the start.
	last := func(ms []sentMsg) time.Duration { return ms[len(ms)-1].at.Sub(start) }
	const slack = 5 * time.Millisecond
	if d := last(e.api.sentTo(chat)); d < 5*50*time.Millisecond-slack {
		t.Errorf("6 messages to one chat (20/s) took %v, want >= 250ms", d)
	}
	if d := last(e.api.sentTo(group.ID)); d < 3*100*time.Millisecond-slack {
		t.Errorf("4 messages to a group (10/s) took %v, want >= 300ms", d)
	}
	if d := e.api.sentTo(other)[0].at.Sub(start); d > 200*time.Millisecond {
		t.Errorf("a second chat waited %v behind the first", d)
	}
	if d := last(e.api.sentMessages()); d < 10*25*time.Millisecond-slack {
		t.Errorf("11 messages (40/s overall) took %v, want >= 250ms", d)
	}
	got := e.api.sentTo(chat)
	for i, m := range got {
		if want := fmt.Sprintf("m%d", i); m.text != want {
			t.Errorf("message %d to one chat is %q, want %q (in order)", i, m.text, want)
		}
	}
}

func TestShutdownSendsWhatIsQueued(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot(func(c *Config) {
		c.NoPacing = false
		c.pace = &pacing{chat: 10, chatBurst: 1, group: 10, groupBurst: 1, global: 100, globalBurst: 10}
	})
	for i := range 4 {
		b.out.enqueue(outMsg{chatID: aliceDM.ID, text: fmt.Sprint(i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if got, want := len(e.api.sentMessages()), 4; got != want {
		t.Errorf("%d messages sent by the time Run returned, want %d", got, want)
	}
	if err := b.Ready(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("Ready() after Run = %v, want stopped", err)
	}
	if err := b.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}

	// With a short drain budget, Run gives up instead of waiting out the pacing.
	b2 := e.newBot(func(c *Config) {
		c.NoPacing = false
		c.pace = &pacing{chat: 2, chatBurst: 1, group: 2, groupBurst: 1, global: 100, globalBurst: 10}
		c.drainTimeout = 200 * time.Millisecond
	})
	for i := range 10 {
		b2.out.enqueue(outMsg{chatID: bob.ID, text: fmt.Sprint(i)})
	}
	t0 := time.Now()
	if err := b2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Run took %v with a 200ms drain budget", d)
	}
	if n := len(e.api.sentTo(bob.ID)); n >= 10 {
		t.Errorf("%d messages sent, want fewer than 10 after giving up", n)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot()
	e.api.script("getUpdates", badGateway, badGateway, badGateway)
	e.run(b)
	waitFor(t, 5*time.Second, "Ready to fail", func() bool { return b.Ready() != nil })
	if err := b.Ready(); !strings.Contains(err.Error(), "receiving updates fails") || strings.Contains(err.Error(), testToken) {
		t.Errorf("Ready() = %v", err)
	}
	waitFor(t, 5*time.Second, "Ready to recover", func() bool { return b.Ready() == nil })

	e.api.script("getUpdates", conflict)
	e.api.push(textUpdate(1, aliceDM, alice, "/help")) // ends the poll in flight
	waitFor(t, 5*time.Second, "the conflict", func() bool { return len(e.api.callsOf("deleteWebhook")) == 2 })
	// The log line and the deleteWebhook call race; wait for the line rather than assume.
	waitFor(t, 5*time.Second, "a 409 explained in the log", func() bool { return strings.Contains(e.logs.String(), "two instances running?") })
}

func TestTokenNeverLogged(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	b := e.newBot()
	e.run(b)
	e.api.push(textUpdate(1, aliceDM, alice, clearQuestion))
	e.api.waitSent(t, 1)
	// Now the network goes away: every call fails with a *url.Error whose URL holds
	// the token.
	e.api.srv.CloseClientConnections()
	e.api.srv.Close()
	waitFor(t, 5*time.Second, "polling to fail", func() bool { return b.Ready() != nil })
	b.out.enqueue(outMsg{chatID: aliceDM.ID, text: "lost"})
	waitFor(t, 5*time.Second, "the send to give up", func() bool {
		return strings.Contains(e.logs.String(), "send failed; message dropped")
	})
	logs := e.logs.String()
	if !strings.Contains(logs, "bot<redacted>/getUpdates") {
		t.Errorf("the log does not show the redacted URL; is the error logged at all?\n%s", logs)
	}
	for _, secret := range []string{testToken, url.PathEscape(testToken), url.QueryEscape(testToken), "AAHsecret-TOKEN"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the token (%q)", secret)
		}
		if strings.Contains(b.Ready().Error(), secret) {
			t.Errorf("Ready() contains the token: %v", b.Ready())
		}
	}
}

func TestHTTPTimeoutAbovePollTimeout(t *testing.T) {
	for _, poll := range []time.Duration{0, 300 * time.Millisecond, time.Second, 50 * time.Second, 90 * time.Second} {
		cfg := Config{PollTimeout: poll}.withDefaults()
		if got := time.Duration(cfg.pollSeconds()) * time.Second; got < time.Second || got < poll {
			t.Errorf("PollTimeout %v: getUpdates timeout %v", poll, got)
		}
		if got, pollT := cfg.httpTimeout(), time.Duration(cfg.pollSeconds())*time.Second; got <= pollT+5*time.Second {
			t.Errorf("PollTimeout %v: HTTP timeout %v, want well above %v", poll, got, pollT)
		}
	}
	if got, want := (Config{}).withDefaults().PollTimeout, 50*time.Second; got != want {
		t.Errorf("default PollTimeout = %v, want %v", got, want)
	}
}
