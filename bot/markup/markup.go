// Package markup parses the small Markdown subset of answer bodies (paragraphs, **bold**,
// *italics*, "- " lists and [links](https://...)) and renders it for each platform:
// Telegram's HTML, Slack's mrkdwn, web HTML and plain text. Every renderer escapes
// what its platform treats as markup, so an answer can never break a message.
package markup

import (
	"html"
	"net/url"
	"strings"
)

// Span is a run of text with one style. A link has URL set.
type Span struct {
	Text         string
	Bold, Italic bool
	URL          string
}

// Block is a paragraph (one line of spans) or a list (one line per item).
type Block struct {
	List  bool
	Lines [][]Span
}

// Parse parses Markdown into blocks. It never fails: what it does not understand is text.
func Parse(md string) []Block {
	md = strings.ReplaceAll(md, "\r\n", "\n")
	var blocks []Block
	var para []string
	flush := func() {
		if len(para) > 0 {
			blocks = append(blocks, Block{Lines: [][]Span{inline(strings.Join(para, " "))}})
			para = nil
		}
	}
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") || strings.HasPrefix(t, "+ "):
			flush()
			item := inline(strings.TrimSpace(t[2:]))
			if n := len(blocks); n > 0 && blocks[n-1].List {
				blocks[n-1].Lines = append(blocks[n-1].Lines, item)
			} else {
				blocks = append(blocks, Block{List: true, Lines: [][]Span{item}})
			}
		default:
			if n := len(blocks); n > 0 && blocks[n-1].List && len(para) == 0 && strings.HasPrefix(line, "  ") {
				// A continuation line of the last list item.
				last := &blocks[n-1].Lines[len(blocks[n-1].Lines)-1]
				*last = append(*last, Span{Text: " "})
				*last = append(*last, inline(t)...)
				continue
			}
			para = append(para, t)
		}
	}
	flush()
	return blocks
}

// inline parses **bold**, *italics* (or _italics_) and [text](url) in one line.
func inline(s string) []Span {
	var out []Span
	var b strings.Builder
	bold, italic := false, false
	emit := func() {
		if b.Len() > 0 {
			out = append(out, Span{Text: b.String(), Bold: bold, Italic: italic})
			b.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "**") || strings.HasPrefix(s[i:], "__"):
			if bold || strings.Contains(s[i+2:], s[i:i+2]) {
				emit()
				bold = !bold
				i += 2
				continue
			}
		case s[i] == '*' || (s[i] == '_' && (i == 0 || !isWordByte(s[i-1]))) || (s[i] == '_' && italic):
			if italic || strings.IndexByte(s[i+1:], s[i]) >= 0 {
				emit()
				italic = !italic
				i++
				continue
			}
		case s[i] == '[':
			if text, link, n, ok := parseLink(s[i:]); ok {
				emit()
				out = append(out, Span{Text: text, Bold: bold, Italic: italic, URL: link})
				i += n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	emit()
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseLink parses [text](url) at the start of s. Only http, https and mailto links are
// links; anything else stays text, so a javascript: URL can never reach a page.
func parseLink(s string) (text, link string, n int, ok bool) {
	close := strings.Index(s, "](")
	if close < 0 {
		return "", "", 0, false
	}
	end := strings.IndexByte(s[close+2:], ')')
	if end < 0 {
		return "", "", 0, false
	}
	text, link = s[1:close], strings.TrimSpace(s[close+2:close+2+end])
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") || strings.ContainsAny(link, " <>\"") {
		return "", "", 0, false
	}
	return text, link, close + 3 + end, true
}

// TelegramHTML renders md in Telegram's HTML parse mode: only <b>, <i> and <a href>,
// balanced, with &, < and > escaped everywhere else.
func TelegramHTML(md string) string {
	return render(Parse(md), func(sp Span) string {
		t := html.EscapeString(sp.Text)
		if sp.URL != "" {
			t = `<a href="` + html.EscapeString(sp.URL) + `">` + t + `</a>`
		}
		return wrap(t, sp, "<b>", "</b>", "<i>", "</i>")
	}, "• ")
}

// SlackMrkdwn renders md in Slack's mrkdwn: *bold*, _italics_, <url|text>, with &, <
// and > escaped as Slack asks.
func SlackMrkdwn(md string) string {
	return render(Parse(md), func(sp Span) string {
		t := SlackEscape(sp.Text)
		if sp.URL != "" {
			t = "<" + SlackEscape(sp.URL) + "|" + strings.ReplaceAll(t, "|", "¦") + ">"
		}
		if strings.TrimSpace(sp.Text) == "" {
			return t
		}
		return wrap(t, sp, "*", "*", "_", "_")
	}, "• ")
}

// slackEscaper is built once: a Replacer is costly to build and safe to share.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackEscape escapes the three characters Slack treats as control characters.
func SlackEscape(s string) string {
	return slackEscaper.Replace(s)
}

// HTML renders md as web HTML: <p>, <ul><li>, <strong>, <em>, and links that open in a
// new tab without giving it access to the page.
func HTML(md string) string {
	var b strings.Builder
	for _, blk := range Parse(md) {
		if blk.List {
			b.WriteString("<ul>")
			for _, l := range blk.Lines {
				b.WriteString("<li>" + htmlSpans(l) + "</li>")
			}
			b.WriteString("</ul>")
			continue
		}
		b.WriteString("<p>" + htmlSpans(blk.Lines[0]) + "</p>")
	}
	return b.String()
}

func htmlSpans(spans []Span) string {
	var b strings.Builder
	for _, sp := range spans {
		t := html.EscapeString(sp.Text)
		if sp.URL != "" {
			t = `<a href="` + html.EscapeString(sp.URL) + `" target="_blank" rel="noopener noreferrer">` + t + `</a>`
		}
		b.WriteString(wrap(t, sp, "<strong>", "</strong>", "<em>", "</em>"))
	}
	return b.String()
}

// Plain renders md as plain text, for notifications and fallbacks.
func Plain(md string) string {
	return render(Parse(md), func(sp Span) string {
		if sp.URL != "" && sp.URL != sp.Text {
			return sp.Text + " (" + sp.URL + ")"
		}
		return sp.Text
	}, "- ")
}

func wrap(t string, sp Span, bOpen, bClose, iOpen, iClose string) string {
	if sp.Italic {
		t = iOpen + t + iClose
	}
	if sp.Bold {
		t = bOpen + t + bClose
	}
	return t
}

// render joins blocks with blank lines and list items with line breaks.
func render(blocks []Block, span func(Span) string, bullet string) string {
	var parts []string
	for _, blk := range blocks {
		var lines []string
		for _, l := range blk.Lines {
			var b strings.Builder
			if blk.List {
				b.WriteString(bullet)
			}
			for _, sp := range l {
				b.WriteString(span(sp))
			}
			lines = append(lines, b.String())
		}
		parts = append(parts, strings.Join(lines, "\n"))
	}
	return strings.Join(parts, "\n\n")
}
