package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
)

// checkLimits fails when m breaks one of Slack's limits or could not be sent.
func checkLimits(t *testing.T, m message) {
	t.Helper()
	if len(m.Blocks) > maxBlocks {
		t.Errorf("blocks: got %d, want at most %d", len(m.Blocks), maxBlocks)
	}
	if m.Text == "" || len(m.Text) > maxFallback {
		t.Errorf("fallback text: got %d bytes, want 1..%d", len(m.Text), maxFallback)
	}
	if !utf8.ValidString(m.Text) {
		t.Errorf("fallback text is not UTF-8")
	}
	data := encodeMessage(m)
	var decoded struct {
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(data, &decoded); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	total := 0
	for i, b := range decoded.Blocks {
		typ, _ := b["type"].(string)
		switch typ {
		case "section":
			text := b["text"].(map[string]any)["text"].(string)
			if text == "" || len(text) > maxSectionText {
				t.Errorf("block %d: section text of %d bytes, want 1..%d", i, len(text), maxSectionText)
			}
			if !utf8.ValidString(text) {
				t.Errorf("block %d: section text is not UTF-8", i)
			}
			total += len(text)
		case "header":
			text := b["text"].(map[string]any)["text"].(string)
			if n := utf8.RuneCountInString(text); n == 0 || n > maxHeaderText {
				t.Errorf("block %d: header of %d characters", i, n)
			}
			total += len(text)
		case "actions":
			for _, el := range b["elements"].([]any) {
				text := el.(map[string]any)["text"].(map[string]any)["text"].(string)
				if n := utf8.RuneCountInString(text); n == 0 || n > maxButtonText {
					t.Errorf("block %d: button text of %d characters", i, n)
				}
			}
		case "context":
			for _, el := range b["elements"].([]any) {
				total += len(el.(map[string]any)["text"].(string))
			}
		default:
			t.Errorf("block %d: unexpected type %q", i, typ)
		}
	}
	if total > maxMessageText+100 {
		t.Errorf("block text: got %d bytes in all, want at most about %d", total, maxMessageText)
	}
}

func longMarkdown(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "Paragraph %d has **bold**, a [link](https://example.com/%d?a=1&b=2) and <tags> & ampersands.\n\n- item one\n- item two\n\n", i, i)
	}
	return b.String()
}

func TestRenderLimits(t *testing.T) {
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	counts := func(n int) []bot.Count {
		out := make([]bot.Count, n)
		for i := range out {
			out[i] = bot.Count{Key: strings.Repeat("<question & more> ", 20), Count: i}
		}
		return out
	}
	var topics []bot.Topic
	for i := range 80 {
		tp := bot.Topic{Section: fmt.Sprint("s", i), Heading: strings.Repeat("Heading ", 10)}
		for j := range 30 {
			tp.Entries = append(tp.Entries, bot.EntryRef{ID: fmt.Sprint("e", j), Title: strings.Repeat("Title & <more> ", 5)})
		}
		topics = append(topics, tp)
	}
	tests := []struct {
		name string
		r    bot.Reply
	}{
		{"short answer", bot.Reply{Kind: bot.ReplyAnswer, QueryID: "q1", Question: "q?", Answer: &bot.AnswerView{EntryID: "a", Title: "T", Body: "Body.", Quote: "Quote.", SectionHeading: "H"}}},
		{"huge answer", bot.Reply{Kind: bot.ReplyAnswer, QueryID: "q1", Question: strings.Repeat("why ", 2000),
			Answer:      &bot.AnswerView{EntryID: "a", Title: strings.Repeat("Long title ", 50), Body: longMarkdown(60000), Quote: longMarkdown(9000), SectionHeading: "H"},
			Suggestions: []bot.EntryRef{{ID: "b", Title: strings.Repeat("Suggested ", 30)}, {ID: "c", Title: "C"}, {ID: "d", Title: "D"}, {ID: "e", Title: "E"}}}},
		{"one long word", bot.Reply{Kind: bot.ReplyAnswer, Answer: &bot.AnswerView{Title: "T", Body: strings.Repeat("é", 10000)}}},
		{"entities everywhere", bot.Reply{Kind: bot.ReplyAnswer, Answer: &bot.AnswerView{Title: "T", Body: strings.Repeat("&<>", 5000)}}},
		{"many problems", bot.Reply{Kind: bot.ReplyReload, Text: "The knowledge base has errors.", Problems: many(2000, func(i int) string { return fmt.Sprintf("kb/%d.md:%d: <bad> & worse", i, i) })}},
		{"many topics", bot.Reply{Kind: bot.ReplyTopics, Text: "The article covers these topics:", Topics: topics}},
		{"big stats", bot.Reply{Kind: bot.ReplyStats, Text: "Last 7 days:", Stats: &bot.Stats{Total: 10, ByPlatform: counts(100), TopAsked: counts(100), Unanswered: counts(100), TopEntries: counts(100), TopSections: counts(100), Votes: []bot.EntryVotes{{EntryID: "a", Up: 1}}}}},
		{"nil stats", bot.Reply{Kind: bot.ReplyStats, Text: "Last 7 days:"}},
		{"many unanswered", bot.Reply{Kind: bot.ReplyUnanswered, Text: "Unanswered:", Unanswered: counts(1000)}},
		{"empty unanswered", bot.Reply{Kind: bot.ReplyUnanswered, Text: "Unanswered:"}},
		{"empty text", bot.Reply{Kind: bot.ReplyError}},
		{"answer without view", bot.Reply{Kind: bot.ReplyAnswer, Text: "odd"}},
		{"invalid UTF-8", bot.Reply{Kind: bot.ReplyAnswer, Question: "\xff\xfe", Answer: &bot.AnswerView{Title: "\xff", Body: strings.Repeat("a\xffb ", 3000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLimits(t, render(tt.r, "/sco"))
		})
	}
}

func TestRenderShortensVisibly(t *testing.T) {
	m := render(bot.Reply{Kind: bot.ReplyReload, Text: "x", Problems: make([]string, 5000)}, "/sco")
	texts := strings.Join(blockTexts(toJSON(t, m)["blocks"]), "\n")
	if !strings.Contains(texts, "Shortened") {
		t.Errorf("a shortened message should say so:\n%.300s", texts)
	}
}

func toJSON(t *testing.T, m message) map[string]any {
	t.Helper()
	data := encodeMessage(m)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderEscapes(t *testing.T) {
	r := bot.Reply{Kind: bot.ReplyAnswer, QueryID: "q", Question: "<!here> & you",
		Answer: &bot.AnswerView{EntryID: "a", Title: "A <b> & c", SectionHeading: "S & <T>",
			Body:  "Visit [the <site>](https://example.com/?a=1&b=2) or <script>alert(1)</script> & **bold**",
			Quote: "Said <@U123> > 5"}}
	m := toJSON(t, render(r, "/sco"))
	texts := strings.Join(blockTexts(m["blocks"]), "\n")
	for _, want := range []string{
		"You asked: _&lt;!here&gt; &amp; you_",
		"<https://example.com/?a=1&amp;b=2|the &lt;site&gt;>",
		"&lt;script&gt;alert(1)&lt;/script&gt; &amp; *bold*",
		"*Source:* S &amp; &lt;T&gt;",
		">Said &lt;@U123&gt; &gt; 5",
		"A <b> & c", // the header is plain text: shown as typed
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("rendered text lacks %q:\n%s", want, texts)
		}
	}
	for _, bad := range []string{"<!here>", "<@U123>", "<script>"} {
		if strings.Contains(texts, bad) {
			t.Errorf("rendered text contains %q unescaped", bad)
		}
	}
	if text := m["text"].(string); strings.Contains(text, "<b>") || !strings.HasPrefix(text, "A &lt;b&gt; &amp; c") {
		t.Errorf("fallback text: got %q", text)
	}
}

func TestRenderSuggestions(t *testing.T) {
	refs := []bot.EntryRef{{ID: "a", Title: "A"}, {ID: "b", Title: "B"}, {ID: "c", Title: "C"}, {ID: "d", Title: "D"}, {ID: "e", Title: "E"}}
	tests := []struct {
		name string
		r    bot.Reply
		want map[string]string
	}{
		{"decline", bot.Reply{Kind: bot.ReplyDecline, Text: "No.", QueryID: "q", Suggestions: refs},
			map[string]string{"entry_0": "a", "entry_1": "b", "entry_2": "c"}},
		{"answer skips itself", bot.Reply{Kind: bot.ReplyAnswer, QueryID: "q", Answer: &bot.AnswerView{EntryID: "a", Title: "A", Body: "x"}, Suggestions: refs},
			map[string]string{"vote_up": "q", "vote_down": "q", "entry_0": "b", "entry_1": "c", "entry_2": "d"}},
		{"answer without query id", bot.Reply{Kind: bot.ReplyAnswer, Answer: &bot.AnswerView{EntryID: "a", Title: "A", Body: "x"}},
			map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buttons(toJSON(t, render(tt.r, "/sco"))["blocks"])
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("buttons: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSplitMrkdwn(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"fits", "abc", 10, []string{"abc"}},
		{"paragraphs", "aaaa\n\nbbbb\n\ncccc", 11, []string{"aaaa\n\nbbbb", "cccc"}},
		{"lines", "aaaa\nbbbb\ncccc", 10, []string{"aaaa\nbbbb", "cccc"}},
		{"words", "aaaa bbbb cccc", 10, []string{"aaaa bbbb", "cccc"}},
		{"hard", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"runes", "ééééé", 5, []string{"éé", "éé", "é"}},
		{"entity kept whole", "abcdefg &amp; x", 11, []string{"abcdefg", "&amp; x"}},
		{"entity without spaces", "abcdefgh&amp;xyz", 11, []string{"abcdefgh", "&amp;xyz"}},
		{"link kept whole", "see <https://e.com|e> now", 20, []string{"see", "<https://e.com|e>", "now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitMrkdwn(tt.in, tt.max)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("splitMrkdwn(%q, %d): got %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestTruncPlain(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"this is too long", 10, "this is t…"},
		{"ééééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		if got := truncPlain(tt.in, tt.max); got != tt.want {
			t.Errorf("truncPlain(%q, %d): got %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
