package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Slack's request-signing headers and limits.
const (
	headerSignature = "X-Slack-Signature"
	headerTimestamp = "X-Slack-Request-Timestamp"

	// maxSkew is how far a request's timestamp may be from the local clock. Slack
	// documents five minutes; a valid request older than that is a replay.
	maxSkew = 5 * time.Minute

	// defaultMaxBody caps request bodies. Slash commands are a few hundred bytes; an
	// interaction payload carries the whole message (up to 50 blocks of 3,000
	// characters), so the cap is well above that but far below what would hurt.
	defaultMaxBody = 1 << 20
)

// Why a request was refused. None of these carries the request's signature or
// anything derived from the secret.
var (
	errNoSignature  = errors.New("missing signature headers")
	errBadTimestamp = errors.New("bad timestamp")
	errStale        = errors.New("timestamp more than 5 minutes off")
	errTooLarge     = errors.New("body too large")
	errBadSignature = errors.New("signature mismatch")
)

// readVerified reads the request body, at most maxBody bytes, and checks Slack's v0
// signature over exactly those raw bytes before anything parses them: parsing first and
// hashing a re-encoded body would break the HMAC or, worse, verify something else.
func (b *Bot) readVerified(r *http.Request) ([]byte, error) {
	sig, ts := r.Header.Get(headerSignature), r.Header.Get(headerTimestamp)
	if sig == "" || ts == "" {
		return nil, errNoSignature
	}
	if err := checkTimestamp(ts, b.now()); err != nil {
		return nil, err
	}
	if r.ContentLength > b.maxBody {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, b.maxBody+1))
	if err != nil {
		return nil, errors.New("read body")
	}
	if int64(len(body)) > b.maxBody {
		return nil, errTooLarge
	}
	if !validSignature(b.secret, ts, body, sig) {
		return nil, errBadSignature
	}
	return body, nil
}

// checkTimestamp refuses timestamps more than maxSkew from now, in either direction.
func checkTimestamp(ts string, now time.Time) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return errBadTimestamp
	}
	d := now.Sub(time.Unix(sec, 0))
	if d > maxSkew || d < -maxSkew {
		return errStale
	}
	return nil
}

// validSignature reports whether sig is "v0=" + hex(HMAC-SHA256(secret,
// "v0:" + ts + ":" + body)). The comparison takes the same time whatever the bytes.
func validSignature(secret []byte, ts string, body []byte, sig string) bool {
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return false
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(hexSig)); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:"))
	mac.Write([]byte(ts))
	mac.Write([]byte(":"))
	mac.Write(body)
	var want [sha256.Size]byte
	return hmac.Equal(mac.Sum(want[:0]), got[:])
}
