package knowledge

import (
	"os"
	"path/filepath"
	"testing"
)

// The bars every question set must clear. The issue sets 0.95 for the shared dev set;
// our own sets, written in other words and never used to write answers, are held to
// what the matcher measured when they were added, less a small margin, so a change that
// makes answers worse fails here.
var evalBars = []struct {
	file                 string
	minAnswered, minDecl float64
	optional             bool // outside this repository; skipped when absent
}{
	{"../../shared/eval/dev.yaml", 0.95, 0.95, true},
	{"testdata/eval/tune.yaml", 0.92, 0.88, false},
	{"testdata/eval/holdout.yaml", 0.84, 0.92, false},
}

func TestEvalThresholds(t *testing.T) {
	kb := embeddedKB(t)
	for _, bar := range evalBars {
		t.Run(filepath.Base(bar.file), func(t *testing.T) {
			data, err := os.ReadFile(bar.file)
			if os.IsNotExist(err) && bar.optional {
				t.Skipf("%s is not here: %v", bar.file, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			qs, err := ParseEvalFile(bar.file, data)
			if err != nil {
				t.Fatal(err)
			}
			r := Evaluate(kb, qs)
			t.Logf("%s: top-1 %.3f, MRR@3 %.3f, declined %.3f, false accepts %d", bar.file, r.Top1Rate(), r.MRR, r.DeclinedRate(), r.FalseAccepts)
			if r.Top1Rate() < bar.minAnswered {
				t.Errorf("answerable top-1 = %.3f, want >= %.2f", r.Top1Rate(), bar.minAnswered)
			}
			if r.DeclinedRate() < bar.minDecl {
				t.Errorf("out-of-scope declined = %.3f, want >= %.2f", r.DeclinedRate(), bar.minDecl)
			}
			if t.Failed() {
				for _, m := range r.Misses {
					t.Logf("miss: %q want %v, got %s %s (%.2f)", m.Question.Q, m.Question.Expect, m.Got, m.EntryID, m.Score)
				}
			}
		})
	}
}

func TestParseEvalFileErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"- {q: hi}", "missing expect"},
		{"- {expect: [overview]}", "missing q"},
		{"- {q: hi, expect: [weather]}", "unknown section"},
		{"- {q: hi, expect: [none, overview]}", "cannot list sections"},
		{"q: hi", "a question set is a list"},
		{"- {q: [unclosed", "malformed question set"},
		{"", "no questions"},
	}
	for _, tt := range tests {
		_, err := ParseEvalFile("x.yaml", []byte(tt.in))
		if err == nil || !contains([]string{err.Error()}, err.Error()) || !containsStr(err.Error(), tt.want) {
			t.Errorf("ParseEvalFile(%q) error = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

func containsStr(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
