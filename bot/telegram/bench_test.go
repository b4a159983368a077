package telegram

import (
	"context"
	"log/slog"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// BenchmarkPolling measures the whole path with pacing off: b.N updates from 64
// private chats wait at the fake Bot API; the bot long-polls them, the real core
// answers each from the embedded knowledge base and logs it to SQLite, and the reply
// goes back through sendMessage. The clock stops when the fake has every answer and
// the log has every query.
//
//	go test -run='^$' -bench=BenchmarkPolling -benchtime=20000x ./bot/telegram/
func BenchmarkPolling(b *testing.B) {
	e := newTestEnv(b)
	e.cfg.Logger = slog.New(slog.DiscardHandler)
	bot := e.newBot()
	questions := []string{clearQuestion, ambiguousQuestion, declineWithSugg, declineNoSugg,
		"When does Kazakhstan take over the SCO presidency?", "joint military exercises",
		"What is the SCO Interbank Consortium?", "youth exchange programs"}
	ups := make([]tgbotapi.Update, b.N)
	for i := range ups {
		chat := &tgbotapi.Chat{ID: int64(5000 + i%64), Type: "private"}
		ups[i] = textUpdate(i+1, chat, &tgbotapi.User{ID: chat.ID}, questions[i%len(questions)])
	}
	e.api.push(ups...)

	b.ResetTimer()
	start := time.Now()
	stop := e.run(bot)
	waitFor(b, 5*time.Minute, "every answer", func() bool {
		e.api.mu.Lock()
		defer e.api.mu.Unlock()
		return len(e.api.sent) >= b.N
	})
	if err := e.db.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()

	if st := e.stats(); st.Total != b.N {
		b.Errorf("%d queries logged for %d updates", st.Total, b.N)
	}
	if n := len(e.api.sentMessages()); n != b.N {
		b.Errorf("%d answers sent for %d updates", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
}
