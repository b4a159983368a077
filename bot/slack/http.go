package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/scobot/scobot/bot"
)

// slashTimeout bounds the core's work on one slash command; an answer that takes
// longer is not sent at all.
const slashTimeout = 30 * time.Second

// workingText is the interim answer of a slash command whose answer is slow.
const workingText = "Working on it…"

// serveCommand answers POST /slack/commands, the slash command.
func (b *Bot) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, err := b.readVerified(r)
	if err != nil {
		b.refuse(w, r, err)
		return
	}
	sc, err := parseSlashForm(body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if sc.TriggerID != "" && !b.triggers.claim(sc.TriggerID, b.now()) {
		b.log.Warn("slack slash command replayed; not answered again", "user", sc.UserID)
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, b.answerSlash(r.Context(), sc))
}

// serveInteractive answers POST /slack/interactive: a button was clicked. The click is
// acknowledged at once and answered through its response_url by a worker.
func (b *Bot) serveInteractive(w http.ResponseWriter, r *http.Request) {
	body, err := b.readVerified(r)
	if err != nil {
		b.refuse(w, r, err)
		return
	}
	ic, err := parseInteractionForm(body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !b.acceptInteraction(ic, 0) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveEvents answers POST /slack/events, the Events API: the url_verification
// handshake and event callbacks, acknowledged at once and handled by a worker.
func (b *Bot) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, err := b.readVerified(r)
	if err != nil {
		b.refuse(w, r, err)
		return
	}
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	switch outer.Type {
	case slackevents.URLVerification:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(outer.Challenge))
		return
	case slackevents.CallbackEvent:
		if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
			b.log.Info("slack event redelivered", "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
		}
		if !b.acceptEvent(body, 0) {
			// Refused without claiming the event, so Slack's retry will be handled.
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
	case slackevents.AppRateLimited:
		b.log.Warn("slack is rate limiting this app's events (more than 30,000 an hour)")
	}
	w.WriteHeader(http.StatusOK)
}

// refuse answers a request that failed verification: 401, and nothing else happens.
func (b *Bot) refuse(w http.ResponseWriter, r *http.Request, why error) {
	b.refused.Do(func() {
		b.log.Warn("slack request refused", "path", r.URL.Path, "why", why.Error(), "remote", r.RemoteAddr)
	})
	http.Error(w, "invalid request signature", http.StatusUnauthorized)
}

// answerSlash answers a slash command within answerWithin: the answer itself when the
// core is quick, which it nearly always is, else "working on it" now and the answer
// through response_url when it is ready.
func (b *Bot) answerSlash(ctx context.Context, sc slack.SlashCommand) message {
	c := parseCommand(slackToPlain(sc.Text))
	m := b.coreMessage(sc.TeamID, sc.ChannelID, sc.UserID, c)
	responseType := ephemeral
	if c.share {
		responseType = inChannel
	}
	const (
		pending int32 = iota
		inTime
		late
	)
	var state atomic.Int32
	done := make(chan message, 1)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slashTimeout)
	go func() {
		defer cancel()
		out := b.render(b.handle(hctx, m))
		out.ResponseType = responseType
		if state.CompareAndSwap(pending, inTime) {
			done <- out
			return
		}
		// The request was already answered "working on it".
		out.ReplaceOriginal = responseType == ephemeral
		if err := b.respond(hctx, sc.ResponseURL, out); err != nil {
			b.log.Error("slack late answer not delivered", "user", sc.UserID, "err", b.errText(err))
		}
	}()
	t := time.NewTimer(b.answerWithin)
	defer t.Stop()
	select {
	case out := <-done:
		return out
	case <-t.C:
		if state.CompareAndSwap(pending, late) {
			b.log.Warn("slack slash command slow; answering through response_url", "user", sc.UserID, "after", b.answerWithin)
			return message{ResponseType: ephemeral, Text: workingText}
		}
		return <-done
	}
}

// acceptEvent claims an event callback's event_id and queues it. It returns false when
// the event could not be queued: the caller refuses the delivery and the claim is
// released, so that Slack's retry is handled rather than dropped. A duplicate is
// accepted and ignored.
func (b *Bot) acceptEvent(body []byte, wait time.Duration) bool {
	var head struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		b.log.Warn("slack event unreadable; acknowledged and dropped", "err", err)
		return true
	}
	if head.EventID != "" && !b.events.claim(head.EventID, b.now()) {
		b.log.Debug("slack event already handled", "event_id", head.EventID)
		return true
	}
	raw := append(json.RawMessage(nil), body...)
	if !b.enqueue(func(ctx context.Context) { b.handleEvent(ctx, raw) }, wait) {
		if head.EventID != "" {
			b.events.forget(head.EventID)
		}
		b.log.Warn("slack event queue full; refusing so that Slack retries", "event_id", head.EventID)
		return false
	}
	return true
}

// handleEvent answers an app_mention or a direct message in its thread. Messages from
// bots, this one included, and edits are ignored, so the bot never talks to itself.
func (b *Bot) handleEvent(ctx context.Context, raw json.RawMessage) {
	ev, err := slackevents.ParseEvent(raw, slackevents.OptionNoVerifyToken())
	if err != nil {
		// Unknown event types and malformed blocks land here. The delivery was
		// acknowledged: a refusal would only make Slack send it again.
		b.log.Warn("slack event not understood; ignored", "err", b.errText(err))
		return
	}
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		return
	}
	self := map[string]bool{}
	for _, a := range cb.Authorizations {
		if a.IsBot && a.UserID != "" {
			self[a.UserID] = true
		}
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		if e.BotID != "" || e.User == "" || self[e.User] || e.Edited != nil {
			return
		}
		b.answerInThread(ctx, ev.TeamID, e.Channel, e.User, e.Text, thread(e.ThreadTimeStamp, e.TimeStamp), cb.EventID, false)
	case *slackevents.MessageEvent:
		if e.ChannelType != "im" || e.SubType != "" || e.BotID != "" || e.User == "" || self[e.User] {
			return
		}
		b.answerInThread(ctx, ev.TeamID, e.Channel, e.User, e.Text, thread(e.ThreadTimeStamp, e.TimeStamp), cb.EventID, true)
	}
}

// thread returns the thread to answer in: the message's thread, or the message itself.
func thread(threadTS, ts string) string {
	if threadTS != "" {
		return threadTS
	}
	return ts
}

// adminInChannel is the answer to an admin command in a channel mention: everyone in
// the channel would see the statistics, which quote what people asked.
const adminInChannel = "Admin commands answer only in a direct message or with %s, where no one else sees the answer."

// answerInThread answers a mention or direct message with chat.postMessage. private is
// true for a direct message.
func (b *Bot) answerInThread(ctx context.Context, team, channel, user, text, threadTS, eventID string, private bool) {
	if b.api == nil {
		b.noToken.Do(func() {
			b.log.Warn("slack mention or direct message not answered: " + errNoBotToken.Error())
		})
		return
	}
	c := parseCommand(slackToPlain(text))
	var out message
	switch {
	case !private && (c.cmd == bot.CmdReload || c.cmd == bot.CmdStats || c.cmd == bot.CmdUnanswered):
		out = b.render(bot.Reply{Kind: bot.ReplyRefused, Text: fmt.Sprintf(adminInChannel, b.cfg.Command)})
	default:
		out = b.render(b.handle(ctx, b.coreMessage(team, channel, user, c)))
	}
	if err := b.postMessage(ctx, channel, threadTS, out); err != nil {
		b.log.Error("slack answer not posted", "channel", channel, "event_id", eventID, "err", b.errText(err))
	}
}

// acceptInteraction queues a block_actions click, at most once per trigger_id. Other
// interaction types are acknowledged and ignored: the bot opens no modals.
func (b *Bot) acceptInteraction(ic slack.InteractionCallback, wait time.Duration) bool {
	if ic.Type != slack.InteractionTypeBlockActions {
		return true
	}
	if ic.TriggerID != "" && !b.triggers.claim(ic.TriggerID, b.now()) {
		b.log.Debug("slack click already handled", "user", ic.User.ID)
		return true
	}
	if !b.enqueue(func(ctx context.Context) { b.handleActions(ctx, ic) }, wait) {
		if ic.TriggerID != "" {
			b.triggers.forget(ic.TriggerID)
		}
		b.log.Warn("slack click queue full; refused", "user", ic.User.ID)
		return false
	}
	return true
}

// handleActions answers a click: a vote is recorded and thanked for in a message only
// the voter sees; a "did you mean" suggestion replaces the message with its answer.
func (b *Bot) handleActions(ctx context.Context, ic slack.InteractionCallback) {
	if ic.ResponseURL == "" {
		b.log.Warn("slack click without response_url; ignored", "user", ic.User.ID)
		return
	}
	if len(ic.ActionCallback.BlockActions) == 0 {
		b.log.Debug("slack click without block actions; ignored", "user", ic.User.ID)
	}
	for _, a := range ic.ActionCallback.BlockActions {
		var out message
		switch {
		case a.ActionID == actionVoteUp || a.ActionID == actionVoteDown:
			v := bot.VoteUp
			if a.ActionID == actionVoteDown {
				v = bot.VoteDown
			}
			text, err := b.h.Vote(bot.PlatformSlack, ic.User.ID, a.Value, v)
			if err != nil {
				b.log.Error("slack vote not recorded", "user", ic.User.ID, "err", b.errText(err))
				text = "Sorry, I couldn't record your vote. Please try again later."
			}
			out = message{ResponseType: ephemeral, Text: esc(text)}
		case strings.HasPrefix(a.ActionID, actionEntry):
			r := b.handle(ctx, b.coreMessage(ic.Team.ID, ic.Channel.ID, ic.User.ID, command{cmd: bot.CmdEntry, text: a.Value}))
			out = b.render(r)
			out.ReplaceOriginal = true
			out.ResponseType = inChannel
			if ic.Container.IsEphemeral {
				out.ResponseType = ephemeral
			}
		default:
			b.log.Debug("slack click on an unknown action", "action_id", a.ActionID)
			continue
		}
		if err := b.respond(ctx, ic.ResponseURL, out); err != nil {
			b.log.Error("slack click not answered", "user", ic.User.ID, "err", b.errText(err))
		}
	}
}

// parseSlashForm parses a slash command's form body, the raw bytes already verified.
func parseSlashForm(body []byte) (slack.SlashCommand, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.SlashCommand{}, errors.New("slash command: bad form")
	}
	sc := slack.SlashCommand{
		TeamID:      v.Get("team_id"),
		TeamDomain:  v.Get("team_domain"),
		ChannelID:   v.Get("channel_id"),
		ChannelName: v.Get("channel_name"),
		UserID:      v.Get("user_id"),
		Command:     v.Get("command"),
		Text:        v.Get("text"),
		ResponseURL: v.Get("response_url"),
		TriggerID:   v.Get("trigger_id"),
		APIAppID:    v.Get("api_app_id"),
	}
	if sc.UserID == "" {
		return slack.SlashCommand{}, errors.New("slash command: no user_id")
	}
	return sc, nil
}

// parseInteractionForm parses an interaction's form body: its payload field is JSON.
// Only the body is read; the query string is not signed.
func parseInteractionForm(body []byte) (slack.InteractionCallback, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.InteractionCallback{}, errors.New("interaction: bad form")
	}
	p := v.Get("payload")
	if p == "" {
		return slack.InteractionCallback{}, errors.New("interaction: no payload")
	}
	return parseInteraction([]byte(p))
}

// parseInteraction parses an interaction payload.
func parseInteraction(p []byte) (slack.InteractionCallback, error) {
	var ic slack.InteractionCallback
	if err := json.Unmarshal(p, &ic); err != nil {
		return slack.InteractionCallback{}, errors.New("interaction: bad payload")
	}
	return ic, nil
}

// writeJSON writes m as the response body.
func writeJSON(w http.ResponseWriter, m message) {
	body := encodeMessage(m)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}
