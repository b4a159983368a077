package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Web API behaviour. slack-go's default HTTP client has no timeout and does not retry,
// so the adapter brings both.
const (
	apiTimeout     = 10 * time.Second // one Web API call or response_url post
	maxRateRetries = 3                // 429s in a row before giving up
	maxRetryAfter  = time.Minute      // longest Retry-After honoured; longer is treated as this
)

// errNoBotToken is why a mention or direct message cannot be answered.
var errNoBotToken = errors.New("SLACK_BOT_TOKEN is not set")

// postMessage posts m to channel, in the thread of threadTS, through chat.postMessage.
func (b *Bot) postMessage(ctx context.Context, channel, threadTS string, m message) error {
	if b.api == nil {
		return errNoBotToken
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(m.Text, false), // already escaped
		slack.MsgOptionBlocks(m.Blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	return b.withRetry(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, _, err := b.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
}

// respond posts m to a response_url: how a slash command is answered late, and how a
// button click changes or follows up its message.
func (b *Bot) respond(ctx context.Context, responseURL string, m message) error {
	u, err := url.Parse(responseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("bad response_url")
	}
	body := encodeMessage(m)
	return b.withRetry(ctx, "response_url", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return errors.New("bad response_url")
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.hc.Do(req)
		if err != nil {
			// A *url.Error would print the whole URL, and a response_url lets anyone
			// who has it post to the channel: keep only the host.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("post to %s: %w", u.Host, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode == http.StatusTooManyRequests {
			wait, _ := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
			return &slack.RateLimitedError{RetryAfter: time.Duration(wait) * time.Second}
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("post to %s: %s", u.Host, resp.Status)
		}
		return nil
	})
}

// withRetry runs call, each attempt with its own timeout. A 429 waits for its
// Retry-After (one second when Slack sends none) and tries again, up to
// maxRateRetries times; any other error is returned at once.
func (b *Bot) withRetry(ctx context.Context, what string, call func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, b.apiTimeout)
		err := call(cctx)
		cancel()
		wait, limited := retryAfter(err)
		if !limited || attempt >= maxRateRetries {
			return err
		}
		b.log.Warn("slack rate limited; waiting", "call", what, "retry_after", wait, "attempt", attempt+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: rate limited: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// retryAfter reports whether err is a 429 and how long to wait. slack-go returns a
// *RateLimitedError only when the 429 carries Retry-After; without it (a workspace's
// message limit) the 429 arrives as a StatusCodeError.
func retryAfter(err error) (time.Duration, bool) {
	if err == nil {
		return 0, false
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return min(max(rl.RetryAfter, time.Second), maxRetryAfter), true
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests {
		return time.Second, true
	}
	return 0, false
}
