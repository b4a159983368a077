package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
	"github.com/scobot/scobot/storage"
)

// newServer serves the web adapter over real HTTP with the real core and a real query
// log in a temporary file.
func newServer(t *testing.T, rate float64) (*httptest.Server, *storage.DB) {
	t.Helper()
	kb, err := knowledge.Default()
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(t.TempDir(), "log.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	holder := &bot.KBHolder{}
	holder.Store(kb)
	core, err := bot.NewCore(bot.Config{KB: holder, Log: db, Stats: db, RatePerMinute: rate, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(core, nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, db
}

func do(t *testing.T, method, url, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAskAndVote(t *testing.T) {
	srv, db := newServer(t, 0)
	code, body := do(t, "GET", srv.URL+"/api/ask?q=trans-caspian+route", "", "")
	if code != 200 {
		t.Fatalf("GET /api/ask = %d %s", code, body)
	}
	var a AskResponse
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if !a.Answered || a.ID != "trans-caspian-route" || a.QueryID == "" || !strings.Contains(a.AnswerHTML, "<strong>") || a.Quote == "" {
		t.Errorf("GET /api/ask = %+v, want the Trans-Caspian answer with query id, HTML and quote", a)
	}
	code, body = do(t, "POST", srv.URL+"/api/ask", "application/json", `{"q": "How do I bake bread?"}`)
	var d AskResponse
	json.Unmarshal([]byte(body), &d)
	if code != 200 || d.Answered || d.Message == "" || d.QueryID == "" {
		t.Errorf("POST /api/ask (out of scope) = %d %s, want a decline with a query id", code, body)
	}
	code, body = do(t, "POST", srv.URL+"/api/ask", "application/json", `{"entry": "tourism"}`)
	if code != 200 || !strings.Contains(body, `"id":"tourism"`) {
		t.Errorf("POST /api/ask {entry} = %d %s, want the tourism entry", code, body)
	}
	code, body = do(t, "POST", srv.URL+"/api/feedback", "application/json", `{"query_id": "`+a.QueryID+`", "vote": "up", "user": "v1"}`)
	if code != 200 {
		t.Errorf("POST /api/feedback = %d %s", code, body)
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats(context.Background(), storage.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 3 || st.Answered != 2 || len(st.Votes) != 1 || st.Votes[0].Up != 1 {
		t.Errorf("log after two questions, a click and a vote: total %d answered %d votes %+v", st.Total, st.Answered, st.Votes)
	}
	if len(st.ByPlatform) != 1 || st.ByPlatform[0].Key != "web" {
		t.Errorf("platforms = %+v, want web", st.ByPlatform)
	}
}

func TestBadRequests(t *testing.T) {
	srv, _ := newServer(t, 0)
	big := `{"q": "` + strings.Repeat("a", MaxBody) + `"}`
	tests := []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"wrong method ask", "DELETE", "/api/ask", "", "", 405},
		{"wrong method feedback", "GET", "/api/feedback", "", "", 405},
		{"empty question", "GET", "/api/ask?q=", "", "", 400},
		{"malformed JSON", "POST", "/api/ask", "application/json", `{"q": `, 400},
		{"unknown field", "POST", "/api/ask", "application/json", `{"question": "x"}`, 400},
		{"trailing data", "POST", "/api/ask", "application/json", `{"q": "x"} {}`, 400},
		{"not JSON", "POST", "/api/ask", "text/plain", `{"q": "x"}`, 415},
		{"no content type", "POST", "/api/feedback", "", `{"query_id": "01a21d15-8e06-787e-876d-f8acb2616205", "vote": "up"}`, 415},
		{"wrong method topics", "POST", "/api/topics", "application/json", `{}`, 405},
		{"oversized", "POST", "/api/ask", "application/json", big, 413},
		{"invalid UTF-8", "GET", "/api/ask?q=%ff%fe", "", "", 400},
		{"bad vote", "POST", "/api/feedback", "application/json", `{"query_id": "01a21d15-8e06-787e-876d-f8acb2616205", "vote": "maybe"}`, 400},
		{"bad query id", "POST", "/api/feedback", "application/json", `{"query_id": "../../etc", "vote": "up"}`, 400},
		{"unknown page", "GET", "/nope", "", "", 404},
	}
	for _, tt := range tests {
		code, body := do(t, tt.method, srv.URL+tt.path, tt.ctype, tt.body)
		if code != tt.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tt.name, tt.method, tt.path, code, body, tt.want)
		}
		if code >= 400 && code != 404 && !strings.Contains(body, `"error"`) {
			t.Errorf("%s: body %q has no short error message", tt.name, body)
		}
	}
}

// TestRateLimit checks that the web limit counts the client, not the visitor id it
// chooses: changing the id does not get around it.
func TestRateLimit(t *testing.T) {
	srv, _ := newServer(t, 1)
	var codes []int
	for i := 0; i < 4; i++ {
		code, _ := do(t, "POST", srv.URL+"/api/ask", "application/json", fmt.Sprintf(`{"q": "terrorism", "user": "id%d"}`, i))
		codes = append(codes, code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[3] != 429 {
		t.Errorf("codes for 4 quick questions with a burst of 2 = %v, want 200, 200, ..., 429", codes)
	}
}

func TestClientKey(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/ask", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
	if got := (&Server{}).clientKey(r); got != "10.0.0.1" {
		t.Errorf("clientKey without TrustProxy = %q, want the connection's address", got)
	}
	if got := (&Server{TrustProxy: true}).clientKey(r); got != "203.0.113.7" {
		t.Errorf("clientKey with TrustProxy = %q, want the address the proxy saw", got)
	}
}

func TestCrossSiteRefused(t *testing.T) {
	srv, _ := newServer(t, 0)
	for _, site := range []string{"cross-site", "same-origin", ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/ask?q=terrorism", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if site == "cross-site" {
			want = 403
		}
		if resp.StatusCode != want {
			t.Errorf("Sec-Fetch-Site %q: %d, want %d", site, resp.StatusCode, want)
		}
	}
}

func TestPage(t *testing.T) {
	srv, _ := newServer(t, 0)
	for _, p := range []string{"/", "/static/app.js", "/static/style.css"} {
		code, body := do(t, "GET", srv.URL+p, "", "")
		if code != 200 || len(body) < 100 {
			t.Errorf("GET %s = %d (%d bytes)", p, code, len(body))
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("GET %s loads something from the internet", p)
		}
	}
}

func TestTopics(t *testing.T) {
	srv, _ := newServer(t, 0)
	code, body := do(t, "GET", srv.URL+"/api/topics", "", "")
	var topics []TopicJSON
	if err := json.Unmarshal([]byte(body), &topics); code != 200 || err != nil {
		t.Fatalf("GET /api/topics = %d %v", code, err)
	}
	if len(topics) != len(knowledge.Sections) || len(topics[0].Entries) == 0 {
		t.Errorf("topics = %d sections (first has %d entries), want %d sections with entries", len(topics), len(topics[0].Entries), len(knowledge.Sections))
	}
}

func FuzzValidQueryID(f *testing.F) {
	f.Add("01a21d15-8e06-787e-876d-f8acb2616205")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if validQueryID(s) && len(s) != 36 {
			t.Errorf("validQueryID(%q) = true", s)
		}
	})
}
