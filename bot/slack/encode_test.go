package slack

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/scobot/scobot/bot"
)

// marshal encodes v as encoding/json does (and slack-go with it), without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sameJSON fails unless a and b decode to the same value.
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("encodeMessage made invalid JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("encodings differ:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeMatchesSlackGo(t *testing.T) {
	tests := []message{
		{},
		{ResponseType: ephemeral, ReplaceOriginal: true, Text: "a \"quoted\" \\ text\n\t\x01\b\f\u2028 & <tag> \xff é 👍"},
		render(bot.Reply{Kind: bot.ReplyAnswer, QueryID: "q\"1", Question: "why <&>?",
			Answer:      &bot.AnswerView{EntryID: "a", Title: "Title \"x\"", Body: longMarkdown(5000), Quote: "q\nline", SectionHeading: "H"},
			Suggestions: []bot.EntryRef{{ID: "b", Title: "B\\"}, {ID: "c", Title: "C"}}}, "/sco"),
		render(bot.Reply{Kind: bot.ReplyReload, Text: "x", Problems: make([]string, 3000)}, "/sco"),
		// Blocks render never builds go through encoding/json.
		{Text: "other", Blocks: []slack.Block{
			slack.NewDividerBlock(),
			slack.NewSectionBlock(mrkdwnText("with fields"), []*slack.TextBlockObject{mrkdwnText("f")}, nil),
			slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "h", false, true), slack.HeaderBlockOptionBlockID("id")),
			slack.NewContextBlock("ctx", mrkdwnText("c")),
			slack.NewActionBlock("", &slack.ButtonBlockElement{Type: slack.METButton, Text: slack.NewTextBlockObject(slack.PlainTextType, "b", true, false), Style: slack.StylePrimary}),
		}},
	}
	for i, m := range tests {
		want, err := marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := encodeMessage(m)
		sameJSON(t, got, want)
		if i == 2 && !bytes.Contains(got, []byte(`"type":"actions","block_id":"vote"`)) {
			t.Errorf("the fast path was not taken:\n%s", got)
		}
	}
	ack := encodeAck("env\"1", &tests[1])
	var decoded struct {
		EnvelopeID string  `json:"envelope_id"`
		Payload    message `json:"payload"`
	}
	if err := json.Unmarshal(ack, &decoded); err != nil || decoded.EnvelopeID != "env\"1" || decoded.Payload.Text != strings.ToValidUTF8(tests[1].Text, "\uFFFD") {
		t.Errorf("ack: got %s (%v)", ack, err)
	}
	if got, want := string(encodeAck("e", nil)), `{"envelope_id":"e"}`; got != want {
		t.Errorf("bare ack: got %s, want %s", got, want)
	}
}

// FuzzEncode: the direct encoder agrees with encoding/json on any text.
func FuzzEncode(f *testing.F) {
	f.Add("text", "title", "q", "v")
	f.Add("\x00\x1f\"\\\u2028\u2029\xff", "é👍", "<&>", "\t")
	f.Fuzz(func(t *testing.T, text, title, question, value string) {
		m := render(bot.Reply{Kind: bot.ReplyAnswer, QueryID: value, Question: question,
			Answer:      &bot.AnswerView{EntryID: "e", Title: title, Body: text, Quote: text, SectionHeading: title},
			Suggestions: []bot.EntryRef{{ID: value, Title: title}}}, "/sco")
		m.Text = text
		want, err := marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, encodeMessage(m), want)
	})
}
