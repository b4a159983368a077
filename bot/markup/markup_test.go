package markup

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	md := "Kazakhstan holds the **presidency** from *July 2023*.\n\n- one & two\n- <three> [link](https://example.org/a?b=1&c=2)\n\nA [bad](javascript:alert(1)) link."
	tests := []struct {
		name string
		f    func(string) string
		want string
	}{
		{"TelegramHTML", TelegramHTML, "Kazakhstan holds the <b>presidency</b> from <i>July 2023</i>.\n\n• one &amp; two\n• &lt;three&gt; <a href=\"https://example.org/a?b=1&amp;c=2\">link</a>\n\nA [bad](javascript:alert(1)) link."},
		{"SlackMrkdwn", SlackMrkdwn, "Kazakhstan holds the *presidency* from _July 2023_.\n\n• one &amp; two\n• &lt;three&gt; <https://example.org/a?b=1&amp;c=2|link>\n\nA [bad](javascript:alert(1)) link."},
		{"HTML", HTML, "<p>Kazakhstan holds the <strong>presidency</strong> from <em>July 2023</em>.</p><ul><li>one &amp; two</li><li>&lt;three&gt; <a href=\"https://example.org/a?b=1&amp;c=2\" target=\"_blank\" rel=\"noopener noreferrer\">link</a></li></ul><p>A [bad](javascript:alert(1)) link.</p>"},
		{"Plain", Plain, "Kazakhstan holds the presidency from July 2023.\n\n- one & two\n- <three> link (https://example.org/a?b=1&c=2)\n\nA [bad](javascript:alert(1)) link."},
	}
	for _, tt := range tests {
		if got := tt.f(md); got != tt.want {
			t.Errorf("%s(md) =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestUnbalancedMarkers(t *testing.T) {
	for _, md := range []string{"**open", "a * b", "snake_case_name", "*", "**", "[x](", "2 * 3 = 6"} {
		got := TelegramHTML(md)
		if strings.Count(got, "<b>") != strings.Count(got, "</b>") || strings.Count(got, "<i>") != strings.Count(got, "</i>") {
			t.Errorf("TelegramHTML(%q) = %q: unbalanced tags", md, got)
		}
	}
	if got := TelegramHTML("snake_case_name"); got != "snake_case_name" {
		t.Errorf("TelegramHTML(snake_case_name) = %q, want it unchanged", got)
	}
}

// FuzzRender checks that no input breaks a renderer: Telegram's HTML stays balanced and
// uses only its tags, and nothing panics.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"**b** *i*", "- a\n- b", "[l](https://x.y)", "<script>", "&amp;", "***x***", "_a_b_", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		h := TelegramHTML(md)
		for _, tag := range []string{"b", "i", "a"} {
			if strings.Count(h, "<"+tag+">")+strings.Count(h, "<"+tag+" ") != strings.Count(h, "</"+tag+">") {
				t.Errorf("TelegramHTML(%q) = %q: <%s> unbalanced", md, h, tag)
			}
		}
		stripped := h
		for _, tag := range []string{"<b>", "</b>", "<i>", "</i>", "</a>"} {
			stripped = strings.ReplaceAll(stripped, tag, "")
		}
		for strings.Contains(stripped, "<a href=\"") {
			i := strings.Index(stripped, "<a href=\"")
			j := strings.Index(stripped[i:], "\">")
			if j < 0 {
				t.Fatalf("TelegramHTML(%q) = %q: unclosed <a>", md, h)
			}
			stripped = stripped[:i] + stripped[i+j+2:]
		}
		if strings.ContainsAny(stripped, "<>") {
			t.Errorf("TelegramHTML(%q) = %q: unescaped < or >", md, h)
		}
		_ = SlackMrkdwn(md)
		_ = HTML(md)
		if utf8.ValidString(md) && !utf8.ValidString(Plain(md)) {
			t.Errorf("Plain(%q) is not valid UTF-8", md)
		}
	})
}
