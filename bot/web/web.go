// Package web is scobot's HTTP adapter: a small chat page and the JSON API it uses
// (/api/ask, /api/feedback). It speaks the bot core's types and renders answers as
// HTML with the markup package; its page and script are embedded, so it loads nothing
// from the internet.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/bot/markup"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 64 << 10

// Handler is what the web adapter needs from the bot core (*bot.Core implements it).
type Handler interface {
	Handle(ctx context.Context, m bot.Message) bot.Reply
	Vote(p bot.Platform, user, queryID string, v bot.Vote) (string, error)
}

var _ Handler = (*bot.Core)(nil)

//go:embed assets
var assets embed.FS

// Server serves the chat page and the API.
type Server struct {
	h   Handler
	log *slog.Logger
	// TrustProxy makes the rate limit count the client address that a reverse proxy
	// in front of scobot reports in X-Forwarded-For. Set it only behind such a proxy:
	// otherwise clients could name any address.
	TrustProxy bool
}

// New returns the web adapter.
func New(h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{h: h, log: log}
}

// Register mounts the page and the API on mux.
func (s *Server) Register(mux *http.ServeMux) {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // a constant path into the embedded files
	}
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.Handle("/api/ask", sameSite(http.HandlerFunc(s.ask)))
	mux.Handle("/api/feedback", sameSite(http.HandlerFunc(s.feedback)))
	mux.Handle("/api/topics", sameSite(http.HandlerFunc(s.topics)))
}

// TopicJSON is one article section and its answers, for the page's topic buttons.
type TopicJSON struct {
	Section string               `json:"section"`
	Heading string               `json:"heading"`
	Entries []bot.SuggestionJSON `json:"entries"`
}

// topics lists what the article covers: the page offers it when a question is declined
// and nothing comes close.
func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		httpError(w, http.StatusMethodNotAllowed, "Use GET.")
		return
	}
	rep := s.h.Handle(r.Context(), bot.Message{Platform: bot.PlatformWeb, Command: bot.CmdTopics, RateKey: s.clientKey(r)})
	out := []TopicJSON{}
	for _, t := range rep.Topics {
		tj := TopicJSON{Section: t.Section, Heading: t.Heading, Entries: []bot.SuggestionJSON{}}
		for _, e := range t.Entries {
			tj.Entries = append(tj.Entries, bot.SuggestionJSON{ID: e.ID, Section: e.Section, Title: e.Title})
		}
		out = append(out, tj)
	}
	writeJSON(w, http.StatusOK, out)
}

// AskResponse is /api/ask's answer: the fields of `scobot ask --json`, the query id for
// feedback, and the answer rendered as HTML for the page.
type AskResponse struct {
	QueryID string `json:"query_id"`
	bot.AnswerJSON

	AnswerHTML     string `json:"answer_html,omitempty"`
	SectionHeading string `json:"section_heading,omitempty"`
	Quote          string `json:"quote,omitempty"`
	Message        string `json:"message,omitempty"` // a decline or rate-limit sentence
	Ambiguous      bool   `json:"ambiguous,omitempty"`
}

type askRequest struct {
	Q     string `json:"q"`
	Entry string `json:"entry"` // a suggestion clicked: answer with this entry
	User  string `json:"user"`  // the page's anonymous visitor id
}

func (s *Server) ask(w http.ResponseWriter, r *http.Request) {
	var req askRequest
	switch r.Method {
	case http.MethodGet:
		req.Q, req.Entry, req.User = r.URL.Query().Get("q"), r.URL.Query().Get("entry"), r.URL.Query().Get("user")
	case http.MethodPost:
		if err := decodeJSON(w, r, &req); err != nil {
			httpError(w, err.status, err.msg)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, "Use GET ?q=... or POST {\"q\": \"...\"}.")
		return
	}
	if !utf8.ValidString(req.Q) || !utf8.ValidString(req.Entry) || !utf8.ValidString(req.User) {
		httpError(w, http.StatusBadRequest, "The question is not valid UTF-8 text.")
		return
	}
	m := bot.Message{Platform: bot.PlatformWeb, Chat: "web", User: visitor(req.User, r), Text: req.Q, RateKey: s.clientKey(r)}
	if req.Entry != "" {
		m.Command, m.Text = bot.CmdEntry, req.Entry
	} else if strings.TrimSpace(req.Q) == "" {
		httpError(w, http.StatusBadRequest, "Ask a question: ?q=... or {\"q\": \"...\"}.")
		return
	}
	rep := s.h.Handle(r.Context(), m)
	if rep.Kind == bot.ReplyRateLimited {
		w.Header().Set("Retry-After", "10")
		httpError(w, http.StatusTooManyRequests, rep.Text)
		return
	}
	writeJSON(w, http.StatusOK, toResponse(rep))
}

func toResponse(rep bot.Reply) AskResponse {
	out := AskResponse{QueryID: rep.QueryID, AnswerJSON: bot.NewAnswerJSON(rep), Message: rep.Text, Ambiguous: rep.Ambiguous}
	if a := rep.Answer; a != nil {
		out.AnswerHTML = markup.HTML(a.Body)
		out.SectionHeading, out.Quote = a.SectionHeading, a.Quote
	}
	return out
}

type feedbackRequest struct {
	QueryID string `json:"query_id"`
	Vote    string `json:"vote"`
	User    string `json:"user"`
}

func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, "Use POST with {\"query_id\": \"...\", \"vote\": \"up\"}.")
		return
	}
	var req feedbackRequest
	if err := decodeJSON(w, r, &req); err != nil {
		httpError(w, err.status, err.msg)
		return
	}
	v, ok := bot.ParseVote(req.Vote)
	if !ok {
		httpError(w, http.StatusBadRequest, "The vote must be \"up\" or \"down\".")
		return
	}
	if !validQueryID(req.QueryID) {
		httpError(w, http.StatusBadRequest, "The query_id is missing or malformed.")
		return
	}
	msg, err := s.h.Vote(bot.PlatformWeb, visitor(req.User, r), req.QueryID, v)
	if err != nil {
		s.log.Error("record vote", "err", err)
		httpError(w, http.StatusServiceUnavailable, "Your vote could not be recorded. Please try again.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": msg})
}

// sameSite refuses requests a browser marks as coming from another site, so no other
// page can ask or vote in a visitor's name. Scripts and curl send no Sec-Fetch-Site and
// are served.
func sameSite(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			httpError(w, http.StatusForbidden, "Requests from other sites are not accepted.")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// validQueryID accepts the 36-character UUIDs the core makes.
func validQueryID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clientKey is whom the rate limit counts for a web request: its address, which the
// client cannot choose per request, unlike the visitor id. It is not stored.
func (s *Server) clientKey(r *http.Request) string {
	if s.TrustProxy {
		// The last address is the one the proxy itself saw; earlier ones are the
		// client's word.
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// visitor is the user id of a web request: the page's random visitor id when it sends
// one, else "anonymous". IP addresses are not stored.
func visitor(id string, _ *http.Request) string {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > 64 {
		return "anonymous"
	}
	return id
}

type requestError struct {
	status int
	msg    string
}

// decodeJSON reads a JSON body of at most MaxBody bytes into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *requestError {
	// Requiring the JSON content type also keeps other sites out: a browser sends it
	// cross-site only after a CORS check, which this server never passes.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, "Send JSON with Content-Type: application/json."}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &requestError{http.StatusRequestEntityTooLarge, "The request is larger than 64 KB."}
		}
		return &requestError{http.StatusBadRequest, "The request is not valid JSON."}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &requestError{http.StatusBadRequest, "The request has data after the JSON object."}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// httpError answers with a short sentence, as JSON so the page can show it.
func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
