package telegram

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// maxCallbackData is Telegram's limit on a button's callback_data, in bytes.
const maxCallbackData = 64

// callbackKind is what a button does when tapped.
type callbackKind byte

// The button kinds, each one byte on the wire.
const (
	cbVoteUp   callbackKind = 'u' // vote on a query; arg is its id
	cbVoteDown callbackKind = 'd'
	cbEntry    callbackKind = 'e' // show an entry ("did you mean"); arg is its id
	cbSection  callbackKind = 's' // show a section's overview; arg is its id
)

// callback is the decoded callback_data of a button.
//
// The wire format keeps every button within 64 bytes without server-side state:
//
//	u<22 chars>  d<22 chars>   a vote on a query whose id is a UUID: its 16 bytes in
//	                           unpadded base64url (23 bytes instead of 38)
//	u:<id>       d:<id>        a vote on a query id that is not a UUID (up to 62 bytes)
//	e:<entry id> s:<section id>
//
// Entry and section ids are the knowledge base's lowercase slugs.
type callback struct {
	kind callbackKind
	arg  string
}

var uuid64 = base64.RawURLEncoding.Strict()

// encode returns the callback_data for c; ok is false when it would not fit in 64
// bytes or the argument cannot be carried (then the button is left out).
func (c callback) encode() (data string, ok bool) {
	switch c.kind {
	case cbVoteUp, cbVoteDown:
		if c.arg == "" {
			return "", false
		}
		if u, err := uuid.Parse(c.arg); err == nil && u.String() == c.arg {
			data = string(c.kind) + uuid64.EncodeToString(u[:])
		} else {
			if !validRawID(c.arg) {
				return "", false
			}
			data = string(c.kind) + ":" + c.arg
		}
	case cbEntry, cbSection:
		if !validSlug(c.arg) {
			return "", false
		}
		data = string(c.kind) + ":" + c.arg
	default:
		return "", false
	}
	return data, len(data) <= maxCallbackData
}

// parseCallback decodes callback_data made by encode. Anything else, such as a button
// from an older version of the bot, is an error.
func parseCallback(data string) (callback, error) {
	if data == "" || len(data) > maxCallbackData {
		return callback{}, fmt.Errorf("callback data of %d bytes", len(data))
	}
	kind, rest := callbackKind(data[0]), data[1:]
	switch kind {
	case cbVoteUp, cbVoteDown:
		if raw, ok := strings.CutPrefix(rest, ":"); ok {
			if !validRawID(raw) {
				return callback{}, errors.New("bad query id in vote")
			}
			if u, err := uuid.Parse(raw); err == nil && u.String() == raw {
				return callback{}, errors.New("uuid vote in long form") // encode never makes it
			}
			return callback{kind, raw}, nil
		}
		// The decoder skips \r and \n; only the 22 characters encode makes are taken.
		if len(rest) != 22 || strings.IndexFunc(rest, notBase64URL) >= 0 {
			return callback{}, errors.New("bad query id in vote")
		}
		b, err := uuid64.DecodeString(rest)
		if err != nil || len(b) != 16 {
			return callback{}, errors.New("bad query id in vote")
		}
		u, _ := uuid.FromBytes(b) // 16 bytes cannot fail
		return callback{kind, u.String()}, nil
	case cbEntry, cbSection:
		arg, ok := strings.CutPrefix(rest, ":")
		if !ok || !validSlug(arg) {
			return callback{}, errors.New("bad id in button")
		}
		return callback{kind, arg}, nil
	}
	return callback{}, fmt.Errorf("unknown button kind %q", data[0])
}

func notBase64URL(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// validSlug accepts the knowledge base's ids: lowercase letters, digits and inner
// single hyphens.
func validSlug(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validRawID accepts a non-UUID query id that can travel in a button: printable,
// valid UTF-8, no spaces.
func validRawID(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
