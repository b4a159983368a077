package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// requestTimeout bounds every Bot API call except getUpdates, whose bound is the poll
// timeout plus a margin (Config.httpTimeout).
const requestTimeout = 15 * time.Second

// apiClient is the HTTP client handed to the library. The library takes no context and
// its default client has no timeout, so apiClient adds both: getUpdates runs under the
// poll context (cancelled when Run stops), every other call under the send context and
// requestTimeout. It also takes the token out of the URL in transport errors, which the
// library would otherwise return, and the caller log, verbatim.
type apiClient struct {
	hc      *http.Client
	secrets redactor
	poll    atomic.Pointer[ctxBox]
	call    atomic.Pointer[ctxBox]
}

// ctxBox lets a context live in an atomic.Pointer.
type ctxBox struct{ ctx context.Context }

var _ tgbotapi.HTTPClient = (*apiClient)(nil)

func newAPIClient(timeout time.Duration, secrets redactor) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Answers go out concurrently (up to sendSlots); keep that many connections warm
	// instead of the default 2, which churns sockets under load.
	tr.MaxIdleConnsPerHost = sendSlots + 4
	c := &apiClient{hc: &http.Client{Timeout: timeout, Transport: tr}, secrets: secrets}
	c.setPollContext(context.Background())
	c.setCallContext(context.Background())
	return c
}

func (c *apiClient) setPollContext(ctx context.Context) { c.poll.Store(&ctxBox{ctx}) }
func (c *apiClient) setCallContext(ctx context.Context) { c.call.Store(&ctxBox{ctx}) }

// Do sends req under the context its method calls for.
func (c *apiClient) Do(req *http.Request) (*http.Response, error) {
	var ctx context.Context
	cancel := context.CancelFunc(func() {})
	if path.Base(req.URL.Path) == "getUpdates" {
		ctx = c.poll.Load().ctx
	} else {
		ctx, cancel = context.WithTimeout(c.call.Load().ctx, requestTimeout)
	}
	resp, err := c.hc.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		var ue *url.Error
		if errors.As(err, &ue) {
			// A copy, so nothing that still holds the original sees a changed URL.
			red := *ue
			red.URL = c.secrets.redact(ue.URL)
			return nil, &red
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a request's context once the library has read the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// redactor removes secrets from text bound for logs and errors.
type redactor []string

// redact replaces every secret, raw or URL-escaped, with "<redacted>".
func (r redactor) redact(s string) string {
	for _, sec := range r {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.PathEscape(sec), url.QueryEscape(sec)} {
			s = strings.ReplaceAll(s, form, "<redacted>")
		}
	}
	return s
}

// callError is a failed Bot API call, classified for retries, with the secrets removed
// from its text. It never wraps the library's transport error, whose fields may still
// hold the token; only Telegram's own *tgbotapi.Error and context errors are kept.
type callError struct {
	method     string
	msg        string        // redacted
	code       int           // Telegram's error_code; 0 when the call got no API answer
	retryAfter time.Duration // from parameters.retry_after (429)
	migrateTo  int64         // from parameters.migrate_to_chat_id
	transient  bool          // worth retrying: 5xx, 429, a network error, a non-JSON answer
	cause      error
}

func (e *callError) Error() string { return "telegram " + e.method + ": " + e.msg }
func (e *callError) Unwrap() error { return e.cause }

// parseEntities reports a 400 for HTML that Telegram could not parse.
func (e *callError) parseEntities() bool {
	return e.code == http.StatusBadRequest && strings.Contains(strings.ToLower(e.msg), "can't parse entities")
}

// classify turns an error from the library into a *callError.
func classify(method string, err error, secrets redactor) *callError {
	ce := &callError{method: method, msg: secrets.redact(err.Error())}
	var apiErr *tgbotapi.Error
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &apiErr):
		ce.cause = apiErr
		ce.code = apiErr.Code
		ce.retryAfter = time.Duration(apiErr.RetryAfter) * time.Second
		ce.migrateTo = apiErr.MigrateToChatID
		ce.transient = apiErr.Code >= 500 || apiErr.Code == http.StatusTooManyRequests ||
			apiErr.Code == http.StatusConflict
	case errors.Is(err, context.Canceled):
		ce.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		ce.cause = context.DeadlineExceeded
		ce.transient = true
	case errors.As(err, &syn), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// A body that is not the Bot API's JSON: a proxy's 502 page, a cut connection.
		ce.msg = "unexpected response (not Bot API JSON): " + ce.msg
		ce.transient = true
	default:
		// Network errors and anything unknown: retrying is cheap and bounded.
		ce.transient = true
	}
	return ce
}

// backoff returns the wait before retry n (0-based): base doubling up to max, with up
// to a quarter of jitter so that many chats do not retry in step.
func backoff(base time.Duration, n int, max time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d - rand.N(d/4+1)
}

// sleep waits d or until ctx ends, reporting whether the whole wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
