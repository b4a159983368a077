package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runCmd runs the program as main does and returns its output and error.
func runCmd(t *testing.T, stdin string, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	if _, ok := env["SCOBOT_DB"]; !ok {
		// Never write a query log into the source tree.
		env = mapWith(env, "SCOBOT_DB", filepath.Join(t.TempDir(), "test.db"))
	}
	getenv := func(k string) string { return env[k] }
	err = run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestAskJSONGolden(t *testing.T) {
	questions := strings.Join([]string{
		"When does Kazakhstan chair the SCO?",
		"trans-caspian",
		"turism",
		"How do I install Python?",
		"qwerty",
		"",
		"🇰🇿🇰🇿🇰🇿",
		"Who wrote the article",
	}, "\n")
	out, _, err := runCmd(t, questions, nil, "ask", "--json", "--no-log")
	if err != nil {
		t.Fatalf("ask --json: %v", err)
	}
	golden(t, "ask.jsonl", out)
}

func TestAskJSONFields(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "ask", "--json", "What is the SCO Interbank Consortium?")
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"question":`, `"answered":`, `"id":`, `"section":`, `"title":`, `"score":`, `"answer":`, `"suggestions":`, `"why":`} {
		if !strings.Contains(out, field) {
			t.Errorf("ask --json output lacks %s: %s", field, out)
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("ask --json with one question printed %d lines, want 1", strings.Count(out, "\n"))
	}
}

func TestAskText(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "ask", "what", "is", "the", "meaning", "of", "life")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "The article doesn't cover that.") {
		t.Errorf("ask about the meaning of life = %q, want a decline", out)
	}
}

func TestAskLongLine(t *testing.T) {
	long := strings.Repeat("security ", 200000) // about 1.8 MB on one line
	out, _, err := runCmd(t, long+"\nterrorism\n", nil, "ask", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("ask with a huge line then a short one printed %d answers, want 2", n)
	}
	if !strings.Contains(out, "only the first") {
		t.Errorf("ask of a huge question does not say it was cut")
	}
}

func TestKBValidate(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "kb", "validate")
	if err != nil {
		t.Fatalf("kb validate (embedded): %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "", nil, "kb", "validate", "../../knowledge/testdata/validate/quote-not-in-article")
	if exitCode(err) != 1 {
		t.Errorf("kb validate of a bad directory: exit %d, want 1", exitCode(err))
	}
	if !strings.Contains(out, "bad.md:5: error: quote is not in the article") {
		t.Errorf("kb validate output = %q, want the file, line and problem", out)
	}
	// ask and eval refuse a bad knowledge base with the same errors.
	_, _, err = runCmd(t, "", map[string]string{"SCOBOT_KB_DIR": "../../knowledge/testdata/validate/empty-answer"}, "ask", "hello")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "bad.md:6") {
		t.Errorf("ask with a bad SCOBOT_KB_DIR: %v (exit %d), want exit 1 naming bad.md:6", err, exitCode(err))
	}
}

func TestKBExportThenUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	if _, _, err := runCmd(t, "", nil, "kb", "export", dir); err != nil {
		t.Fatalf("kb export: %v", err)
	}
	if _, _, err := runCmd(t, "", nil, "kb", "export", dir); err == nil {
		t.Errorf("second kb export without --force: no error, want one")
	}
	out, _, err := runCmd(t, "", nil, "ask", "--kb", dir, "--json", "Trans-Caspian International Transport Route")
	if err != nil || !strings.Contains(out, `"answered":true`) {
		t.Errorf("ask --kb exported: %v %s", err, out)
	}
}

func TestEval(t *testing.T) {
	set := filepath.Join(t.TempDir(), "q.yaml")
	os.WriteFile(set, []byte("- {q: \"trans-caspian route\", expect: [connectivity-infrastructure]}\n- {q: \"How do I bake bread?\", expect: [none]}\n"), 0o644)
	out, _, err := runCmd(t, "", nil, "eval", "--min-answered", "1", "--min-declined", "1", set)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	if !strings.Contains(out, "top-1: 1 (1.000)") || !strings.Contains(out, "declined: 1 (1.000)") {
		t.Errorf("eval output = %q", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("- {q: \"trans-caspian route\", expect: [author]}\n"), 0o644)
	_, _, err = runCmd(t, "", nil, "eval", "--min-answered", "0.5", bad)
	if exitCode(err) != 1 {
		t.Errorf("eval below --min-answered: exit %d, want 1", exitCode(err))
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"kb"}, {"kb", "nope"}, {"eval"}, {"ask", "--bogus"}} {
		if _, _, err := runCmd(t, "", nil, args...); exitCode(err) != 2 {
			t.Errorf("scobot %v: exit %d, want 2", args, exitCode(err))
		}
	}
}

func mapWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		out[mk] = mv
	}
	return out
}
