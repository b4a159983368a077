package storage

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scobot/scobot/bot"
)

// FuzzRecordExport records a query with arbitrary text fields (invalid UTF-8 included)
// and checks that it never panics, is stored as valid UTF-8 within the cap, and comes
// back unchanged from both export formats (CSV up to the CR LF that encoding/csv folds).
func FuzzRecordExport(f *testing.F) {
	for _, s := range []string{
		"", "How do I reset my password?", "caf\xe9", "\xff\xfe\xfd", "a,b\"c\nd", "\r\n", "=1+2", "'", "\x00",
		"🙂 emoji", strings.Repeat("é", bot.MaxQuestionLen), "\u2028\u2029", "-", "@x",
	} {
		f.Add(s, "user-1", "entry-1")
	}
	db, err := Open(filepath.Join(f.TempDir(), "fuzz.db"), Options{Logger: discardLogger})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var seq int
	f.Fuzz(func(t *testing.T, question, user, entry string) {
		seq++
		q := bot.Query{
			// A day apart: Export's time filter narrows by day first.
			ID: seqID(seq), Time: base.AddDate(0, 0, seq), Platform: bot.PlatformWeb,
			User: user, Chat: user, Question: question, Answered: entry != "", EntryID: entry,
			Suggestions: []string{entry, question},
		}
		if err := db.Record(q); err != nil {
			t.Fatal(err)
		}
		flush(t, db)
		// Sanitised text, as the log stores it.
		want := exported(nil, q)
		want.User, want.Chat, want.EntryID = safeText(user), safeText(user), safeText(entry)
		want.Suggestions = []string{safeText(entry), safeText(question)}
		if !utf8.ValidString(want.Question) || len(want.Question) > bot.MaxQuestionLen {
			t.Fatalf("capQuestion(%q) = %q: invalid or too long", question, want.Question)
		}

		rows := parseJSONL(t, export(t, db, "jsonl", q.Time))
		if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
			t.Fatalf("jsonl round trip:\n got %+v\nwant %+v", rows, want)
		}
		rows = parseCSV(t, export(t, db, "csv", q.Time))
		fold := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
		want.Question, want.User, want.Chat, want.EntryID = fold(want.Question), fold(want.User), fold(want.Chat), fold(want.EntryID)
		if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
			t.Fatalf("csv round trip:\n got %+v\nwant %+v", rows, want)
		}
	})
}

// FuzzNormalizeQuestion checks the invariants of the key "most asked" groups by.
func FuzzNormalizeQuestion(f *testing.F) {
	for _, s := range []string{"", "How do I reset my password?", "  a \t b  ", "?!", "¿Qué?", "c++", "\xff", "İ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = capQuestion(s) // what the writer normalises
		n := normalizeQuestion(s)
		if !utf8.ValidString(n) {
			t.Fatalf("normalizeQuestion(%q) = %q: invalid UTF-8", s, n)
		}
		if again := normalizeQuestion(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		if strings.Contains(n, "  ") || strings.ContainsAny(n, "\t\n\r") {
			t.Fatalf("normalizeQuestion(%q) = %q: space not collapsed", s, n)
		}
		if n != "" {
			first, _ := utf8.DecodeRuneInString(n)
			last, _ := utf8.DecodeLastRuneInString(n)
			for _, r := range []rune{first, last} {
				if unicode.IsPunct(r) || unicode.IsSpace(r) {
					t.Fatalf("normalizeQuestion(%q) = %q: punctuation or space at an end", s, n)
				}
			}
		}
	})
}
