package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

// Socket Mode timing. The adapter pings every pingEvery and treats a connection on
// which nothing at all (frame, ping or pong) arrived for quietAfter as dead, whatever
// the socket says: a half-open TCP connection can look healthy for many minutes.
const (
	defaultPingEvery  = 10 * time.Second
	defaultQuietAfter = 30 * time.Second
	// maxAckPayload is the largest ack Slack accepts; it silently drops bigger ones,
	// so a bigger slash command answer goes through response_url instead.
	maxAckPayload = 20 << 10
	writeTimeout  = 5 * time.Second
	// enqueueWait is how long a Socket Mode envelope waits for room in a full queue
	// before it is left unacknowledged for Slack to deliver again.
	enqueueWait = time.Second
)

var (
	errDisconnect = errors.New("slack asked for a new connection")
	errQuiet      = errors.New("connection went quiet")
)

// socketStatus is the Socket Mode connection's health, for Ready.
type socketStatus struct {
	seen atomic.Int64 // UnixNano of the last frame, ping or pong

	mu        sync.Mutex
	connected bool
	lastErr   string
}

func (s *socketStatus) touch(now time.Time) { s.seen.Store(now.UnixNano()) }

func (s *socketStatus) up() {
	s.mu.Lock()
	s.connected, s.lastErr = true, ""
	s.mu.Unlock()
}

func (s *socketStatus) down(why string) {
	s.mu.Lock()
	s.connected, s.lastErr = false, why
	s.mu.Unlock()
}

func (s *socketStatus) ready(now time.Time, quietAfter time.Duration) error {
	s.mu.Lock()
	connected, why := s.connected, s.lastErr
	s.mu.Unlock()
	if !connected {
		if why == "" {
			why = "connecting"
		}
		return fmt.Errorf("slack socket mode: not connected: %s", why)
	}
	if quiet := now.Sub(time.Unix(0, s.seen.Load())); quiet > quietAfter {
		return fmt.Errorf("slack socket mode: nothing received for %s", quiet.Round(time.Millisecond))
	}
	return nil
}

// runSocket keeps a Socket Mode connection open until ctx ends, reopening it after
// Slack's routine disconnects at once and after failures with jittered backoff.
func (b *Bot) runSocket(ctx context.Context) {
	backoff := b.minBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := b.socketSession(ctx)
		if ctx.Err() != nil {
			b.sock.down("stopped")
			return
		}
		b.sock.down(b.errText(err))
		if errors.Is(err, errDisconnect) {
			backoff = b.minBackoff
			continue
		}
		if time.Since(start) > 2*b.maxBackoff {
			backoff = b.minBackoff // it was a long, healthy connection: start over
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, b.maxBackoff)
		if ra, ok := retryAfter(err); ok {
			wait = max(wait, ra)
		}
		b.log.Warn("slack socket mode connection lost; reopening", "err", b.errText(err), "in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			b.sock.down("stopped")
			return
		case <-t.C:
		}
	}
}

// wsConn serialises writes: gorilla/websocket allows one writer at a time, and acks
// come from the reader and from slash command goroutines.
type wsConn struct {
	mu   sync.Mutex
	conn *websocket.Conn
}

func (w *wsConn) write(data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.conn.WriteMessage(websocket.TextMessage, data)
}

// envelope is one Socket Mode message from Slack.
type envelope struct {
	Type         string          `json:"type"`
	EnvelopeID   string          `json:"envelope_id"`
	Payload      json.RawMessage `json:"payload"`
	RetryAttempt int             `json:"retry_attempt"`
	RetryReason  string          `json:"retry_reason"`
	Reason       string          `json:"reason"` // disconnect
}

// socketSession opens one connection (apps.connections.open, then the WebSocket) and
// serves it until it fails, goes quiet, Slack asks for a new one, or ctx ends (nil).
func (b *Bot) socketSession(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, b.apiTimeout)
	_, wsURL, err := b.client.StartSocketModeContext(octx)
	cancel()
	if err != nil {
		return fmt.Errorf("apps.connections.open: %w", err)
	}
	// A write buffer above Slack's 20 KB ack limit keeps every ack in one frame; Slack
	// is reported to drop fragmented ones (slack-go socketmode).
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: b.apiTimeout, WriteBufferSize: 32 << 10}
	conn, resp, err := d.DialContext(ctx, wsURL, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		// The URL carries a connection ticket: never print it.
		return fmt.Errorf("open socket mode connection: %w", err)
	}
	defer conn.Close()
	conn.SetReadLimit(b.maxBody)
	b.sock.touch(b.now())
	conn.SetPingHandler(func(data string) error {
		b.sock.touch(b.now())
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	conn.SetPongHandler(func(string) error {
		b.sock.touch(b.now())
		return nil
	})
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var quiet atomic.Bool
	go b.liveness(sctx, conn, &quiet)
	ws := &wsConn{conn: conn}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case quiet.Load():
				return errQuiet
			}
			return fmt.Errorf("read socket mode: %w", err)
		}
		b.sock.touch(b.now())
		if err := b.socketFrame(sctx, ws, data); err != nil {
			return err
		}
	}
}

// liveness pings the connection and closes it when nothing has arrived for
// quietAfter, which ends the session's read and makes runSocket reopen it.
func (b *Bot) liveness(ctx context.Context, conn *websocket.Conn, quiet *atomic.Bool) {
	t := time.NewTicker(b.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = conn.Close()
			return
		case <-t.C:
			since := b.now().Sub(time.Unix(0, b.sock.seen.Load()))
			if since > b.quietAfter {
				quiet.Store(true)
				b.log.Warn("slack socket mode connection quiet; reopening", "quiet_for", since.Round(time.Millisecond))
				_ = conn.Close()
				return
			}
			_ = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout))
		}
	}
}

// socketFrame handles one message from Slack. Every envelope is acknowledged: events
// and clicks once they are queued (a full queue leaves them unacknowledged, so Slack
// delivers them again), slash commands with their answer.
func (b *Bot) socketFrame(ctx context.Context, ws *wsConn, data []byte) error {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		b.log.Warn("slack socket mode frame unreadable; ignored", "err", err)
		return nil
	}
	if env.RetryAttempt > 0 {
		b.log.Info("slack envelope redelivered", "type", env.Type, "retry", env.RetryAttempt, "reason", env.RetryReason)
	}
	switch env.Type {
	case "hello":
		b.sock.up()
		b.log.Info("slack socket mode connected")
		return nil
	case "disconnect":
		b.log.Info("slack socket mode: Slack asked for a new connection", "reason", env.Reason)
		return errDisconnect
	case "events_api":
		if !b.acceptEvent(env.Payload, enqueueWait) {
			return nil
		}
	case "interactive":
		ic, err := parseInteraction(env.Payload)
		if err != nil {
			b.log.Warn("slack interaction unreadable; acknowledged and dropped", "err", err)
		} else if !b.acceptInteraction(ic, enqueueWait) {
			return nil
		}
	case "slash_commands":
		var sc slack.SlashCommand
		if err := json.Unmarshal(env.Payload, &sc); err != nil || sc.UserID == "" {
			b.log.Warn("slack slash command unreadable; acknowledged and dropped")
			break
		}
		// The ack carries the answer, which may take up to answerWithin: answer
		// without holding up the reader.
		go b.socketSlash(ctx, ws, env.EnvelopeID, sc)
		return nil
	default:
		b.log.Debug("slack socket mode: unknown envelope type acknowledged", "type", env.Type)
	}
	if env.EnvelopeID != "" {
		b.sendAck(ws, env.EnvelopeID)
	}
	return nil
}

// socketSlash answers a slash command in its ack, or through response_url when the
// answer is too big for an ack.
func (b *Bot) socketSlash(ctx context.Context, ws *wsConn, envelopeID string, sc slack.SlashCommand) {
	m := b.answerSlash(ctx, sc)
	if data := encodeAck(envelopeID, &m); len(data) < maxAckPayload {
		if err := ws.write(data); err != nil {
			b.log.Warn("slack ack not sent", "err", b.errText(err))
		}
		return
	}
	b.sendAck(ws, envelopeID)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slashTimeout)
	defer cancel()
	if err := b.respond(rctx, sc.ResponseURL, m); err != nil {
		b.log.Error("slack answer not delivered", "user", sc.UserID, "err", b.errText(err))
	}
}

func (b *Bot) sendAck(ws *wsConn, envelopeID string) {
	if err := ws.write(encodeAck(envelopeID, nil)); err != nil {
		b.log.Warn("slack ack not sent", "err", b.errText(err))
	}
}
