package telegram

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot"
)

// anonymousAdmin is the account Telegram shows for a group admin who posts
// anonymously. It is a bot account, but a person is behind it.
const anonymousAdmin = "GroupAnonymousBot"

// knownCommands maps the slash commands users type to the core's commands. The core's
// button commands (entry, section) are deliberately not here.
var knownCommands = map[string]bot.Command{
	"start":      bot.CmdStart,
	"help":       bot.CmdHelp,
	"topics":     bot.CmdTopics,
	"ask":        bot.CmdAsk,
	"reload":     bot.CmdReload,
	"stats":      bot.CmdStats,
	"unanswered": bot.CmdUnanswered,
}

// onMessage answers a message, if it is for the bot.
func (b *Bot) onMessage(ctx context.Context, m *tgbotapi.Message) {
	if m.Chat == nil || m.From == nil || (m.From.IsBot && m.From.UserName != anonymousAdmin) {
		return // channel posts, service messages, other bots (and so never ourselves)
	}
	cmd, text, ok := route(m, b.self)
	if !ok {
		return
	}
	// Whoever writes can be written to again, even after a 403.
	b.out.unblock(m.Chat.ID)
	reply := b.h.Handle(ctx, bot.Message{
		Platform:  bot.PlatformTelegram,
		Workspace: b.workspace,
		Chat:      strconv.FormatInt(m.Chat.ID, 10),
		User:      strconv.FormatInt(m.From.ID, 10),
		Command:   cmd,
		Text:      text,
		Admin:     b.admins[m.From.ID],
	})
	replyTo := 0
	if m.Chat.Type != "private" {
		replyTo = m.MessageID // in a group, thread the answer under its question
	}
	b.out.enqueue(render(reply).messages(m.Chat.ID, replyTo)...)
}

// route decides whether a message is for the bot and what it asks. In a private chat
// every text is: a command, or else a question. In a group only commands (bare, or
// addressed to this bot with @), messages that mention the bot, and replies to the
// bot's messages are; everything else is people talking to each other.
func route(m *tgbotapi.Message, me tgbotapi.User) (cmd bot.Command, text string, ok bool) {
	if strings.TrimSpace(m.Text) == "" || m.Chat == nil {
		return "", "", false
	}
	private := m.Chat.Type == "private"
	if c, isCmd := parseCommand(m.Text, m.Entities); isCmd {
		if c.bot != "" && !strings.EqualFold(c.bot, me.UserName) {
			return "", "", false // /ask@OtherBot
		}
		if known, ok := knownCommands[c.name]; ok {
			return known, c.args, true
		}
		if private || c.bot != "" {
			// An unknown command meant for us: the core answers it with help. The slash
			// keeps it from ever matching a core command.
			return bot.Command("/" + c.name), c.args, true
		}
		return "", "", false // a bare /cmd in a group may be another bot's
	}
	if private {
		return bot.CmdAsk, strings.TrimSpace(m.Text), true
	}
	if q, ok := withoutMention(m.Text, m.Entities, me); ok {
		return bot.CmdAsk, q, true
	}
	if r := m.ReplyToMessage; r != nil && r.From != nil && r.From.ID == me.ID {
		return bot.CmdAsk, strings.TrimSpace(m.Text), true
	}
	return "", "", false
}

// command is a bot command at the start of a message: "/ask@ScoBot when?".
type command struct {
	name string // lowercased, without the slash
	bot  string // the username after @, or empty
	args string // the rest of the message, trimmed
}

// parseCommand parses the bot_command entity at offset 0. It trusts the entity, not a
// leading "/", so that "/usr/bin is a path" is a question, not a command.
func parseCommand(text string, ents []tgbotapi.MessageEntity) (command, bool) {
	for _, e := range ents {
		if e.Type != "bot_command" || e.Offset != 0 {
			continue
		}
		u := utf16.Encode([]rune(text))
		if e.Length < 2 || e.Length > len(u) {
			return command{}, false
		}
		raw := string(utf16.Decode(u[:e.Length]))
		rest := string(utf16.Decode(u[e.Length:]))
		if raw[0] != '/' {
			return command{}, false
		}
		name, at, _ := strings.Cut(raw[1:], "@")
		if name == "" {
			return command{}, false
		}
		return command{name: strings.ToLower(name), bot: at, args: strings.TrimSpace(rest)}, true
	}
	return command{}, false
}

// withoutMention reports whether text mentions the bot (an @username entity or a
// text_mention of its account) and returns the text without those mentions.
func withoutMention(text string, ents []tgbotapi.MessageEntity, me tgbotapi.User) (string, bool) {
	u := utf16.Encode([]rune(text))
	var spans [][2]int
	for _, e := range ents {
		if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > len(u) {
			continue
		}
		switch {
		case e.Type == "mention" && me.UserName != "" &&
			strings.EqualFold(string(utf16.Decode(u[e.Offset:e.Offset+e.Length])), "@"+me.UserName):
		case e.Type == "text_mention" && e.User != nil && e.User.ID == me.ID:
		default:
			continue
		}
		spans = append(spans, [2]int{e.Offset, e.Offset + e.Length})
	}
	if len(spans) == 0 {
		return "", false
	}
	// Cut from the end, so earlier offsets stay valid.
	slices.SortFunc(spans, func(a, b [2]int) int { return b[0] - a[0] })
	end := len(u) + 1
	for _, s := range spans {
		if s[1] > end {
			continue // overlaps one already cut
		}
		u = append(u[:s[0]:s[0]], u[s[1]:]...)
		end = s[0]
	}
	return strings.Join(strings.Fields(string(utf16.Decode(u))), " "), true
}

// onCallback handles a tapped button. Every callback query is answered, or the user's
// client shows a spinner until it gives up.
func (b *Bot) onCallback(ctx context.Context, cq *tgbotapi.CallbackQuery) {
	c, err := parseCallback(cq.Data)
	if err != nil || cq.From == nil {
		b.log.Debug("unknown button", "err", err)
		b.out.answerCallback(cq.ID, "That button no longer works. Please ask again.")
		return
	}
	user := strconv.FormatInt(cq.From.ID, 10)
	switch c.kind {
	case cbVoteUp, cbVoteDown:
		v := bot.VoteUp
		if c.kind == cbVoteDown {
			v = bot.VoteDown
		}
		text, err := b.h.Vote(bot.PlatformTelegram, user, c.arg, v)
		if err != nil {
			b.log.Warn("vote not recorded", "err", err)
			text = "Sorry, I couldn't record your vote. Please try again later."
		}
		b.out.answerCallback(cq.ID, text)
	case cbEntry, cbSection:
		if cq.Message == nil || cq.Message.Chat == nil {
			// A button on an inline message: there is no chat to answer in.
			b.out.answerCallback(cq.ID, "Open a chat with me to read this.")
			return
		}
		b.out.answerCallback(cq.ID, "")
		cmd := bot.CmdEntry
		if c.kind == cbSection {
			cmd = bot.CmdSection
		}
		chat := cq.Message.Chat.ID
		reply := b.h.Handle(ctx, bot.Message{
			Platform:  bot.PlatformTelegram,
			Workspace: b.workspace,
			Chat:      strconv.FormatInt(chat, 10),
			User:      user,
			Command:   cmd,
			Text:      c.arg,
			Admin:     b.admins[cq.From.ID],
		})
		b.out.enqueue(render(reply).messages(chat, 0)...)
	}
}
