package slack

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
)

// FuzzParseCommand: any text parses to a known command, within the length cap.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "share when is the summit", "share", "ask stats", "stats", "REload", "share share x", "\xff", "share\u00a0x"} {
		f.Add(s)
	}
	known := map[bot.Command]bool{bot.CmdAsk: true, bot.CmdHelp: true, bot.CmdTopics: true, bot.CmdReload: true, bot.CmdStats: true, bot.CmdUnanswered: true}
	f.Fuzz(func(t *testing.T, s string) {
		c := parseCommand(s)
		if !known[c.cmd] {
			t.Fatalf("parseCommand(%q): unknown command %q", s, c.cmd)
		}
		if len(c.text) > maxQuestion {
			t.Fatalf("parseCommand(%q): %d bytes of text", s, len(c.text))
		}
		if c.share && (c.cmd == bot.CmdReload || c.cmd == bot.CmdStats || c.cmd == bot.CmdUnanswered) {
			t.Fatalf("parseCommand(%q): admin output shared", s)
		}
	})
}

// FuzzSlackToPlain: the result is valid UTF-8, has no mention left, and is never
// longer than twice the input (entities only shrink; #names and labels come from it).
func FuzzSlackToPlain(f *testing.F) {
	for _, s := range []string{"<@U1> hi", "<#C1|gen>", "<https://x|y>", "&amp;&lt;&gt;", "<<>>", "<!here|x>", "a<b", "\xff<@\xff>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := slackToPlain(s)
		if !utf8.ValidString(got) {
			t.Fatalf("slackToPlain(%q) = %q: not UTF-8", s, got)
		}
		if len(got) > 2*len(s)+3 {
			t.Fatalf("slackToPlain(%q) = %q: grew", s, got)
		}
		if strings.Contains(got, "  ") || got != strings.TrimSpace(got) {
			t.Fatalf("slackToPlain(%q) = %q: spaces not collapsed", s, got)
		}
	})
}

// FuzzRender: whatever the knowledge base or a user says, the message stays within
// Slack's limits and encodes.
func FuzzRender(f *testing.F) {
	f.Add("Title", "Body with **bold** and [a link](https://x.org)", "Quote", "question?", "Heading")
	f.Add(strings.Repeat("t", 300), strings.Repeat("&<>", 4000), strings.Repeat("> q\n", 600), "\xff", "")
	f.Add("", strings.Repeat("word ", 3000), "", strings.Repeat("<!channel>", 100), "H")
	f.Fuzz(func(t *testing.T, title, body, quote, question, heading string) {
		r := bot.Reply{Kind: bot.ReplyAnswer, QueryID: "q", Question: question,
			Answer:      &bot.AnswerView{EntryID: "e", Title: title, Body: body, Quote: quote, SectionHeading: heading},
			Suggestions: []bot.EntryRef{{ID: "a", Title: title}, {ID: "b", Title: question}}}
		checkLimits(t, render(r, "/sco"))
		checkLimits(t, render(bot.Reply{Kind: bot.ReplyReload, Text: title, Problems: strings.Split(body, "\n")}, "/sco"))
		checkLimits(t, render(bot.Reply{Kind: bot.ReplyDecline, Text: body, Question: question, Suggestions: r.Suggestions}, "/sco"))
	})
}

// FuzzSplitMrkdwn: parts fit, are never empty, and together keep every non-space byte.
func FuzzSplitMrkdwn(f *testing.F) {
	f.Add("aaaa bbbb &amp; <https://x|y> cccc", 8)
	f.Add(strings.Repeat("é", 100), 5)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 8 || max > 5000 || !utf8.ValidString(s) {
			return
		}
		parts := splitMrkdwn(s, max)
		for _, p := range parts {
			if p == "" || len(p) > max || !utf8.ValidString(p) {
				t.Fatalf("splitMrkdwn(%q, %d): bad part %q", s, max, p)
			}
		}
		strip := func(x string) string { return strings.NewReplacer(" ", "", "\n", "").Replace(x) }
		if got, want := strip(strings.Join(parts, "")), strip(s); got != want {
			t.Fatalf("splitMrkdwn(%q, %d) lost text: %q", s, max, parts)
		}
	})
}

// FuzzEndpoints sends signed, arbitrary bodies to the three endpoints: no panic, and
// only the statuses a verified request can get.
func FuzzEndpoints(f *testing.F) {
	seeds := []string{
		url.Values{"user_id": {"U1"}, "text": {"summit"}, "trigger_id": {"t"}}.Encode(),
		"text=%zz&user_id=U1",
		"payload=" + url.QueryEscape(`{"type":"block_actions","trigger_id":"x","response_url":"http://127.0.0.1:1/r","user":{"id":"U1"},"actions":[{"action_id":"vote_up","block_id":"b","value":"q"}]}`),
		"payload=" + url.QueryEscape(`{"type":"block_actions","actions":[{"action_id":"entry_0","block_id":"b","value":"presidency-dates"}]}`),
		`{"type":"url_verification","challenge":"c"}`,
		`{"type":"event_callback","event_id":"E1","event":{"type":"app_mention","user":"U1","text":"<@U2> summit","ts":"1.2","channel":"C1"}}`,
		`{"type":"event_callback","event_id":"E2","event":{"type":"message","channel_type":"im","user":"U1","text":"summit","ts":"1.3","channel":"D1"}}`,
		`{"type":"event_callback","event":{"type":"message","message":{"blocks":[{"type":"x"}]}}}`,
		`{"type":"event_callback","event":"x"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	e := newEnv(f, true, nil) // one bot for all inputs
	paths := []string{"/slack/commands", "/slack/interactive", "/slack/events"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		w := e.do(path, []byte(body), "application/x-www-form-urlencoded")
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusServiceUnavailable:
		default:
			t.Fatalf("%s %q: status %d", path, body, w.Code)
		}
	})
}
