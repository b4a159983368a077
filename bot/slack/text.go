package slack

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
)

// maxQuestion caps the text handed to the core. Slack allows longer messages, but the
// query log keeps bot.MaxQuestionLen bytes and the matcher reads less; the cap bounds
// the work a single message can cause.
const maxQuestion = 4000

// command is what a user's text asks for, in the core's terms.
type command struct {
	cmd   bot.Command
	text  string
	share bool // "/sco share ...": post the answer to the channel
}

// parseCommand reads the text after the slash command, or of a mention or direct
// message. A keyword counts only as the whole text ("help", "stats"), so a question
// that starts with one ("help me understand the charter") is still a question;
// "share" and "ask" are prefixes.
func parseCommand(text string) command {
	t := strings.TrimSpace(text)
	word, rest := t, ""
	if i := strings.IndexFunc(t, unicode.IsSpace); i >= 0 {
		word, rest = t[:i], strings.TrimSpace(t[i:])
	}
	switch strings.ToLower(word) {
	case "":
		return command{cmd: bot.CmdHelp}
	case "share":
		if rest == "" {
			return command{cmd: bot.CmdHelp}
		}
		c := parseCommand(rest)
		switch c.cmd {
		case bot.CmdReload, bot.CmdStats, bot.CmdUnanswered:
			// Admin output names what people asked: it stays ephemeral.
		default:
			c.share = true
		}
		return c
	case "ask":
		return command{cmd: bot.CmdAsk, text: capText(rest)}
	}
	if rest == "" {
		switch strings.ToLower(strings.Trim(word, "?!.")) {
		case "help", "":
			return command{cmd: bot.CmdHelp}
		case "topics", "topic":
			return command{cmd: bot.CmdTopics}
		case "reload":
			return command{cmd: bot.CmdReload}
		case "stats":
			return command{cmd: bot.CmdStats}
		case "unanswered":
			return command{cmd: bot.CmdUnanswered}
		}
	}
	return command{cmd: bot.CmdAsk, text: capText(t)}
}

// capText cuts s to maxQuestion bytes at a rune boundary.
func capText(s string) string {
	if len(s) <= maxQuestion {
		return s
	}
	i := maxQuestion
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// slackToPlain turns the text of a Slack message into what the user meant to ask:
// user, group and special mentions (<@U123>, <!here>) are dropped, channel references
// become #name, links become their label or URL, and the three escaped characters
// (&amp; &lt; &gt;) are unescaped. Anything malformed is kept as text.
func slackToPlain(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, "<&") {
		return strings.Join(strings.Fields(s), " ")
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(entity(s[i+1 : i+end]))
		b.WriteByte(' ')
		s = s[i+end+1:]
	}
	b.WriteString(s)
	out := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
	return strings.Join(strings.Fields(out), " ")
}

// entity renders the inside of one <...> reference.
func entity(e string) string {
	target, label, hasLabel := strings.Cut(e, "|")
	switch {
	case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "!"):
		return "" // mentions of people, groups, @here: nothing to search for
	case strings.HasPrefix(target, "#"):
		if hasLabel && label != "" {
			return "#" + label
		}
		return ""
	case hasLabel && label != "":
		return label
	}
	return strings.TrimPrefix(target, "mailto:")
}
