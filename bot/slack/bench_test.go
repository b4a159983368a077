package slack

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
)

// BenchmarkSlashCommand is the whole server side of one slash command, from the signed
// request to the JSON answer: verification, parsing, the real core (answer and log
// record), Block Kit and encoding. The load generator measures the same path over HTTP.
func BenchmarkSlashCommand(b *testing.B) {
	e := newEnv(b, false, nil, withDiscardLog)
	bodies := make([][]byte, len(benchQuestions))
	for i, q := range benchQuestions {
		bodies[i] = []byte(url.Values{"team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U1"}, "command": {"/sco"},
			"text": {q}, "response_url": {"http://127.0.0.1:1/r"}}.Encode())
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sigs := make([]string, len(bodies))
	for i, body := range bodies {
		sigs[i] = sign(testSecret, time.Now().Unix(), body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := i % len(bodies)
		r := httptest.NewRequest(http.MethodPost, "/slack/commands", bytes.NewReader(bodies[k]))
		r.Header.Set(headerTimestamp, ts)
		r.Header.Set(headerSignature, sigs[k])
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkRender is rendering and encoding one answer.
func BenchmarkRender(b *testing.B) {
	e := newEnv(b, false, nil)
	r := e.core.Handle(b.Context(), bot.Message{Platform: bot.PlatformSlack, User: "U1", Text: "When does Kazakhstan chair the SCO?"})
	b.ReportAllocs()
	for b.Loop() {
		encodeMessage(render(r, "/sco"))
	}
}

// discardLog is a query log that keeps nothing, so that a benchmark measures the
// adapter rather than a growing slice.
type discardLog struct{}

func (discardLog) Record(bot.Query) error            { return nil }
func (discardLog) RecordFeedback(bot.Feedback) error { return nil }
func (discardLog) RecordAdmin(bot.AdminAction) error { return nil }
func withDiscardLog(_ *Config, c *bot.Config)        { c.Log = discardLog{} }

var benchQuestions = []string{
	"When does Kazakhstan chair the SCO?", "Which transport corridors are mentioned?", "summit",
	"cultral exchanges", "How do I bake bread?", "share When does Kazakhstan chair the SCO?",
}
