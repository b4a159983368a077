package slack

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/bot/markup"
)

// Slack's limits on a message, and the budgets this adapter keeps within them.
const (
	maxSectionText = 3000  // a section block's text
	maxBlocks      = 50    // blocks in one message
	maxMessageText = 12000 // all block text; Slack's undocumented msg_blocks_too_long starts near 13k
	maxFallback    = 3000  // the top-level text (4,000 recommended)
	maxHeaderText  = 150   // a header block's plain text
	maxButtonText  = 75    // a button's plain text
	maxContextText = 300   // our context lines (the question echoed back)
	maxBodyText    = 8000  // an answer body: leaves room for title, source, quote and buttons
	maxQuoteText   = 1500
	maxListItems   = 10
)

// Action ids of the buttons. A click comes back with one of them and the button's
// value: a query id for votes, an entry id for suggestions.
const (
	actionVoteUp   = "vote_up"
	actionVoteDown = "vote_down"
	actionEntry    = "entry_" // + index; several suggestion buttons need distinct ids
)

// Response types of a slash command answer.
const (
	ephemeral = "ephemeral"  // only the user who asked sees it (Slack's default)
	inChannel = "in_channel" // everyone in the channel sees it
)

// message is one message as the adapter sends it: the JSON of a slash command
// response, a response_url post and a Socket Mode ack payload, and the text and blocks
// of chat.postMessage.
type message struct {
	ResponseType    string        `json:"response_type,omitempty"`
	ReplaceOriginal bool          `json:"replace_original"`
	Text            string        `json:"text"`
	Blocks          []slack.Block `json:"blocks,omitempty"`
}

// render turns a core reply into Block Kit. Every text that came from the knowledge
// base or a user is escaped for mrkdwn, so it can neither break the message nor ping
// @channel. command is the slash command's name, for the help text.
func render(r bot.Reply, command string) message {
	var bs blockList
	var fallback string
	switch r.Kind {
	case bot.ReplyAnswer:
		fallback = renderAnswer(&bs, r)
	case bot.ReplyDecline:
		bs.mrkdwn(esc(r.Text))
		bs.question(r.Question)
		bs.suggestions(r.Suggestions, "")
		bs.context("Try `" + esc(command) + " topics` to see what the article covers.")
		fallback = r.Text
	case bot.ReplyHelp:
		bs.mrkdwn(esc(r.Text))
		bs.mrkdwn(usage(command))
		fallback = r.Text
	case bot.ReplyTopics:
		bs.mrkdwn(esc(r.Text))
		for _, t := range r.Topics {
			lines := make([]string, 0, len(t.Entries))
			for _, e := range t.Entries {
				lines = append(lines, esc(e.Title))
			}
			bs.mrkdwn("*" + esc(t.Heading) + "*\n" + bullets(lines))
		}
		fallback = r.Text
	case bot.ReplyStats:
		renderStats(&bs, r)
		fallback = r.Text
	case bot.ReplyUnanswered:
		bs.mrkdwn("*" + esc(r.Text) + "*")
		if len(r.Unanswered) == 0 {
			bs.mrkdwn("Nothing went unanswered.")
		} else {
			bs.mrkdwn(countList(r.Unanswered))
		}
		fallback = r.Text
	case bot.ReplyReload:
		bs.mrkdwn(esc(r.Text))
		if len(r.Problems) > 0 {
			items := make([]string, 0, len(r.Problems))
			for _, p := range r.Problems {
				items = append(items, esc(p))
			}
			bs.mrkdwn("*Problems (" + strconv.Itoa(len(r.Problems)) + "):*\n" + bullets(items))
		}
		fallback = r.Text
	default: // rate limited, refused, error
		bs.mrkdwn(esc(r.Text))
		fallback = r.Text
	}
	if fallback == "" {
		fallback = "scobot"
	}
	return message{Text: truncMrkdwn(esc(fallback), maxFallback), Blocks: bs.finish()}
}

// renderAnswer adds an answer's blocks: title, the question asked, the text, the
// source section and quote, vote buttons and suggestions. It returns the fallback text.
func renderAnswer(bs *blockList, r bot.Reply) string {
	a := r.Answer
	if a == nil {
		bs.mrkdwn(esc(r.Text))
		return r.Text
	}
	bs.header(a.Title)
	if !strings.EqualFold(strings.TrimSpace(r.Question), strings.TrimSpace(a.Title)) {
		bs.question(r.Question)
	}
	bs.mrkdwn(truncMrkdwn(kbMrkdwn(a.Body), maxBodyText))
	source := a.SectionHeading
	if source == "" {
		source = a.Section
	}
	src := "*Source:* " + esc(source)
	if q := strings.TrimSpace(a.Quote); q != "" {
		src += "\n" + quote(truncMrkdwn(kbMrkdwn(q), maxQuoteText))
	}
	bs.mrkdwn(src)
	if r.QueryID != "" {
		bs.add(slack.NewActionBlock("vote",
			button(actionVoteUp, r.QueryID, "👍 Helpful"),
			button(actionVoteDown, r.QueryID, "👎 Not helpful"),
		), 30)
	}
	bs.suggestions(r.Suggestions, a.EntryID)
	return a.Title + ": " + plainCache.get(a.Body)
}

// renderStats adds the admin statistics.
func renderStats(bs *blockList, r bot.Reply) {
	bs.mrkdwn("*" + esc(r.Text) + "*")
	st := r.Stats
	if st == nil {
		bs.mrkdwn("No statistics.")
		return
	}
	bs.mrkdwn(fmt.Sprintf("Questions: *%d*, answered: *%d* (%.1f%%)\nLatency p50 / p90 / p99: %s / %s / %s",
		st.Total, st.Answered, st.AnsweredPct, ms(st.LatencyP50), ms(st.LatencyP90), ms(st.LatencyP99)))
	lists := []struct {
		title string
		rows  []bot.Count
	}{
		{"By platform", st.ByPlatform},
		{"Most asked", st.TopAsked},
		{"Unanswered", st.Unanswered},
		{"Answers shown most", st.TopEntries},
		{"Sections", st.TopSections},
	}
	for _, l := range lists {
		if len(l.rows) > 0 {
			bs.mrkdwn("*" + l.title + "*\n" + countList(l.rows))
		}
	}
	if len(st.Votes) > 0 {
		var items []string
		for i, v := range st.Votes {
			if i == maxListItems {
				break
			}
			items = append(items, fmt.Sprintf("%s: 👍 %d  👎 %d", esc(v.EntryID), v.Up, v.Down))
		}
		bs.mrkdwn("*Votes*\n" + bullets(items))
	}
}

// usage is the Slack-specific part of the help.
func usage(command string) string {
	c := esc(command)
	return "*On Slack*\n" + bullets([]string{
		"`" + c + " QUESTION`: the answer, just for you",
		"`" + c + " share QUESTION`: the answer, posted to the channel",
		"`" + c + " topics`: what the article covers",
		"Mention me in a channel or write to me directly: I answer in the thread.",
	})
}

// blockList collects blocks within Slack's limits: at most maxBlocks blocks and
// maxMessageText characters of text. What does not fit is left out, and finish adds a
// note saying the message was shortened.
type blockList struct {
	list []slack.Block
	size int
	cut  bool
}

// add appends b, whose text is n bytes long, if it fits; one block is always kept
// free for the "shortened" note.
func (bs *blockList) add(b slack.Block, n int) bool {
	if len(bs.list) >= maxBlocks-1 || bs.size+n > maxMessageText {
		bs.cut = true
		return false
	}
	bs.list = append(bs.list, b)
	bs.size += n
	return true
}

// mrkdwn adds text as section blocks of at most maxSectionText each. Text that runs
// past the message budget is cut at a clean place.
func (bs *blockList) mrkdwn(text string) {
	text = strings.TrimSpace(valid(text))
	if text == "" {
		return
	}
	for _, part := range splitMrkdwn(text, maxSectionText) {
		if left := maxMessageText - bs.size; len(part) > left {
			if left < 100 {
				bs.cut = true
				return
			}
			part = truncMrkdwn(part, left)
		}
		if !bs.add(slack.NewSectionBlock(mrkdwnText(part), nil, nil), len(part)) {
			return
		}
	}
}

func (bs *blockList) header(title string) {
	t := truncPlain(strings.TrimSpace(valid(title)), maxHeaderText)
	if t == "" {
		return
	}
	bs.add(slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, t, true, false)), len(t))
}

// context adds a small grey line of mrkdwn.
func (bs *blockList) context(text string) {
	if text == "" {
		return
	}
	text = truncMrkdwn(valid(text), maxContextText)
	bs.add(slack.NewContextBlock("", mrkdwnText(text)), len(text))
}

// question echoes the user's question, escaped, so an ephemeral answer says what it
// answers and a shared one shows what was asked.
func (bs *blockList) question(q string) {
	q = strings.Join(strings.Fields(q), " ")
	if q == "" {
		return
	}
	bs.context("You asked: _" + truncMrkdwn(esc(q), maxContextText-20) + "_")
}

// suggestions adds up to three "did you mean" buttons; skip is the entry already shown.
func (bs *blockList) suggestions(refs []bot.EntryRef, skip string) {
	var buttons []slack.BlockElement
	n := 0
	for _, s := range refs {
		if s.ID == "" || s.ID == skip {
			continue
		}
		buttons = append(buttons, button(actionEntry+strconv.Itoa(len(buttons)), s.ID, s.Title))
		n += len(s.Title)
		if len(buttons) == 3 {
			break
		}
	}
	if len(buttons) == 0 {
		return
	}
	bs.context("Did you mean:")
	bs.add(slack.NewActionBlock("suggest", buttons...), n)
}

// finish returns the blocks, with a note when something was left out.
func (bs *blockList) finish() []slack.Block {
	if bs.cut {
		bs.list = append(bs.list, slack.NewContextBlock("", mrkdwnText("_Shortened to fit in one Slack message._")))
	}
	return bs.list
}

func button(actionID, value, text string) *slack.ButtonBlockElement {
	t := truncPlain(strings.TrimSpace(valid(text)), maxButtonText)
	if t == "" {
		t = "…"
	}
	return slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, t, true, false))
}

func mrkdwnText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// esc escapes text for mrkdwn, with invalid UTF-8 replaced. Most text has nothing to
// escape, and markup.SlackEscape builds a strings.Replacer on every call, so that case
// skips it.
func esc(s string) string {
	s = valid(s)
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return markup.SlackEscape(s)
}

// textCache remembers knowledge-base Markdown rendered for Slack. Answer texts repeat
// (a knowledge base has a few dozen entries), and rendering them was most of the cost of
// an answer. The cache is emptied whenever it reaches maxCached entries, so that
// reloads cannot grow it without bound.
type textCache struct {
	render func(string) string
	mu     sync.RWMutex
	m      map[string]string
}

const maxCached = 1024

var (
	mrkdwnCache = &textCache{render: markup.SlackMrkdwn}
	plainCache  = &textCache{render: markup.Plain}
)

func (c *textCache) get(md string) string {
	c.mu.RLock()
	out, ok := c.m[md]
	c.mu.RUnlock()
	if ok {
		return out
	}
	out = c.render(valid(md))
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]string)
	}
	c.m[md] = out
	c.mu.Unlock()
	return out
}

// kbMrkdwn renders knowledge-base Markdown with markup.SlackMrkdwn, through the cache.
func kbMrkdwn(md string) string { return mrkdwnCache.get(md) }

// valid replaces invalid UTF-8, which JSON would widen to U+FFFD after the length
// checks, and which a cut could otherwise split further.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// quote turns mrkdwn into a block quote, line by line. The ">" is markup; any ">" in the
// text itself has already been escaped.
func quote(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = ">" + l
	}
	return strings.Join(lines, "\n")
}

func bullets(items []string) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("• ")
		b.WriteString(it)
	}
	return b.String()
}

func countList(rows []bot.Count) string {
	items := make([]string, 0, min(len(rows), maxListItems))
	for i, c := range rows {
		if i == maxListItems {
			break
		}
		items = append(items, esc(truncPlain(c.Key, 200))+" — "+strconv.Itoa(c.Count))
	}
	return bullets(items)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// splitMrkdwn splits s into parts of at most max bytes (bytes, not characters: never
// more characters than Slack allows), preferring paragraph breaks, then line breaks,
// then spaces, and never cutting a character, an &entity; or a <link|label>.
func splitMrkdwn(s string, max int) []string {
	var out []string
	for len(s) > max {
		i := cutPoint(s, max)
		if part := strings.TrimRight(s[:i], " \n"); part != "" {
			out = append(out, part)
		}
		s = strings.TrimLeft(s[i:], " \n")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// truncMrkdwn cuts s to at most max bytes at a clean place, marking the cut with "…".
func truncMrkdwn(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	return strings.TrimRight(s[:cutPoint(s, max-len(ellipsis))], " \n") + ellipsis
}

// cutPoint returns where to cut s, which is longer than max: an index in (0, max].
func cutPoint(s string, max int) int {
	w := s[:max]
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.LastIndex(w, sep); i > max/2 {
			return safeCut(s, i)
		}
	}
	i := max
	for i > 1 && !utf8.RuneStart(s[i]) {
		i--
	}
	return safeCut(s, i)
}

// safeCut moves a cut at i back before an unfinished <link|label> or &entity;.
func safeCut(s string, i int) int {
	if k := strings.LastIndexByte(s[:i], '<'); k > 0 && strings.IndexByte(s[k:i], '>') < 0 {
		i = k
	}
	if k := strings.LastIndexByte(s[:i], '&'); k > 0 && i-k < 8 && strings.IndexByte(s[k:i], ';') < 0 {
		i = k
	}
	return i
}

// truncPlain cuts plain text to at most max characters, marking the cut with "…".
func truncPlain(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
