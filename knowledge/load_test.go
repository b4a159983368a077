package knowledge

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestValidateFixtures loads each knowledge base under testdata/validate and checks the
// problem it must report, with its file and line.
func TestValidateFixtures(t *testing.T) {
	tests := []struct {
		dir     string
		file    string
		line    int
		msg     string
		warning bool // the knowledge base still loads
	}{
		{"ok", "", 0, "", false},
		{"malformed-front-matter", "bad.md", 3, "malformed front matter", false},
		{"no-front-matter", "bad.md", 1, "no front matter", false},
		{"unclosed-front-matter", "bad.md", 1, "front matter is not closed", false},
		{"missing-id", "bad.md", 1, "missing id", false},
		{"bad-id", "bad.md", 2, "must be a lowercase slug", false},
		{"duplicate-id", "other.md", 2, `duplicate id "good"`, false},
		{"unknown-section", "bad.md", 3, `unknown section "weather"`, false},
		{"unknown-field", "bad.md", 5, `unknown field "answer"`, false},
		{"empty-answer", "bad.md", 6, "empty answer", false},
		{"answer-too-long", "bad.md", 6, "keep it under 1500", false},
		{"quote-not-in-article", "bad.md", 5, "quote is not in the article", false},
		{"bad-synonyms", "synonyms.yaml", 3, "at least two", false},
		{"malformed-synonyms", "synonyms.yaml", 1, "malformed synonyms file", false},
		{"missing-article", "article.txt", 0, "missing or empty", false},
		{"unsupported-markdown", "bad.md", 8, "a heading", false},
		{"duplicate-question", "good.md", 6, "is also in entry", true},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			kb, err := LoadDir(filepath.Join("testdata", "validate", tt.dir))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("LoadDir(%s) error: %v", tt.dir, err)
				}
				return
			}
			var probs []Problem
			if tt.warning {
				if err != nil {
					t.Fatalf("LoadDir(%s) error: %v, want only a warning", tt.dir, err)
				}
				probs = kb.Warnings
			} else {
				var le *LoadError
				if !errors.As(err, &le) {
					t.Fatalf("LoadDir(%s) error = %v, want a *LoadError", tt.dir, err)
				}
				if kb != nil {
					t.Errorf("LoadDir(%s) returned a knowledge base with its error", tt.dir)
				}
				probs = le.Problems
			}
			for _, p := range probs {
				if p.File == tt.file && p.Line == tt.line && strings.Contains(p.Msg, tt.msg) && p.Warning == tt.warning {
					return
				}
			}
			t.Errorf("LoadDir(%s) problems = %v, want %s:%d %q", tt.dir, probs, tt.file, tt.line, tt.msg)
		})
	}
}

func TestEmbeddedIsValid(t *testing.T) {
	kb := embeddedKB(t)
	if len(kb.Warnings) > 0 {
		t.Errorf("embedded knowledge base has warnings: %v", kb.Warnings)
	}
	perSection := map[string]int{}
	for _, e := range kb.Entries {
		perSection[e.Section]++
		if e.Quote == "" {
			t.Errorf("entry %s has no quote", e.ID)
		}
	}
	for _, s := range Sections {
		if perSection[s.ID] == 0 {
			t.Errorf("section %s has no entry", s.ID)
		}
	}
	if n := len(kb.Entries) - len(Sections); n < 20 {
		t.Errorf("embedded knowledge base has %d focused entries beyond one per section, want at least 20", n)
	}
}

// TestLoadIsDeterministic checks that the same files always give the same version and
// answers, whatever order the file system lists them in.
func TestLoadIsDeterministic(t *testing.T) {
	a := embeddedKB(t)
	b, err := Load(Embedded())
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != b.Version {
		t.Errorf("Version = %s then %s, want the same", a.Version, b.Version)
	}
	for _, q := range []string{"terrorism", "who wrote it", "corridors", "qwerty"} {
		x, y := a.Answer(q), b.Answer(q)
		if x.Score != y.Score || x.Answered != y.Answered || (x.Entry != nil && x.Entry.ID != y.Entry.ID) {
			t.Errorf("Answer(%q) differs between two loads of the same files", q)
		}
	}
}

func TestVersionChangesWithContent(t *testing.T) {
	files := fstest.MapFS{}
	for _, name := range []string{"article.txt", "synonyms.yaml", "good.md"} {
		data, err := os.ReadFile(filepath.Join("testdata", "validate", "ok", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = &fstest.MapFile{Data: data}
	}
	a, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	files["good.md"] = &fstest.MapFile{Data: append([]byte(nil), append(files["good.md"].Data, "More.\n"...)...)}
	b, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version == b.Version {
		t.Errorf("Version did not change when an answer changed: %s", a.Version)
	}
}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	written, err := Export(Embedded(), dir, false)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if len(written) < 30 {
		t.Errorf("Export wrote %d files, want the whole knowledge base", len(written))
	}
	kb, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir(exported) error: %v", err)
	}
	if kb.Version != embeddedKB(t).Version {
		t.Errorf("exported knowledge base version %s, want the embedded %s", kb.Version, embeddedKB(t).Version)
	}
	if _, err := Export(Embedded(), dir, false); err == nil {
		t.Errorf("Export into a directory that has the files: no error, want one without --force")
	}
	if _, err := Export(Embedded(), dir, true); err != nil {
		t.Errorf("Export with force: %v", err)
	}
}
