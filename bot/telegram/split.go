package telegram

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxMessageLen is Telegram's limit on a message's text, in UTF-16 code units. Telegram
// counts after parsing entities; splitHTML counts the tags too, which is stricter and
// so always safe.
const maxMessageLen = 4096

// utf16Len is the length of s in UTF-16 code units, as Telegram counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// htmlToken is one piece of Telegram HTML: a tag, an entity or one character.
type htmlToken struct {
	s    string
	kind byte // 't' tag, 'e' entity, 'c' character
}

// nextToken returns the token at the start of s (s is not empty).
func nextToken(s string) htmlToken {
	switch s[0] {
	case '<':
		if i := strings.IndexByte(s, '>'); i > 0 {
			return htmlToken{s[:i+1], 't'}
		}
	case '&':
		if i := strings.IndexByte(s, ';'); i > 1 && i <= 10 && isEntityName(s[1:i]) {
			return htmlToken{s[:i+1], 'e'}
		}
	}
	_, n := utf8.DecodeRuneInString(s)
	return htmlToken{s[:n], 'c'}
}

// isSpace reports whether a token is a white-space character: no part may consist of
// those alone, and they are dropped at a cut.
func isSpace(tok htmlToken) bool {
	if tok.kind != 'c' {
		return false
	}
	r, _ := utf8.DecodeRuneInString(tok.s)
	return unicode.IsSpace(r)
}

func isEntityName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '#' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// tagName returns the name of an opening or closing tag and whether it closes.
func tagName(tag string) (name string, closing bool) {
	t := strings.TrimSuffix(strings.TrimPrefix(tag, "<"), ">")
	if closing = strings.HasPrefix(t, "/"); closing {
		t = t[1:]
	}
	if i := strings.IndexAny(t, " \t\n"); i >= 0 {
		t = t[:i]
	}
	return strings.ToLower(t), closing
}

// Cut classes, best first: a paragraph break outside any tag, a line break outside
// any tag, the same inside a tag, then a space, then anywhere between characters.
const (
	cutPara0 = iota
	cutLine0
	cutPara
	cutLine
	cutSpace0
	cutSpace
	cutAny
	numCuts
)

// splitHTML cuts Telegram HTML into parts of at most limit UTF-16 code units each, tags
// included. It cuts at paragraph breaks where it can, then at line breaks, spaces, and
// only as a last resort between two characters; never inside a tag or an entity. Tags
// open at a cut are closed at the end of the part and opened again at the start of the
// next, so every part is valid on its own. Whitespace at a cut is dropped. It takes
// time linear in len(s): each part is scanned about once.
func splitHTML(s string, limit int) []string {
	var parts []string
	prefix := "" // the tags reopened from the previous part
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		// A reopened tag that closes at once would be an empty element: drop both.
		for prefix != "" {
			open := openTags(prefix, "")
			last := open[len(open)-1]
			name, _ := tagName(last)
			rest, ok := strings.CutPrefix(s, "</"+name+">")
			if !ok {
				break
			}
			s, prefix = strings.TrimLeftFunc(rest, unicode.IsSpace), strings.TrimSuffix(prefix, last)
		}
		if s == "" {
			return parts
		}
		cut, all := findCut(prefix, s, limit)
		if all {
			return append(parts, prefix+s)
		}
		open := openTags(prefix, s[:cut])
		var closers, openers strings.Builder
		for i := len(open) - 1; i >= 0; i-- {
			name, _ := tagName(open[i])
			closers.WriteString("</" + name + ">")
		}
		for _, t := range open {
			openers.WriteString(t)
		}
		parts = append(parts, prefix+strings.TrimRightFunc(s[:cut], unicode.IsSpace)+closers.String())
		s, prefix = s[cut:], openers.String()
	}
}

// findCut returns the byte offset in s at which to end the next part, which starts
// with prefix (opening tags only) and goes on with s; all is set when the whole of s
// fits.
func findCut(prefix, s string, limit int) (cut int, all bool) {
	var best [numCuts]int
	var stack []string
	units, closeLen := 0, 0
	solid := 0 // visible characters other than spaces: a part needs one
	push := func(tok htmlToken) (opened bool) {
		name, closing := tagName(tok.s)
		if !closing {
			stack = append(stack, name)
			closeLen += len(name) + 3
			return true
		}
		if n := len(stack); n > 0 {
			stack = stack[:n-1]
			closeLen -= len(name) + 3
		}
		return false
	}
	for i := 0; i < len(prefix); {
		tok := nextToken(prefix[i:])
		i += len(tok.s)
		units += utf16Len(tok.s)
		if tok.kind == 't' {
			push(tok)
		}
	}
	for i := 0; i < len(s); {
		tok := nextToken(s[i:])
		units += utf16Len(tok.s)
		opened := false
		if tok.kind == 't' {
			opened = push(tok)
		} else if !isSpace(tok) {
			solid++
		}
		i += len(tok.s)
		if units+closeLen > limit {
			break
		}
		if i == len(s) {
			return i, true
		}
		// No cut right after an opening tag: it would leave an empty element behind.
		if solid == 0 || opened {
			continue
		}
		rest := s[i:]
		if strings.HasPrefix(rest, "</") {
			// Cutting after the closing tag costs the same and leaves no empty element
			// at the start of the next part.
			continue
		}
		depth := 0
		if len(stack) > 0 {
			depth = 1
		}
		switch {
		case strings.HasPrefix(rest, "\n\n"):
			best[cutPara0+depth*(cutPara-cutPara0)] = i
		case rest[0] == '\n':
			best[cutLine0+depth*(cutLine-cutLine0)] = i
		case rest[0] == ' ':
			best[cutSpace0+depth] = i
		default:
			best[cutAny] = i
		}
	}
	for _, cut := range best {
		if cut > 0 {
			return cut, false
		}
	}
	// Not even one character fits beside the tags open around it (a link with a
	// huge address): cut after the first that is not a space anyway, so that
	// splitting always ends.
	for i := 0; i < len(s); {
		tok := nextToken(s[i:])
		i += len(tok.s)
		if tok.kind != 't' && !isSpace(tok) {
			return i, i == len(s)
		}
	}
	return len(s), true
}

// openTags returns the opening tags still open at the end of prefix+s, outermost
// first.
func openTags(prefix, s string) []string {
	var stack []string
	for _, part := range []string{prefix, s} {
		for i := 0; i < len(part); {
			tok := nextToken(part[i:])
			i += len(tok.s)
			if tok.kind != 't' {
				continue
			}
			if _, closing := tagName(tok.s); closing {
				if n := len(stack); n > 0 {
					stack = stack[:n-1]
				}
			} else {
				stack = append(stack, tok.s)
			}
		}
	}
	return stack
}

// plainText turns Telegram HTML into the text a user would read: tags dropped,
// entities decoded. It is the fallback when Telegram cannot parse a message's HTML.
func plainText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		tok := nextToken(s[i:])
		i += len(tok.s)
		if tok.kind != 't' {
			b.WriteString(tok.s)
		}
	}
	return html.UnescapeString(b.String())
}
