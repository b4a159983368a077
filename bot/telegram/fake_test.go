package telegram

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// testToken looks like a real token, so the redaction tests are honest.
const testToken = "7012345678:AAHsecret-TOKEN_value0123456789abcdef"

// fakeAPI is a fake Bot API server for the real library: routed on
// /bot<token>/<method>, form-encoded requests, JSON answers, like Telegram's. It
// checks what the bot sends (length, parse mode, HTML, callback data) and can be
// scripted to fail.
type fakeAPI struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	me    tgbotapi.User

	mu        sync.Mutex
	arrived   chan struct{} // closed and replaced when updates are pushed
	updates   []fakeUpdate
	replayed  []fakeUpdate // returned by the next getUpdates whatever its offset
	calls     []fakeCall
	sent      []sentMsg
	answers   []url.Values // answerCallbackQuery forms
	scripts   map[string][]scripted
	problems  []string
	nextMsgID int
	sendDelay time.Duration
	maxBatch  int           // caps getUpdates results below limit, when set
	pollDelay time.Duration // before answering a getUpdates that has updates
}

type fakeUpdate struct {
	id  int
	raw json.RawMessage
}

type fakeCall struct {
	method string
	form   url.Values
	at     time.Time
}

// sentMsg is a sendMessage the fake accepted.
type sentMsg struct {
	chatID    int64
	text      string
	parseMode string
	replyTo   int
	markup    *tgbotapi.InlineKeyboardMarkup
	at        time.Time
}

// scripted is a canned failure for the next call of a method (to one chat, if set).
type scripted struct {
	status int
	body   string
	chatID int64
	delay  time.Duration
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{
		t:       t,
		token:   testToken,
		me:      tgbotapi.User{ID: 7012345678, IsBot: true, FirstName: "Sco", UserName: "ScoTestBot"},
		arrived: make(chan struct{}),
		scripts: map[string][]scripted{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake Bot API: %s", p)
		}
	})
	return f
}

// endpoint is the Sprintf format that points the library at the fake.
func (f *fakeAPI) endpoint() string { return f.srv.URL + "/bot%s/%s" }

// push queues updates for getUpdates.
func (f *fakeAPI) push(ups ...tgbotapi.Update) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range ups {
		raw, err := json.Marshal(u)
		if err != nil {
			f.t.Fatal(err)
		}
		f.updates = append(f.updates, fakeUpdate{u.UpdateID, raw})
	}
	close(f.arrived)
	f.arrived = make(chan struct{})
}

// pushRaw queues an update as raw JSON: malformed ones, unknown types.
func (f *fakeAPI) pushRaw(id int, raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, fakeUpdate{id, json.RawMessage(raw)})
	close(f.arrived)
	f.arrived = make(chan struct{})
}

// script queues canned failures for method.
func (f *fakeAPI) script(method string, s ...scripted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[method] = append(f.scripts[method], s...)
}

// Canned Bot API failures, as Telegram (or a proxy in front of it) sends them.
func tooMany(after int) scripted {
	return scripted{status: 429, body: fmt.Sprintf(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after %d","parameters":{"retry_after":%d}}`, after, after)}
}

var (
	badGateway    = scripted{status: 502, body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"}
	cantParse     = scripted{status: 400, body: `{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}`}
	blocked       = scripted{status: 403, body: `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`}
	conflict      = scripted{status: 409, body: `{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}`}
	apiOK         = `{"ok":true,"result":true}`
	notFoundReply = `{"ok":false,"error_code":404,"description":"Not Found"}`
)

func (f *fakeAPI) calledMethods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.method)
	}
	return out
}

func (f *fakeAPI) callsOf(method string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAPI) sentMessages() []sentMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMsg(nil), f.sent...)
}

func (f *fakeAPI) sentTo(chat int64) []sentMsg {
	var out []sentMsg
	for _, m := range f.sentMessages() {
		if m.chatID == chat {
			out = append(out, m)
		}
	}
	return out
}

func (f *fakeAPI) callbackAnswers() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.answers...)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitSent waits until at least n messages were sent and returns them all.
func (f *fakeAPI) waitSent(t testing.TB, n int) []sentMsg {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%d sent messages", n), func() bool { return len(f.sentMessages()) >= n })
	return f.sentMessages()
}

func (f *fakeAPI) reply(w http.ResponseWriter, status int, body string) {
	if strings.HasPrefix(body, "<") {
		w.Header().Set("Content-Type", "text/html")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeAPI) result(w http.ResponseWriter, v any) {
	raw, err := json.Marshal(map[string]any{"ok": true, "result": v})
	if err != nil {
		f.t.Error(err)
	}
	f.reply(w, 200, string(raw))
}

func (f *fakeAPI) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		f.reply(w, 404, notFoundReply)
		return
	}
	if tok != f.token {
		f.reply(w, 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		f.problem("%s: %s with Content-Type %q, want a form POST", method, r.Method, r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		f.reply(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: bad form"}`)
		return
	}
	form := r.PostForm
	chat, _ := strconv.ParseInt(form.Get("chat_id"), 10, 64)

	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: method, form: form, at: time.Now()})
	var sc *scripted
	for i, s := range f.scripts[method] {
		if s.chatID == 0 || s.chatID == chat {
			sc = &s
			f.scripts[method] = append(f.scripts[method][:i:i], f.scripts[method][i+1:]...)
			break
		}
	}
	delay := f.sendDelay
	f.mu.Unlock()
	if sc != nil {
		time.Sleep(sc.delay)
		f.reply(w, sc.status, sc.body)
		return
	}

	switch method {
	case "getMe":
		f.result(w, f.me)
	case "getUpdates":
		f.getUpdates(w, r, form)
	case "sendMessage":
		time.Sleep(delay)
		f.sendMessage(w, form, chat)
	case "answerCallbackQuery":
		if form.Get("callback_query_id") == "" {
			f.problem("answerCallbackQuery without callback_query_id")
		}
		if n := utf8Len(form.Get("text")); n > 200 {
			f.problem("answerCallbackQuery text of %d characters", n)
		}
		f.mu.Lock()
		f.answers = append(f.answers, form)
		f.mu.Unlock()
		f.reply(w, 200, apiOK)
	case "setMyCommands":
		var cmds []tgbotapi.BotCommand
		if err := json.Unmarshal([]byte(form.Get("commands")), &cmds); err != nil || len(cmds) == 0 {
			f.problem("setMyCommands: bad commands %q", form.Get("commands"))
		}
		for _, c := range cmds {
			if !regexp.MustCompile(`^[a-z0-9_]{1,32}$`).MatchString(c.Command) || len(c.Description) < 3 || len(c.Description) > 256 {
				f.problem("setMyCommands: bad command %+v", c)
			}
		}
		f.reply(w, 200, apiOK)
	case "deleteWebhook":
		f.reply(w, 200, apiOK)
	case "setWebhook":
		if form.Get("url") == "" {
			f.problem("setWebhook without url")
		}
		if s := form.Get("secret_token"); !regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`).MatchString(s) {
			f.problem("setWebhook: bad secret_token")
		}
		f.reply(w, 200, apiOK)
	default:
		f.reply(w, 404, `{"ok":false,"error_code":404,"description":"Not Found: method not found"}`)
	}
}

// getUpdates honours offset (confirming everything below it), limit and timeout,
// like Telegram: with nothing to return it waits up to timeout seconds.
func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, form url.Values) {
	offset, _ := strconv.Atoi(form.Get("offset"))
	limit, err := strconv.Atoi(form.Get("limit"))
	if err != nil || limit < 1 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(form.Get("timeout"))
	deadline := time.After(time.Duration(timeout) * time.Second)
	for {
		f.mu.Lock()
		if form.Has("offset") {
			kept := f.updates[:0]
			for _, u := range f.updates {
				if u.id >= offset {
					kept = append(kept, u)
				}
			}
			f.updates = kept
		}
		if f.maxBatch > 0 {
			limit = min(limit, f.maxBatch)
		}
		var out []json.RawMessage
		for _, u := range f.replayed {
			out = append(out, u.raw)
		}
		f.replayed = nil
		for _, u := range f.updates {
			if len(out) < limit {
				out = append(out, u.raw)
			}
		}
		arrived, delay := f.arrived, f.pollDelay
		f.mu.Unlock()
		if len(out) > 0 {
			time.Sleep(delay)
			f.result(w, out)
			return
		}
		select {
		case <-arrived:
		case <-deadline:
			f.result(w, []json.RawMessage{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// replay makes the next getUpdates return ups again, whatever its offset: a
// redelivery of updates already confirmed.
func (f *fakeAPI) replay(ups ...tgbotapi.Update) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range ups {
		raw, _ := json.Marshal(u)
		f.replayed = append(f.replayed, fakeUpdate{u.UpdateID, raw})
	}
	close(f.arrived)
	f.arrived = make(chan struct{})
}

func (f *fakeAPI) sendMessage(w http.ResponseWriter, form url.Values, chat int64) {
	text, mode := form.Get("text"), form.Get("parse_mode")
	var problems []string
	if chat == 0 {
		problems = append(problems, "no chat_id")
	}
	if strings.TrimSpace(text) == "" {
		problems = append(problems, "empty text")
	}
	if n := len(utf16.Encode([]rune(text))); n > maxMessageLen {
		problems = append(problems, fmt.Sprintf("text of %d UTF-16 units", n))
	}
	switch mode {
	case "HTML":
		if err := validateTelegramHTML(text); err != nil {
			problems = append(problems, "invalid HTML: "+err.Error())
		}
	case "":
		if strings.Contains(text, "<b>") {
			problems = append(problems, "plain text with HTML tags in it")
		}
	default:
		problems = append(problems, "parse_mode "+mode)
	}
	var kb *tgbotapi.InlineKeyboardMarkup
	if raw := form.Get("reply_markup"); raw != "" {
		kb = &tgbotapi.InlineKeyboardMarkup{}
		if err := json.Unmarshal([]byte(raw), kb); err != nil {
			problems = append(problems, "reply_markup: "+err.Error())
		}
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				switch {
				case b.Text == "":
					problems = append(problems, "button without text")
				case b.CallbackData == nil || *b.CallbackData == "":
					problems = append(problems, "button without callback_data")
				case len(*b.CallbackData) > 64:
					problems = append(problems, fmt.Sprintf("callback_data of %d bytes", len(*b.CallbackData)))
				}
			}
		}
	}
	if len(problems) > 0 {
		f.problem("sendMessage %q: %s", text, strings.Join(problems, "; "))
		f.reply(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: `+strings.Join(problems, "; ")+`"}`)
		return
	}
	replyTo, _ := strconv.Atoi(form.Get("reply_to_message_id"))
	f.mu.Lock()
	f.nextMsgID++
	id := f.nextMsgID
	f.sent = append(f.sent, sentMsg{chatID: chat, text: text, parseMode: mode, replyTo: replyTo, markup: kb, at: time.Now()})
	f.mu.Unlock()
	f.result(w, map[string]any{
		"message_id": id, "date": time.Now().Unix(), "text": text,
		"from": f.me, "chat": map[string]any{"id": chat, "type": chatType(chat)},
	})
}

func chatType(id int64) string {
	if id < 0 {
		return "supergroup"
	}
	return "private"
}

func utf8Len(s string) int { return len([]rune(s)) }

// telegramTags are the tags Telegram's HTML parse mode accepts.
var telegramTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true,
	"strike": true, "del": true, "a": true, "code": true, "pre": true, "span": true,
	"tg-spoiler": true, "tg-emoji": true, "blockquote": true,
}

var (
	entityRe = regexp.MustCompile(`^&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});`)
	hrefRe   = regexp.MustCompile(`^a href="([^"<>]*)"$`)
)

// validateTelegramHTML checks s the way Telegram does: only its tags (and only href
// on links), properly nested and closed, and no <, > or & outside a tag or an entity.
func validateTelegramHTML(s string) error {
	var stack []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return fmt.Errorf("unclosed tag at byte %d", i)
			}
			inner := s[i+1 : i+j]
			if name, ok := strings.CutPrefix(inner, "/"); ok {
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return fmt.Errorf("</%s> at byte %d does not close %v", name, i, stack)
				}
				stack = stack[:len(stack)-1]
			} else {
				name := strings.Fields(inner + " ")[0]
				if !telegramTags[name] {
					return fmt.Errorf("tag <%s> at byte %d is not Telegram's", inner, i)
				}
				if name == "a" {
					m := hrefRe.FindStringSubmatch(inner)
					if m == nil {
						return fmt.Errorf("link %q", inner)
					}
					if err := validateText(m[1]); err != nil {
						return fmt.Errorf("link %q: %w", inner, err)
					}
				} else if inner != name {
					return fmt.Errorf("attributes on <%s>", inner)
				}
				stack = append(stack, name)
			}
			i += j + 1
		case '>':
			return fmt.Errorf("unescaped > at byte %d", i)
		case '&':
			m := entityRe.FindString(s[i:])
			if m == "" {
				return fmt.Errorf("unescaped & at byte %d", i)
			}
			i += len(m)
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %v", stack)
	}
	return nil
}

func validateText(s string) error {
	if strings.ContainsAny(s, "<>") {
		return fmt.Errorf("unescaped < or > in %q", s)
	}
	for i := strings.IndexByte(s, '&'); i >= 0; i = strings.IndexByte(s, '&') {
		if entityRe.FindString(s[i:]) == "" {
			return fmt.Errorf("unescaped & in %q", s)
		}
		s = s[i+1:]
	}
	return nil
}

// Builders of updates as Telegram sends them.

var (
	alice   = &tgbotapi.User{ID: 1001, FirstName: "Alice"}
	bob     = &tgbotapi.User{ID: 1002, FirstName: "Bob"}
	admin   = &tgbotapi.User{ID: 4242, FirstName: "Ada"}
	aliceDM = &tgbotapi.Chat{ID: 1001, Type: "private"}
	group   = &tgbotapi.Chat{ID: -100500, Type: "supergroup", Title: "SCO readers"}
)

// textUpdate is a message; a leading /command gets its bot_command entity, and every
// @name its mention entity, with UTF-16 offsets as Telegram computes them.
func textUpdate(id int, chat *tgbotapi.Chat, from *tgbotapi.User, text string) tgbotapi.Update {
	m := &tgbotapi.Message{MessageID: id * 10, From: from, Chat: chat, Date: int(time.Now().Unix()), Text: text}
	u := utf16.Encode([]rune(text))
	if strings.HasPrefix(text, "/") {
		n := strings.IndexAny(text, " \n")
		if n < 0 {
			n = len(text)
		}
		m.Entities = append(m.Entities, tgbotapi.MessageEntity{Type: "bot_command", Offset: 0, Length: len(utf16.Encode([]rune(text[:n])))})
	}
	for i := 0; i < len(u); i++ {
		if u[i] != '@' || (i > 0 && u[i-1] != ' ') {
			continue
		}
		j := i + 1
		for j < len(u) && (u[j] == '_' || u[j] >= 'a' && u[j] <= 'z' || u[j] >= 'A' && u[j] <= 'Z' || u[j] >= '0' && u[j] <= '9') {
			j++
		}
		if j > i+1 {
			m.Entities = append(m.Entities, tgbotapi.MessageEntity{Type: "mention", Offset: i, Length: j - i})
		}
	}
	return tgbotapi.Update{UpdateID: id, Message: m}
}

func callbackUpdate(id int, chat *tgbotapi.Chat, from *tgbotapi.User, data string) tgbotapi.Update {
	return tgbotapi.Update{UpdateID: id, CallbackQuery: &tgbotapi.CallbackQuery{
		ID: "cq" + strconv.Itoa(id), From: from, Data: data, ChatInstance: "ci",
		Message: &tgbotapi.Message{MessageID: 99, Chat: chat, From: &tgbotapi.User{ID: 7012345678, IsBot: true}},
	}}
}

// buttons returns the callback data of a message's buttons, by label prefix.
func (m sentMsg) button(prefix string) (string, bool) {
	if m.markup == nil {
		return "", false
	}
	for _, row := range m.markup.InlineKeyboard {
		for _, b := range row {
			if strings.HasPrefix(b.Text, prefix) && b.CallbackData != nil {
				return *b.CallbackData, true
			}
		}
	}
	return "", false
}

func (m sentMsg) buttonCount() int {
	if m.markup == nil {
		return 0
	}
	n := 0
	for _, row := range m.markup.InlineKeyboard {
		n += len(row)
	}
	return n
}

// logBuffer collects log output for tests to search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
