package knowledge

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// NoneSection is the expect value of a question the article does not answer.
const NoneSection = "none"

// EvalQuestion is one question of a question set and the sections a right answer may
// come from; Expect is [none] when scobot must decline.
type EvalQuestion struct {
	Q      string   `yaml:"q"`
	Expect []string `yaml:"expect"`
	Line   int      `yaml:"-"`
}

// OutOfScope reports whether the question must be declined.
func (q EvalQuestion) OutOfScope() bool {
	return len(q.Expect) == 1 && q.Expect[0] == NoneSection
}

// ParseEvalFile parses a question set: a YAML list of {q: "...", expect: [section ids]}.
func ParseEvalFile(name string, data []byte) ([]EvalQuestion, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s:%d: malformed question set: %s", name, yamlErrLine(err), yamlErrText(err))
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no questions", name)
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: a question set is a list of {q: ..., expect: [...]}", name, list.Line)
	}
	out := make([]EvalQuestion, 0, len(list.Content))
	for _, item := range list.Content {
		var q EvalQuestion
		if err := item.Decode(&q); err != nil {
			return nil, fmt.Errorf("%s:%d: %s", name, item.Line, yamlErrText(err))
		}
		q.Line = item.Line
		if strings.TrimSpace(q.Q) == "" {
			return nil, fmt.Errorf("%s:%d: missing q", name, item.Line)
		}
		if len(q.Expect) == 0 {
			return nil, fmt.Errorf("%s:%d: missing expect", name, item.Line)
		}
		for _, s := range q.Expect {
			if _, ok := SectionByID(s); !ok && s != NoneSection {
				return nil, fmt.Errorf("%s:%d: unknown section %q", name, item.Line, s)
			}
			if s == NoneSection && len(q.Expect) > 1 {
				return nil, fmt.Errorf("%s:%d: expect [none] cannot list sections too", name, item.Line)
			}
		}
		out = append(out, q)
	}
	return out, nil
}

// EvalResult is how a knowledge base did on a question set.
type EvalResult struct {
	Answerable, OutOfScope int
	Top1                   int     // answerable questions answered from an expected section
	MRR                    float64 // mean reciprocal rank of the first right entry in the top 3
	Declined               int     // out-of-scope questions declined
	FalseAccepts           int     // out-of-scope questions answered
	Misses                 []Miss
	// Confusion counts, for answerable questions, expected section → answered section
	// ("none" when declined). Only the first expected section is used as the row.
	Confusion map[string]map[string]int
}

// Miss is one question the knowledge base got wrong.
type Miss struct {
	Question EvalQuestion
	Got      string // the section answered, or "none"
	EntryID  string
	Score    float64
}

// Top1Rate is the share of answerable questions answered right.
func (r *EvalResult) Top1Rate() float64 { return ratio(r.Top1, r.Answerable) }

// DeclinedRate is the share of out-of-scope questions declined.
func (r *EvalResult) DeclinedRate() float64 { return ratio(r.Declined, r.OutOfScope) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// Evaluate answers every question and scores the answers.
func Evaluate(kb *KB, qs []EvalQuestion) *EvalResult {
	r := &EvalResult{Confusion: map[string]map[string]int{}}
	var rr float64
	for _, q := range qs {
		a := kb.Answer(q.Q)
		got, id := NoneSection, ""
		if a.Answered {
			got, id = a.Entry.Section, a.Entry.ID
		}
		if q.OutOfScope() {
			r.OutOfScope++
			if a.Answered {
				r.FalseAccepts++
				r.Misses = append(r.Misses, Miss{q, got, id, a.Score})
			} else {
				r.Declined++
			}
			continue
		}
		r.Answerable++
		row := q.Expect[0]
		if r.Confusion[row] == nil {
			r.Confusion[row] = map[string]int{}
		}
		r.Confusion[row][got]++
		if a.Answered && contains(q.Expect, got) {
			r.Top1++
		} else {
			r.Misses = append(r.Misses, Miss{q, got, id, a.Score})
		}
		for i, s := range kb.Rank(q.Q, 3) {
			if contains(q.Expect, s.Entry.Section) {
				rr += 1 / float64(i+1)
				break
			}
		}
	}
	if r.Answerable > 0 {
		r.MRR = rr / float64(r.Answerable)
	}
	return r
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Report writes the result for people: the rates, the confusion table and every miss.
func (r *EvalResult) Report(w io.Writer) {
	fmt.Fprintf(w, "answerable: %d  top-1: %d (%.3f)  MRR@3: %.3f\n", r.Answerable, r.Top1, r.Top1Rate(), r.MRR)
	fmt.Fprintf(w, "out of scope: %d  declined: %d (%.3f)  false accepts: %d\n", r.OutOfScope, r.Declined, r.DeclinedRate(), r.FalseAccepts)
	if len(r.Confusion) > 0 {
		fmt.Fprintln(w, "\nconfusion (expected section → answered section: count):")
		rows := make([]string, 0, len(r.Confusion))
		for k := range r.Confusion {
			rows = append(rows, k)
		}
		sort.Strings(rows)
		for _, row := range rows {
			cols := make([]string, 0, len(r.Confusion[row]))
			for c := range r.Confusion[row] {
				cols = append(cols, c)
			}
			sort.Strings(cols)
			var cells []string
			for _, c := range cols {
				cells = append(cells, fmt.Sprintf("%s:%d", c, r.Confusion[row][c]))
			}
			fmt.Fprintf(w, "  %-28s %s\n", row, strings.Join(cells, " "))
		}
	}
	if len(r.Misses) > 0 {
		fmt.Fprintln(w, "\nmisses:")
		for _, m := range r.Misses {
			fmt.Fprintf(w, "  %q want %s, got %s %s (score %.2f)\n", m.Question.Q, strings.Join(m.Question.Expect, "|"), m.Got, m.EntryID, m.Score)
		}
	}
}
