// Package bot holds scobot's domain types and, later, the platform-neutral bot core
// that every adapter (Telegram, Slack, web chat, CLI) calls.
//
// The types here are what the adapters and the storage package speak: a Query that
// was asked and answered, a Vote on it, an AdminAction, and the Stats that admins read.
// Nothing in this file depends on a database, a chat platform or the matcher.
package bot

import "time"

// Platform names where a query came from.
type Platform string

// The platforms scobot answers on.
const (
	PlatformTelegram Platform = "telegram"
	PlatformSlack    Platform = "slack"
	PlatformWeb      Platform = "web"
	PlatformCLI      Platform = "cli"
)

// MaxQuestionLen is the most bytes of a question that the query log keeps. Longer
// questions are cut at a rune boundary; the matcher never reads that far anyway.
const MaxQuestionLen = 1000

// Query is one question asked of scobot and what it answered.
type Query struct {
	// ID is time-ordered and generated in the process (see NewQueryID), so a reply can
	// carry it in feedback buttons before the log has written anything.
	ID        string
	Time      time.Time // UTC
	Platform  Platform
	Workspace string // Slack team or Telegram bot; empty when there is none
	Chat      string // chat or channel id; empty for the CLI
	User      string // raw user id; the log may store a keyed hash of it instead
	Question  string // as typed, capped at MaxQuestionLen bytes

	Answered    bool
	EntryID     string // empty when declined
	Section     string // empty when declined
	Score       float64
	Suggestions []string // entry ids offered as "did you mean"
	KBVersion   string   // content hash of the knowledge base that answered
	Latency     time.Duration
}

// Vote is a user's opinion of one answer.
type Vote int

// The two votes. A user has at most one vote per query; voting again replaces it.
const (
	VoteDown Vote = -1
	VoteUp   Vote = 1
)

// String returns "up" or "down".
func (v Vote) String() string {
	if v == VoteUp {
		return "up"
	}
	if v == VoteDown {
		return "down"
	}
	return "none"
}

// ParseVote parses "up" or "down".
func ParseVote(s string) (Vote, bool) {
	switch s {
	case "up":
		return VoteUp, true
	case "down":
		return VoteDown, true
	}
	return 0, false
}

// Feedback is one vote by one user on one query.
type Feedback struct {
	QueryID  string
	Platform Platform
	User     string
	Vote     Vote
	Time     time.Time // UTC
}

// AdminAction records an admin command: a reload, a stats request, a refused attempt.
type AdminAction struct {
	Time      time.Time // UTC
	Platform  Platform
	User      string
	Action    string // "reload", "stats", "unanswered", "forget", ...
	Result    string // "ok", "refused", or the error in a short sentence
	KBVersion string
}

// Stats is what admins see about the questions people asked.
type Stats struct {
	Since       time.Time // zero means since the first query
	Total       int
	Answered    int
	AnsweredPct float64 // 0..100

	ByPlatform  []Count // platform name, count
	ByDay       []Count // YYYY-MM-DD (UTC), count, oldest first
	TopAsked    []Count // normalised question text, count
	TopEntries  []Count // entry id, count
	TopSections []Count // section id, count
	Unanswered  []Count // normalised question text, count, most asked first
	Votes       []EntryVotes

	LatencyP50 time.Duration
	LatencyP90 time.Duration
	LatencyP99 time.Duration
}

// Count is one row of a ranked list in Stats.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// EntryVotes is the feedback one answer entry received.
type EntryVotes struct {
	EntryID string `json:"entry_id"`
	Up      int    `json:"up"`
	Down    int    `json:"down"`
}
