package slack

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// encodeMessage encodes m as JSON. It writes the block types render builds (header,
// section, context, actions with buttons) directly: slack-go's marshalers encode every
// block and element twice through reflection, which was half the server's time per
// slash command. Any other block goes through encoding/json. TestEncodeMatchesSlackGo
// checks that both give the same JSON.
func encodeMessage(m message) []byte {
	buf := bufPool.Get().(*[]byte)
	b := appendMessage((*buf)[:0], m)
	out := append([]byte(nil), b...)
	*buf = b
	bufPool.Put(buf)
	return out
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// encodeAck encodes a Socket Mode ack, with m as its payload when m is not nil.
func encodeAck(envelopeID string, m *message) []byte {
	b := append([]byte(`{"envelope_id":`), appendString(nil, envelopeID)...)
	if m != nil {
		b = append(b, `,"payload":`...)
		b = appendMessage(b, *m)
	}
	return append(b, '}')
}

func appendMessage(b []byte, m message) []byte {
	b = append(b, '{')
	if m.ResponseType != "" {
		b = append(b, `"response_type":`...)
		b = appendString(b, m.ResponseType)
		b = append(b, ',')
	}
	b = append(b, `"replace_original":`...)
	b = strconv.AppendBool(b, m.ReplaceOriginal)
	b = append(b, `,"text":`...)
	b = appendString(b, m.Text)
	if len(m.Blocks) > 0 {
		b = append(b, `,"blocks":[`...)
		for i, blk := range m.Blocks {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBlock(b, blk)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendBlock(b []byte, blk slack.Block) []byte {
	switch x := blk.(type) {
	case *slack.HeaderBlock:
		if x.BlockID == "" && x.Text != nil && x.Level == 0 {
			b = append(b, `{"type":"header","text":`...)
			b = appendText(b, x.Text)
			return append(b, '}')
		}
	case *slack.SectionBlock:
		if x.BlockID == "" && x.Text != nil && x.Fields == nil && x.Accessory == nil && !x.Expand {
			b = append(b, `{"type":"section","text":`...)
			b = appendText(b, x.Text)
			return append(b, '}')
		}
	case *slack.ContextBlock:
		if x.BlockID == "" && allText(x.ContextElements.Elements) {
			b = append(b, `{"type":"context","elements":[`...)
			for i, el := range x.ContextElements.Elements {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendText(b, el.(*slack.TextBlockObject))
			}
			return append(b, "]}"...)
		}
	case *slack.ActionBlock:
		if x.Elements != nil && allPlainButtons(x.Elements.ElementSet) {
			b = append(b, `{"type":"actions"`...)
			if x.BlockID != "" {
				b = append(b, `,"block_id":`...)
				b = appendString(b, x.BlockID)
			}
			b = append(b, `,"elements":[`...)
			for i, el := range x.Elements.ElementSet {
				if i > 0 {
					b = append(b, ',')
				}
				btn := el.(*slack.ButtonBlockElement)
				b = append(b, `{"type":"button","text":`...)
				b = appendText(b, btn.Text)
				if btn.ActionID != "" {
					b = append(b, `,"action_id":`...)
					b = appendString(b, btn.ActionID)
				}
				if btn.Value != "" {
					b = append(b, `,"value":`...)
					b = appendString(b, btn.Value)
				}
				b = append(b, '}')
			}
			return append(b, "]}"...)
		}
	}
	data, err := json.Marshal(blk)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, data...)
}

func allText(els []slack.MixedElement) bool {
	for _, el := range els {
		if _, ok := el.(*slack.TextBlockObject); !ok {
			return false
		}
	}
	return true
}

func allPlainButtons(els []slack.BlockElement) bool {
	for _, el := range els {
		btn, ok := el.(*slack.ButtonBlockElement)
		if !ok || btn.Text == nil || btn.URL != "" || btn.Confirm != nil || btn.Style != "" || btn.AccessibilityLabel != "" ||
			btn.AgentPrompt != "" || btn.AgentPromptDisplay != "" || btn.VisibleToUserIDs != nil {
			return false
		}
	}
	return true
}

func appendText(b []byte, t *slack.TextBlockObject) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, t.Type)
	b = append(b, `,"text":`...)
	b = appendString(b, t.Text)
	if t.Emoji != nil {
		b = append(b, `,"emoji":`...)
		b = strconv.AppendBool(b, *t.Emoji)
	}
	if t.Verbatim {
		b = append(b, `,"verbatim":true`...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, and U+2028 and U+2029 escaped as
// encoding/json does. &, < and > stay as they are: Slack reads them literally.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
