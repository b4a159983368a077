package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "off", env: map[string]string{}, want: Config{}},
		{name: "polling", env: map[string]string{EnvToken: " 123:abc-DEF_g "},
			want: Config{Token: "123:abc-DEF_g", APIEndpoint: DefaultAPIEndpoint}},
		{name: "everything", env: map[string]string{
			EnvToken: "123:abc", EnvAPIEndpoint: "http://tg.internal:8081/bot%s/%s",
			EnvWebhookURL: "https://bot.example/telegram/webhook", EnvWebhookSecret: "s_e-c",
			EnvAdminIDs: "42, 7,42,,",
		}, want: Config{Token: "123:abc", APIEndpoint: "http://tg.internal:8081/bot%s/%s",
			WebhookURL: "https://bot.example/telegram/webhook", WebhookSecret: "s_e-c", AdminIDs: []int64{42, 7}}},
		{name: "settings without a token", env: map[string]string{EnvAdminIDs: "1", EnvWebhookURL: "https://x"},
			wantErr: "TELEGRAM_WEBHOOK_URL, TELEGRAM_ADMIN_IDS is set but TELEGRAM_BOT_TOKEN is not"},
		{name: "bad admin id", env: map[string]string{EnvToken: "1:a", EnvAdminIDs: "42,@bob"},
			wantErr: `TELEGRAM_ADMIN_IDS: "@bob" is not a numeric Telegram user id`},
		{name: "negative admin id", env: map[string]string{EnvToken: "1:a", EnvAdminIDs: "-5"},
			wantErr: `"-5" is not a numeric`},
		{name: "bad token", env: map[string]string{EnvToken: "hunter2"},
			wantErr: "TELEGRAM_BOT_TOKEN does not look like a bot token"},
		{name: "webhook without secret", env: map[string]string{EnvToken: "1:a", EnvWebhookURL: "https://x.example/h"},
			wantErr: "TELEGRAM_WEBHOOK_SECRET is required"},
		{name: "http webhook", env: map[string]string{EnvToken: "1:a", EnvWebhookURL: "http://x.example/h", EnvWebhookSecret: "s3cr3t"},
			wantErr: "only calls https"},
		{name: "bad secret", env: map[string]string{EnvToken: "1:a", EnvWebhookURL: "https://x.example/h", EnvWebhookSecret: "no spaces"},
			wantErr: "TELEGRAM_WEBHOOK_SECRET: want 1-256"},
		{name: "endpoint without format", env: map[string]string{EnvToken: "1:a", EnvAPIEndpoint: "https://api.telegram.org/"},
			wantErr: "two %s"},
		{name: "endpoint not http", env: map[string]string{EnvToken: "1:a", EnvAPIEndpoint: "ftp://x/bot%s/%s"},
			wantErr: "not an http(s) URL"},
	}
	for _, tt := range tests {
		got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error = %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			if err != nil && tt.env[EnvToken] != "" && strings.Contains(err.Error(), tt.env[EnvToken]) {
				t.Errorf("%s: error shows the token: %v", tt.name, err)
			}
			if err != nil && tt.env[EnvWebhookSecret] != "" && strings.Contains(err.Error(), tt.env[EnvWebhookSecret]) {
				t.Errorf("%s: error shows the secret: %v", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: error %v", tt.name, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestCallbackData(t *testing.T) {
	qid := bot.NewQueryID()
	tests := []struct {
		c    callback
		want string // "" means encode refuses it
	}{
		{callback{cbVoteUp, "0190a5d2-7b3c-7def-8123-456789abcdef"}, "uAZCl0ns8fe-BI0VniavN7w"},
		{callback{cbVoteDown, "0190a5d2-7b3c-7def-8123-456789abcdef"}, "dAZCl0ns8fe-BI0VniavN7w"},
		{callback{cbVoteUp, "q-42"}, "u:q-42"},
		{callback{cbVoteUp, "0190A5D2-7B3C-7DEF-8123-456789ABCDEF"}, "u:0190A5D2-7B3C-7DEF-8123-456789ABCDEF"}, // not canonical
		{callback{cbVoteUp, ""}, ""},
		{callback{cbVoteUp, "has space"}, ""},
		{callback{cbVoteUp, strings.Repeat("x", 63)}, ""},
		{callback{cbEntry, "western-europe-western-china-corridor"}, "e:western-europe-western-china-corridor"},
		{callback{cbSection, "economic-cooperation"}, "s:economic-cooperation"},
		{callback{cbEntry, "Bad_ID"}, ""},
		{callback{cbEntry, strings.Repeat("a", 63)}, ""},
		{callback{'z', "x"}, ""},
	}
	for _, tt := range tests {
		got, ok := tt.c.encode()
		if tt.want == "" {
			if ok {
				t.Errorf("encode(%+v) = %q, want refused", tt.c, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("encode(%+v) = %q, %v; want %q", tt.c, got, ok, tt.want)
			continue
		}
		back, err := parseCallback(got)
		if err != nil || back != tt.c {
			t.Errorf("parseCallback(%q) = %+v, %v; want %+v", got, back, err, tt.c)
		}
	}
	if data, _ := (callback{cbVoteDown, qid}).encode(); len(data) != 23 {
		t.Errorf("a vote on a query id takes %d bytes, want 23", len(data))
	}
	for _, bad := range []string{"", "u", "u:", "uAZCl0ns8fe-BI0VniavN7", "uAZCl0ns8fe-BI0VniavN7x", "e:", "e:a--b", "x:abc",
		"u:0190a5d2-7b3c-7def-8123-456789abcdef", strings.Repeat("e", 65)} {
		if c, err := parseCallback(bad); err == nil {
			t.Errorf("parseCallback(%q) = %+v, want an error", bad, c)
		}
	}
	// Every button the embedded knowledge base can produce fits.
	kb, _ := knowledge.Default()
	for _, e := range kb.Entries {
		if _, ok := (callback{cbEntry, e.ID}).encode(); !ok {
			t.Errorf("entry %s does not fit in a button", e.ID)
		}
	}
	for _, s := range knowledge.Sections {
		if _, ok := (callback{cbSection, s.ID}).encode(); !ok {
			t.Errorf("section %s does not fit in a button", s.ID)
		}
	}
}

func TestParseCommand(t *testing.T) {
	cmdEnt := func(n int) []tgbotapi.MessageEntity {
		return []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: n}}
	}
	tests := []struct {
		text string
		ents []tgbotapi.MessageEntity
		want command
		ok   bool
	}{
		{"/start", cmdEnt(6), command{name: "start"}, true},
		{"/start sco-founding", cmdEnt(6), command{name: "start", args: "sco-founding"}, true},
		{"/ASK@ScoBot  when?  ", cmdEnt(11), command{name: "ask", bot: "ScoBot", args: "when?"}, true},
		{"/ask\nwhen?", cmdEnt(4), command{name: "ask", args: "when?"}, true},
		{"/usr/bin is a path", nil, command{}, false},
		{"hi /ask", []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 3, Length: 4}}, command{}, false},
		{"/", cmdEnt(1), command{}, false},
		{"/@bot", cmdEnt(5), command{}, false},
		{"/ask", cmdEnt(40), command{}, false},
		{"/ask 🇰🇿 flag", cmdEnt(4), command{name: "ask", args: "🇰🇿 flag"}, true},
	}
	for _, tt := range tests {
		got, ok := parseCommand(tt.text, tt.ents)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseCommand(%q) = %+v, %v; want %+v, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWithoutMention(t *testing.T) {
	me := tgbotapi.User{ID: 9, UserName: "ScoBot"}
	mention := func(off, n int) tgbotapi.MessageEntity {
		return tgbotapi.MessageEntity{Type: "mention", Offset: off, Length: n}
	}
	tests := []struct {
		text string
		ents []tgbotapi.MessageEntity
		want string
		ok   bool
	}{
		{"@ScoBot when is it?", []tgbotapi.MessageEntity{mention(0, 7)}, "when is it?", true},
		{"when, @scobot?", []tgbotapi.MessageEntity{mention(6, 7)}, "when, ?", true},
		// An emoji is two UTF-16 units: a byte or rune offset would miss the mention.
		{"🇰🇿 @ScoBot trade", []tgbotapi.MessageEntity{mention(5, 7)}, "🇰🇿 trade", true},
		{"@Other trade", []tgbotapi.MessageEntity{mention(0, 6)}, "", false},
		{"mail @ScoBot.com", nil, "", false},
		{"Sco trade", []tgbotapi.MessageEntity{{Type: "text_mention", Offset: 0, Length: 3, User: &tgbotapi.User{ID: 9}}}, "trade", true},
		{"Bob trade", []tgbotapi.MessageEntity{{Type: "text_mention", Offset: 0, Length: 3, User: &tgbotapi.User{ID: 10}}}, "", false},
		{"@ScoBot", []tgbotapi.MessageEntity{mention(0, 7), mention(0, 7)}, "", true},
		{"@ScoBot", []tgbotapi.MessageEntity{mention(3, 70)}, "", false},
	}
	for _, tt := range tests {
		got, ok := withoutMention(tt.text, tt.ents, me)
		if got != tt.want || ok != tt.ok {
			t.Errorf("withoutMention(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRoute(t *testing.T) {
	me := tgbotapi.User{ID: 9, IsBot: true, UserName: "ScoBot"}
	dm := &tgbotapi.Chat{ID: 1, Type: "private"}
	grp := &tgbotapi.Chat{ID: -1, Type: "group"}
	msg := func(chat *tgbotapi.Chat, text string) *tgbotapi.Message {
		u := textUpdate(1, chat, alice, text)
		return u.Message
	}
	tests := []struct {
		m       *tgbotapi.Message
		cmd     bot.Command
		text    string
		handled bool
	}{
		{msg(dm, "when is it?"), bot.CmdAsk, "when is it?", true},
		{msg(dm, "/start sco-founding"), bot.CmdStart, "sco-founding", true},
		{msg(dm, "/help"), bot.CmdHelp, "", true},
		{msg(dm, "/topics"), bot.CmdTopics, "", true},
		{msg(dm, "/reload"), bot.CmdReload, "", true},
		{msg(dm, "/stats"), bot.CmdStats, "", true},
		{msg(dm, "/unanswered"), bot.CmdUnanswered, "", true},
		{msg(dm, "/entry sco-founding"), "/entry", "sco-founding", true}, // not the core's button command
		{msg(dm, "   "), "", "", false},
		{msg(grp, "when is it?"), "", "", false},
		{msg(grp, "/ask@ScoBot when?"), bot.CmdAsk, "when?", true},
		{msg(grp, "/ask@Other when?"), "", "", false},
		{msg(grp, "/foo"), "", "", false},
		{msg(grp, "@ScoBot when?"), bot.CmdAsk, "when?", true},
	}
	for _, tt := range tests {
		cmd, text, ok := route(tt.m, me)
		if cmd != tt.cmd || text != tt.text || ok != tt.handled {
			t.Errorf("route(%s %q) = %q, %q, %v; want %q, %q, %v", tt.m.Chat.Type, tt.m.Text, cmd, text, ok, tt.cmd, tt.text, tt.handled)
		}
	}
}

func TestSplitHTML(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  []string
	}{
		{"fits", "<b>a</b> b", 20, []string{"<b>a</b> b"}},
		{"paragraphs", "one one\n\ntwo two\n\nthree", 16, []string{"one one\n\ntwo two", "three"}},
		{"line before space", "aaa bbb\nccc ddd", 12, []string{"aaa bbb", "ccc ddd"}},
		{"space", "aaa bbb ccc", 8, []string{"aaa bbb", "ccc"}},
		{"hard cut", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"tag reopened", "<b>aaa bbb ccc</b>", 14, []string{"<b>aaa bbb</b>", "<b>ccc</b>"}},
		{"link reopened", `<a href="u">aa bb</a>`, 18, []string{`<a href="u">aa</a>`, `<a href="u">bb</a>`}},
		{"entity kept whole", "a &amp; b &lt; c", 9, []string{"a &amp; b", "&lt; c"}},
		{"entity not cut", "ab&amp;cd", 4, []string{"ab", "&amp;", "cd"}},
		{"astral counts two", "😀😀😀", 4, []string{"😀😀", "😀"}},
		{"nested", "<b><i>aa bb</i></b>", 17, []string{"<b><i>aa</i></b>", "<b><i>bb</i></b>"}},
		{"paragraph outside tags first", "<b>x\n\ny</b>\n\nz", 13, []string{"<b>x\n\ny</b>", "z"}},
	}
	for _, tt := range tests {
		got := splitHTML(tt.in, tt.limit)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("%s: splitHTML(%q, %d) = %q, want %q", tt.name, tt.in, tt.limit, got, tt.want)
		}
	}
}

// TestRenderEveryEntry renders every answer of the embedded knowledge base, and every
// kind of reply, and checks that Telegram would take it.
func TestRenderEveryEntry(t *testing.T) {
	kb, _ := knowledge.Default()
	qid := bot.NewQueryID()
	var replies []bot.Reply
	for _, e := range kb.Entries {
		sec, _ := knowledge.SectionByID(e.Section)
		replies = append(replies, bot.Reply{Kind: bot.ReplyAnswer, QueryID: qid, Ambiguous: true,
			Answer:      &bot.AnswerView{EntryID: e.ID, Section: e.Section, SectionHeading: sec.Heading, Title: e.Title, Body: e.Body, Quote: e.Quote},
			Suggestions: []bot.EntryRef{{ID: e.ID}, {ID: kb.Entries[0].ID, Title: "a"}, {ID: kb.Entries[1].ID, Title: "b"}, {ID: kb.Entries[2].ID, Title: "c"}, {ID: kb.Entries[3].ID, Title: "d"}},
		})
	}
	evil := `<script>alert("x")</script> & <b>not bold</b> &amp; "quoted" 'single'`
	replies = append(replies,
		bot.Reply{Kind: bot.ReplyDecline, Text: evil, Suggestions: []bot.EntryRef{{ID: "a-b", Title: evil}}},
		bot.Reply{Kind: bot.ReplyHelp, Text: evil},
		bot.Reply{Kind: bot.ReplyTopics, Text: evil, Topics: []bot.Topic{{Section: "overview", Heading: evil, Entries: []bot.EntryRef{{ID: "x"}}}, {Section: "conclusion"}}},
		bot.Reply{Kind: bot.ReplyStats, Text: evil, Stats: &bot.Stats{Total: 3, Answered: 2, AnsweredPct: 66.7,
			ByPlatform: []bot.Count{{Key: "telegram", Count: 3}}, TopAsked: []bot.Count{{Key: evil, Count: 2}},
			Votes: []bot.EntryVotes{{EntryID: "x", Up: 1}}, LatencyP50: 1500 * time.Microsecond, LatencyP99: 2 * time.Second}},
		bot.Reply{Kind: bot.ReplyStats, Text: "none"},
		bot.Reply{Kind: bot.ReplyUnanswered, Text: evil, Unanswered: []bot.Count{{Key: evil, Count: 1}}},
		bot.Reply{Kind: bot.ReplyUnanswered, Text: "none"},
		bot.Reply{Kind: bot.ReplyReload, Text: evil, Problems: []string{evil}},
		bot.Reply{Kind: bot.ReplyRefused, Text: evil},
		bot.Reply{Kind: bot.ReplyError},
		bot.Reply{Kind: bot.ReplyAnswer, Text: evil}, // no Answer: says the text
	)
	for i, r := range replies {
		out := render(r)
		for _, m := range out.messages(1, 0) {
			if err := validateTelegramHTML(m.text); err != nil {
				t.Errorf("reply %d (kind %d): %v\n%s", i, r.Kind, err, m.text)
			}
			if utf16Len(m.text) > maxMessageLen {
				t.Errorf("reply %d: %d characters", i, utf16Len(m.text))
			}
		}
		if strings.Contains(out.html, "<script>") || strings.Contains(out.html, "<b>not bold</b>") {
			t.Errorf("reply %d: user text not escaped: %s", i, out.html)
		}
		sugg := 0
		for _, row := range out.keyboard {
			for _, b := range row {
				if len(*b.CallbackData) > maxCallbackData {
					t.Errorf("reply %d: callback data %q", i, *b.CallbackData)
				}
				if strings.HasPrefix(*b.CallbackData, "e:") {
					sugg++
				}
			}
		}
		if sugg > maxSuggestions {
			t.Errorf("reply %d: %d suggestions, want at most %d", i, sugg, maxSuggestions)
		}
		if r.Kind == bot.ReplyAnswer && r.Answer != nil && !strings.HasPrefix(out.html, "<b>"+esc(r.Answer.Title)+"</b>") {
			t.Errorf("reply %d: answer does not start with its bold title: %s", i, out.html)
		}
	}
}

func TestClassify(t *testing.T) {
	secrets := redactor{testToken, webhookSecret}
	var v any
	htmlErr := json.Unmarshal([]byte("<html>502 Bad Gateway</html>"), &v)
	tests := []struct {
		name      string
		err       error
		code      int
		transient bool
		retry     time.Duration
	}{
		{"429", &tgbotapi.Error{Code: 429, Message: "Too Many Requests: retry after 3", ResponseParameters: tgbotapi.ResponseParameters{RetryAfter: 3}}, 429, true, 3 * time.Second},
		{"403", &tgbotapi.Error{Code: 403, Message: "Forbidden: bot was blocked by the user"}, 403, false, 0},
		{"400", &tgbotapi.Error{Code: 400, Message: "Bad Request: can't parse entities"}, 400, false, 0},
		{"500", &tgbotapi.Error{Code: 500, Message: "Internal Server Error"}, 500, true, 0},
		{"html", htmlErr, 0, true, 0},
		{"network", &url.Error{Op: "Post", URL: "https://api.telegram.org/bot" + testToken + "/sendMessage", Err: errors.New("connection refused")}, 0, true, 0},
	}
	for _, tt := range tests {
		ce := classify("sendMessage", tt.err, secrets)
		if ce.code != tt.code || ce.transient != tt.transient || ce.retryAfter != tt.retry {
			t.Errorf("%s: code %d transient %v retry %v; want %d %v %v", tt.name, ce.code, ce.transient, ce.retryAfter, tt.code, tt.transient, tt.retry)
		}
		if strings.Contains(ce.Error(), testToken) {
			t.Errorf("%s: %v shows the token", tt.name, ce)
		}
	}
	var ue *url.Error
	if errors.As(classify("m", &url.Error{Op: "Post", URL: testToken, Err: errors.New("x")}, secrets), &ue) {
		t.Error("a classified transport error still wraps the *url.Error holding the token")
	}
	if got := secrets.redact("a " + url.QueryEscape(testToken) + " b " + webhookSecret); strings.Contains(got, "AAH") || strings.Contains(got, webhookSecret) {
		t.Errorf("redact left a secret: %s", got)
	}
}

func TestBackoff(t *testing.T) {
	for n := range 10 {
		d := backoff(100*time.Millisecond, n, 2*time.Second)
		want := min(100*time.Millisecond<<n, 2*time.Second)
		if d > want || d < want*3/4 {
			t.Errorf("backoff(%d) = %v, want within [%v, %v]", n, d, want*3/4, want)
		}
	}
}

func TestIDSet(t *testing.T) {
	s := newIDSet(3)
	for _, id := range []int{1, 2, 3} {
		if !s.add(id) {
			t.Errorf("add(%d) = false for a new id", id)
		}
	}
	if s.add(2) {
		t.Error("add(2) twice = true")
	}
	s.add(4) // forgets 1
	if s.has(1) || !s.has(4) || !s.has(3) {
		t.Errorf("after overflow: has(1)=%v has(3)=%v has(4)=%v; want false true true", s.has(1), s.has(3), s.has(4))
	}
	s.remove(4)
	if !s.add(4) {
		t.Error("add after remove = false")
	}
}
