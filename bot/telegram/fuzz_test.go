package telegram

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/scobot/scobot/bot/markup"
)

// FuzzParseCallback feeds arbitrary callback_data, as a forged or stale button would:
// no panic, and whatever parses encodes back to the same bytes.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{"uAZCl0ns8fe-BI0VniavN7w", "d:q-1", "e:sco-founding", "s:overview", "", "u", "x:y", "e:A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := parseCallback(data)
		if err != nil {
			return
		}
		back, ok := c.encode()
		if !ok || back != data {
			t.Errorf("parseCallback(%q) = %+v, which encodes to %q, %v", data, c, back, ok)
		}
	})
}

// FuzzEncodeCallback checks that every button the bot makes fits in 64 bytes and
// decodes to what was put in.
func FuzzEncodeCallback(f *testing.F) {
	f.Add(byte('u'), "0190a5d2-7b3c-7def-8123-456789abcdef")
	f.Add(byte('e'), "western-europe-western-china-corridor")
	f.Add(byte('d'), "not-a-uuid")
	f.Fuzz(func(t *testing.T, kind byte, arg string) {
		c := callback{callbackKind(kind), arg}
		data, ok := c.encode()
		if !ok {
			return
		}
		if len(data) > maxCallbackData || data == "" {
			t.Fatalf("encode(%+v) = %d bytes", c, len(data))
		}
		back, err := parseCallback(data)
		if err != nil || back != c {
			t.Errorf("parseCallback(encode(%+v)) = %+v, %v", c, back, err)
		}
	})
}

// FuzzParseCommand feeds arbitrary text and a bot_command entity, offsets in UTF-16
// units as Telegram sends them, or nonsense.
func FuzzParseCommand(f *testing.F) {
	f.Add("/ask@ScoBot when?", 11)
	f.Add("/start sco-founding", 6)
	f.Add("🇰🇿/x", 3)
	f.Add("/", 1)
	f.Fuzz(func(t *testing.T, text string, length int) {
		ents := []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: length}}
		c, ok := parseCommand(text, ents)
		if !ok {
			return
		}
		if c.name == "" || c.name != strings.ToLower(c.name) || strings.Contains(c.name, "@") {
			t.Errorf("parseCommand(%q, %d): name %q", text, length, c.name)
		}
		if c.args != strings.TrimSpace(c.args) {
			t.Errorf("parseCommand(%q, %d): args %q not trimmed", text, length, c.args)
		}
		me := tgbotapi.User{ID: 1, UserName: "ScoBot"}
		withoutMention(text, []tgbotapi.MessageEntity{{Type: "mention", Offset: length / 2, Length: length}}, me)
	})
}

// FuzzSplitHTML splits what the renderer makes of arbitrary Markdown: every part is
// valid Telegram HTML within the limit, and no text is lost or repeated.
func FuzzSplitHTML(f *testing.F) {
	// The renderer itself can make an empty element, "[](https:)" an empty link; a part
	// of only that is the input's doing.
	emptyElement := regexp.MustCompile(`<[a-z][^>]*></`)
	f.Add("**bold** and *it* [link](https://example.com/?a=1&b=2)\n\nnext <para> & more", 20)
	f.Add("- one\n- two **three four five**\n\n😀😀😀😀", 7)
	f.Add(strings.Repeat("word ", 200), 64)
	f.Fuzz(func(t *testing.T, md string, limit int) {
		if !utf8.ValidString(md) {
			return
		}
		limit = 24 + int(uint(limit)%400)
		in := "<b>" + esc(truncate(md, 20)) + "</b>\n\n" + markup.TelegramHTML(md)
		if err := validateTelegramHTML(in); err != nil {
			t.Skipf("the renderer made invalid HTML (not this test's concern): %v", err)
		}
		if strings.TrimSpace(plainText(in)) == "" {
			return // render never sends an empty message
		}
		parts := splitHTML(in, limit)
		longTag := 0
		for i := 0; i < len(in); {
			tok := nextToken(in[i:])
			i += len(tok.s)
			if tok.kind == 't' {
				longTag = max(longTag, utf16Len(tok.s))
			}
		}
		var got strings.Builder
		for _, p := range parts {
			if err := validateTelegramHTML(p); err != nil {
				t.Fatalf("part %q: %v", p, err)
			}
			// Up to three tags can be open (b, i, a) and must be closed and reopened; a
			// link address longer than that allows cannot be helped.
			if n := utf16Len(p); n > limit && 3*2*longTag < limit {
				t.Fatalf("part of %d units over the limit %d: %q", n, limit, p)
			}
			if strings.TrimSpace(plainText(p)) == "" && !emptyElement.MatchString(in) {
				t.Errorf("empty part %q", p)
			}
			got.WriteString(plainText(p))
		}
		squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if g, w := squeeze(got.String()), squeeze(plainText(in)); g != w {
			t.Errorf("text changed by splitting:\n got %q\nwant %q", g, w)
		}
	})
}
