package telegram

import (
	"fmt"
	"html"
	"strings"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/bot/markup"
)

// maxSuggestions is how many "did you mean" buttons a reply gets at most.
const maxSuggestions = 3

// maxButtonLabel is where button labels are cut, in characters: clients truncate long
// labels anyway, and mid-word with no ellipsis.
const maxButtonLabel = 48

// rendered is a reply as Telegram shows it, before it is split into messages.
type rendered struct {
	html     string // Telegram HTML: every text from the core escaped
	keyboard [][]tgbotapi.InlineKeyboardButton
}

// esc escapes text for Telegram's HTML parse mode: &, <, > and quotes.
func esc(s string) string { return html.EscapeString(s) }

// render turns the core's reply into Telegram HTML and inline buttons.
func render(r bot.Reply) rendered {
	var out rendered
	var b strings.Builder
	switch r.Kind {
	case bot.ReplyAnswer:
		a := r.Answer
		if a == nil {
			b.WriteString(esc(r.Text))
			break
		}
		b.WriteString("<b>" + esc(a.Title) + "</b>\n\n")
		b.WriteString(markup.TelegramHTML(a.Body))
		if src := a.SectionHeading; src != "" || a.Quote != "" {
			if src == "" {
				src = a.Section
			}
			b.WriteString("\n\n<b>Source:</b> " + esc(src))
			if q := strings.TrimSpace(a.Quote); q != "" {
				b.WriteString("\n<i>“" + esc(q) + "”</i>")
			}
		}
		sugg := suggestionRows(r.Suggestions, a.EntryID)
		if r.Ambiguous && len(sugg) > 0 {
			b.WriteString("\n\n<i>Not quite what you asked? Maybe one of these:</i>")
		}
		if row := voteRow(r.QueryID); row != nil {
			out.keyboard = append(out.keyboard, row)
		}
		if btn, ok := button("📖 Read the whole section", callback{cbSection, a.Section}); ok {
			out.keyboard = append(out.keyboard, []tgbotapi.InlineKeyboardButton{btn})
		}
		if r.Ambiguous {
			out.keyboard = append(out.keyboard, sugg...)
		}
	case bot.ReplyDecline:
		b.WriteString(esc(r.Text))
		if sugg := suggestionRows(r.Suggestions, ""); len(sugg) > 0 {
			b.WriteString("\n\nDid you mean one of these?")
			out.keyboard = append(out.keyboard, sugg...)
		} else {
			b.WriteString("\n\nSee /topics for what I can answer.")
		}
	case bot.ReplyTopics:
		b.WriteString(esc(r.Text))
		for _, t := range r.Topics {
			if len(t.Entries) == 0 {
				continue
			}
			heading := t.Heading
			if heading == "" {
				heading = t.Section
			}
			if btn, ok := button(heading, callback{cbSection, t.Section}); ok {
				out.keyboard = append(out.keyboard, []tgbotapi.InlineKeyboardButton{btn})
			}
		}
	case bot.ReplyStats:
		renderStats(&b, r.Text, r.Stats)
	case bot.ReplyUnanswered:
		b.WriteString("<b>" + esc(r.Text) + "</b>\n\n")
		if len(r.Unanswered) == 0 {
			b.WriteString("Nothing: every question was answered.")
		}
		writeCounts(&b, r.Unanswered)
	case bot.ReplyReload:
		b.WriteString(esc(r.Text))
		if len(r.Problems) > 0 {
			b.WriteString("\n\n<b>Problems:</b>")
			for _, p := range r.Problems {
				b.WriteString("\n• " + esc(p))
			}
		}
	default: // help, rate limited, refused, error: a sentence from the core
		b.WriteString(esc(r.Text))
	}
	out.html = b.String()
	if strings.TrimSpace(out.html) == "" {
		out.html = "Sorry, I have nothing to say to that."
	}
	return out
}

// voteRow returns the 👍/👎 buttons for a query, or nil without one.
func voteRow(queryID string) []tgbotapi.InlineKeyboardButton {
	up, ok1 := button("👍 Helpful", callback{cbVoteUp, queryID})
	down, ok2 := button("👎 Not helpful", callback{cbVoteDown, queryID})
	if !ok1 || !ok2 {
		return nil
	}
	return []tgbotapi.InlineKeyboardButton{up, down}
}

// suggestionRows returns up to maxSuggestions "did you mean" buttons, one per row,
// leaving out the entry already shown.
func suggestionRows(refs []bot.EntryRef, shown string) [][]tgbotapi.InlineKeyboardButton {
	var rows [][]tgbotapi.InlineKeyboardButton
	for _, s := range refs {
		if len(rows) == maxSuggestions {
			break
		}
		if s.ID == shown {
			continue
		}
		title := s.Title
		if title == "" {
			title = s.ID
		}
		if btn, ok := button(title, callback{cbEntry, s.ID}); ok {
			rows = append(rows, []tgbotapi.InlineKeyboardButton{btn})
		}
	}
	return rows
}

// button makes an inline button; ok is false when its data would not fit, and the
// button is then better left out than refused by Telegram with the whole message.
func button(label string, c callback) (tgbotapi.InlineKeyboardButton, bool) {
	data, ok := c.encode()
	if !ok {
		return tgbotapi.InlineKeyboardButton{}, false
	}
	return tgbotapi.NewInlineKeyboardButtonData(truncate(label, maxButtonLabel), data), true
}

// truncate cuts s to n characters, ending with an ellipsis when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func renderStats(b *strings.Builder, title string, st *bot.Stats) {
	b.WriteString("<b>" + esc(title) + "</b>\n\n")
	if st == nil {
		b.WriteString("No statistics.")
		return
	}
	fmt.Fprintf(b, "Questions: %d · answered: %d (%.1f%%)\n", st.Total, st.Answered, st.AnsweredPct)
	fmt.Fprintf(b, "Latency: p50 %s · p90 %s · p99 %s", dur(st.LatencyP50), dur(st.LatencyP90), dur(st.LatencyP99))
	section := func(name string, cs []bot.Count) {
		if len(cs) > 0 {
			b.WriteString("\n\n<b>" + name + "</b>")
			writeCounts(b, cs)
		}
	}
	section("By platform", st.ByPlatform)
	section("Most asked", st.TopAsked)
	section("Most shown answers", st.TopEntries)
	section("Most asked sections", st.TopSections)
	section("Unanswered", st.Unanswered)
	if len(st.Votes) > 0 {
		b.WriteString("\n\n<b>Votes</b>")
		for _, v := range st.Votes {
			fmt.Fprintf(b, "\n%s: 👍 %d · 👎 %d", esc(v.EntryID), v.Up, v.Down)
		}
	}
}

// writeCounts writes a numbered list, one count a line; keys are user text, escaped.
func writeCounts(b *strings.Builder, cs []bot.Count) {
	for i, c := range cs {
		fmt.Fprintf(b, "\n%d. %s (%d)", i+1, esc(c.Key), c.Count)
	}
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// messages turns a rendered reply into the messages to send: split at 4,096
// characters, the buttons on the last part (under the end of the answer), and in
// groups the first part a reply to the question.
func (r rendered) messages(chatID int64, replyTo int) []outMsg {
	parts := splitHTML(r.html, maxMessageLen)
	out := make([]outMsg, len(parts))
	for i, p := range parts {
		out[i] = outMsg{chatID: chatID, text: p}
	}
	if len(out) > 0 {
		out[0].replyTo = replyTo
		if len(r.keyboard) > 0 {
			kb := tgbotapi.NewInlineKeyboardMarkup(r.keyboard...)
			out[len(out)-1].keyboard = &kb
		}
	}
	return out
}
