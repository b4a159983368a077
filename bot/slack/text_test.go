package slack

import (
	"strings"
	"testing"

	"github.com/scobot/scobot/bot"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want command
	}{
		{"", command{cmd: bot.CmdHelp}},
		{"   ", command{cmd: bot.CmdHelp}},
		{"help", command{cmd: bot.CmdHelp}},
		{"HELP", command{cmd: bot.CmdHelp}},
		{"?", command{cmd: bot.CmdHelp}},
		{"help me understand the charter", command{cmd: bot.CmdAsk, text: "help me understand the charter"}},
		{"topics", command{cmd: bot.CmdTopics}},
		{"topic", command{cmd: bot.CmdTopics}},
		{"stats", command{cmd: bot.CmdStats}},
		{"stats?", command{cmd: bot.CmdStats}},
		{"reload", command{cmd: bot.CmdReload}},
		{"unanswered", command{cmd: bot.CmdUnanswered}},
		{"stats for the summit", command{cmd: bot.CmdAsk, text: "stats for the summit"}},
		{"ask topics", command{cmd: bot.CmdAsk, text: "topics"}},
		{"share when is the summit", command{cmd: bot.CmdAsk, text: "when is the summit", share: true}},
		{"share\twhen is the summit", command{cmd: bot.CmdAsk, text: "when is the summit", share: true}},
		{"Share topics", command{cmd: bot.CmdTopics, share: true}},
		{"share stats", command{cmd: bot.CmdStats}},
		{"share", command{cmd: bot.CmdHelp}},
		{"sharea b", command{cmd: bot.CmdAsk, text: "sharea b"}},
		{"  When does Kazakhstan chair the SCO?  ", command{cmd: bot.CmdAsk, text: "When does Kazakhstan chair the SCO?"}},
	}
	for _, tt := range tests {
		if got := parseCommand(tt.in); got != tt.want {
			t.Errorf("parseCommand(%q): got %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if got := parseCommand(strings.Repeat("é", 3000)); len(got.text) > maxQuestion {
		t.Errorf("a long question was not capped: %d bytes", len(got.text))
	}
}

func TestSlackToPlain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"<@U123> when is the summit?", "when is the summit?"},
		{"hey <@U123|scobot>, when?", "hey , when?"},
		{"<!here> <!channel> <!subteam^S1|@team> hi", "hi"},
		{"in <#C123|general> and <#C456>", "in #general and"},
		{"see <https://example.com|the site> and <https://x.org>", "see the site and https://x.org"},
		{"mail <mailto:a@b.c|a@b.c>", "mail a@b.c"},
		{"a &lt;b&gt; &amp;amp; c", "a <b> &amp; c"},
		{"unclosed <@U1 text", "unclosed <@U1 text"},
		{"multi\n\nline\ttext", "multi line text"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
	}
	for _, tt := range tests {
		if got := slackToPlain(tt.in); got != tt.want {
			t.Errorf("slackToPlain(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
