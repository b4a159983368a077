package knowledge

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAnswer checks that no question makes the matcher panic, and that what it returns
// is well formed: a confidence in [0, 1], an entry exactly when answered, at most three
// suggestions, and the same answer twice.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{"", "   ", "?!", "🇰🇿👍", "\xff\xfe", "a\x00b", "Trans-Caspian", "kazakhstan's", "turism",
		"Who is the author?", strings.Repeat("presidency ", 200), "---", "'s", "-", "ß", "İstanbul", "x-y-z-1-2"} {
		f.Add(s)
	}
	kb, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		a := kb.Answer(q)
		if a.Score < 0 || a.Score > 1 {
			t.Errorf("Answer(%q).Score = %v, want within [0, 1]", q, a.Score)
		}
		if a.Answered != (a.Entry != nil) {
			t.Errorf("Answer(%q): Answered = %v but Entry = %v", q, a.Answered, a.Entry)
		}
		if len(a.Suggestions) > maxSuggestions {
			t.Errorf("Answer(%q) has %d suggestions, want at most %d", q, len(a.Suggestions), maxSuggestions)
		}
		for _, w := range a.Why.Unknown {
			if !utf8.ValidString(w) {
				t.Errorf("Answer(%q).Why.Unknown has invalid UTF-8 %q", q, w)
			}
		}
		b := kb.Answer(q)
		if a.Score != b.Score || a.Answered != b.Answered || a.Entry != b.Entry {
			t.Errorf("Answer(%q) is not deterministic", q)
		}
	})
}

// FuzzParseEntry checks that no answer file makes the parser panic, and that a parsed
// entry always has what the matcher relies on.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte("---\nid: a\nsection: overview\ntitle: T\n---\nBody\n"))
	f.Add([]byte("---\nid: a\nkeywords: [x, y]\nquestions:\n  - q?\n---\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("---\r\nid: a\r\n---\r\nbody"))
	f.Add([]byte("\xef\xbb\xbf---\nid: a\n---\n"))
	f.Add([]byte("---\nid: &a [*a]\n---\n"))
	f.Add([]byte("---\n: : :\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, probs := ParseEntry("f.md", data)
		if e == nil && len(probs) == 0 {
			t.Fatalf("ParseEntry returned neither an entry nor a problem")
		}
		if e != nil && (e.ID == "" || e.Body == "" || e.Section == "") {
			t.Errorf("ParseEntry accepted an entry without id, section or body: %+v", e)
		}
		for _, p := range probs {
			if p.Line < 0 {
				t.Errorf("problem with negative line: %v", p)
			}
		}
	})
}

// FuzzParseSynonyms checks the synonyms parser and the index that uses its groups.
func FuzzParseSynonyms(f *testing.F) {
	f.Add([]byte("groups:\n  - [a, b]\n"))
	f.Add([]byte("groups:\n  - [sco, shanghai cooperation organization]\n  - [sco, kz]\n"))
	f.Add([]byte("groups: x"))
	f.Add([]byte("- a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, _ := ParseSynonyms("synonyms.yaml", data)
		an, _ := NewAnalyzer(English)
		x := newIndex(an, DefaultParams)
		x.addSynonyms("synonyms.yaml", groups)
		x.build([]*Entry{{ID: "a", Section: "overview", Title: "a b", Body: "a b c"}})
	})
}

// FuzzParseEvalFile checks the question set parser.
func FuzzParseEvalFile(f *testing.F) {
	f.Add([]byte("- {q: hi, expect: [overview]}\n"))
	f.Add([]byte("- {q: hi, expect: [none]}\n- {q: x, expect: []}\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, err := ParseEvalFile("x.yaml", data)
		if err == nil {
			for _, q := range qs {
				if q.Q == "" || len(q.Expect) == 0 {
					t.Errorf("ParseEvalFile accepted %+v", q)
				}
			}
		}
	})
}
