package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
)

func TestMetrics(t *testing.T) {
	m := New(func() float64 { return 7 }, func() float64 { return 2 })
	m.ObserveQuery(bot.PlatformWeb, "answered", 3*time.Microsecond)
	m.ObserveQuery(bot.PlatformWeb, "declined", time.Microsecond)
	m.SetKB("v1", 10)
	m.SetKB("v2", 12)
	m.ObserveReload(true)
	m.ObserveReload(false)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`scobot_queries_total{outcome="answered",platform="web"} 1`,
		`scobot_queries_total{outcome="declined",platform="web"} 1`,
		`scobot_queries_total{outcome="answered",platform="telegram"} 0`,
		`scobot_answer_seconds_count{platform="web"} 2`,
		`scobot_kb_info{version="v2"} 1`,
		`scobot_kb_entries 12`,
		`scobot_kb_reloads_total{result="ok"} 1`,
		`scobot_kb_reloads_total{result="error"} 1`,
		`scobot_log_queue_depth 7`,
		`scobot_log_dropped_total 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), `version="v1"`) {
		t.Errorf("/metrics still shows the replaced knowledge base version v1")
	}
}
