package bot

// AnswerJSON is a reply in the shape of `scobot ask --json`, one object per question;
// /api/ask extends it. Scripts rely on the field set, so it is fixed.
type AnswerJSON struct {
	Question    string           `json:"question"`
	Answered    bool             `json:"answered"`
	ID          string           `json:"id"`
	Section     string           `json:"section"`
	Title       string           `json:"title"`
	Score       float64          `json:"score"`
	Answer      string           `json:"answer"`
	Suggestions []SuggestionJSON `json:"suggestions"`
	Why         string           `json:"why"`
}

// SuggestionJSON is one "did you mean" of an AnswerJSON.
type SuggestionJSON struct {
	ID      string  `json:"id"`
	Section string  `json:"section"`
	Title   string  `json:"title"`
	Score   float64 `json:"score"`
}

// NewAnswerJSON turns a reply to a question into its JSON shape. Scores are rounded to
// two decimals, which keeps output stable across platforms' float formatting.
func NewAnswerJSON(r Reply) AnswerJSON {
	out := AnswerJSON{
		Question:    r.Question,
		Answered:    r.Kind == ReplyAnswer && r.Answer != nil,
		Suggestions: []SuggestionJSON{},
		Why:         r.Why,
	}
	if a := r.Answer; out.Answered {
		out.ID, out.Section, out.Title, out.Answer, out.Score = a.EntryID, a.Section, a.Title, a.Body, round2(a.Score)
	} else if r.Kind == ReplyDecline {
		out.Score = round2(r.Score)
	}
	for _, s := range r.Suggestions {
		out.Suggestions = append(out.Suggestions, SuggestionJSON{s.ID, s.Section, s.Title, round2(s.Score)})
	}
	return out
}

func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}
