package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scobot/scobot/storage"
)

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"90d", 90 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"15m", 15 * time.Minute, true},
		{"-1d", 0, false},
		{"d", 0, false},
		{"forever", 0, false},
		{"-5h", 0, false},
		{"20000w", 0, false}, // would overflow time.Duration
		{"36500d", 100 * 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, err := parseAge(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseAge(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"90d", "2w", "1h30m", "", "d", "1e308d", "NaNd", "-0d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseAge(s)
		if err == nil && d < 0 {
			t.Errorf("parseAge(%q) = %v, want no negative age", s, d)
		}
	})
}

func TestAskLogsAndStats(t *testing.T) {
	db := filepath.Join(t.TempDir(), "log.db")
	env := map[string]string{"SCOBOT_DB": db, "USER": "alice"}
	if _, _, err := runCmd(t, "trans-caspian\nHow do I install Python?\ntrans-caspian\n", env, "ask", "--json"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", env, "ask", "--no-log", "terrorism"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", env, "stats", "--json")
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var st struct {
		Total, Answered int
		ByPlatform      []struct {
			Key   string
			Count int
		} `json:"by_platform"`
		Unanswered []struct {
			Key   string
			Count int
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("stats --json is not JSON: %v\n%s", err, out)
	}
	if st.Total != 3 || st.Answered != 2 {
		t.Errorf("stats total, answered = %d, %d; want 3, 2 (--no-log must not record)", st.Total, st.Answered)
	}
	if len(st.ByPlatform) != 1 || st.ByPlatform[0].Key != "cli" {
		t.Errorf("stats by platform = %+v, want only cli", st.ByPlatform)
	}
	if len(st.Unanswered) != 1 || !strings.Contains(st.Unanswered[0].Key, "python") {
		t.Errorf("stats unanswered = %+v, want the Python question", st.Unanswered)
	}
	text, _, err := runCmd(t, "", env, "stats", "--since", "7d")
	if err != nil || !strings.Contains(text, "Queries (since") {
		t.Errorf("stats --since 7d: %v\n%s", err, text)
	}

	csvOut, _, err := runCmd(t, "", env, "log", "export", "--format", "csv")
	if err != nil {
		t.Fatalf("log export: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Errorf("log export csv: %d rows (%v), want a header and 3 rows:\n%s", len(rows), err, csvOut)
	}
	jsonl, _, err := runCmd(t, "", env, "log", "export", "--format", "jsonl")
	if err != nil || strings.Count(jsonl, "\n") != 3 {
		t.Errorf("log export jsonl: %v, %d lines, want 3", err, strings.Count(jsonl, "\n"))
	}

	out, _, err = runCmd(t, "", env, "log", "forget", "--user", "alice")
	if err != nil || !strings.Contains(out, "deleted 3 rows") {
		t.Errorf("log forget: %v %q, want 3 rows deleted", err, out)
	}
	out, _, _ = runCmd(t, "", env, "stats", "--json")
	if !strings.Contains(out, `"total": 0`) {
		t.Errorf("stats after forget: %s, want total 0", out)
	}
}

func TestLogErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "not-a-db")
	os.WriteFile(bad, []byte(strings.Repeat("this is not sqlite\n", 100)), 0o644)
	_, _, err := runCmd(t, "", map[string]string{"SCOBOT_DB": bad}, "stats")
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("stats on a file that is not a database: %v, want an error naming %s", err, bad)
	}
	_, _, err = runCmd(t, "", map[string]string{"SCOBOT_DB": "/nonexistent/dir/x.db"}, "ask", "hi")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/dir") {
		t.Errorf("ask with a log in a missing directory: %v, want an error naming it", err)
	}
	for _, args := range [][]string{{"log"}, {"log", "forget"}, {"log", "export", "--format", "xml"}, {"stats", "--since", "soon"}, {"ask", "--retain", "x", "hi"}} {
		if _, _, err := runCmd(t, "", nil, args...); exitCode(err) != 2 {
			t.Errorf("scobot %v: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

// TestAskSIGTERMLosesNothing runs the real binary, feeds it questions, stops it with
// SIGTERM in the middle of the stream, and finds every answered question in the log.
func TestAskSIGTERMLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "scobot")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "log.db")
	cmd := exec.Command(bin, "ask", "--json", "--db", db)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed atomic.Int64
	sc := bufio.NewScanner(stdout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			printed.Add(1)
		}
	}()
	go func() {
		for i := 0; i < 100000; i++ {
			if _, err := fmt.Fprintf(stdin, "question %d about the trans-caspian route\n", i); err != nil {
				return
			}
		}
	}()
	// Stop it in the middle of the stream: once it has answered some, before it ends.
	waitFor(t, func() bool { return printed.Load() >= 50 })
	cmd.Process.Signal(syscall.SIGTERM)
	<-done
	answers := int(printed.Load())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scobot ask after SIGTERM: %v, want exit 0", err)
	}
	stdin.Close()
	log, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	st, err := log.Stats(context.Background(), storage.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if answers == 0 || st.Total != answers {
		t.Errorf("after SIGTERM: %d answers printed, %d queries in the log; want the same, and more than 0", answers, st.Total)
	}
}

func TestIgnoredName(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{{"tourism.md", false}, {".tourism.md.swp", true}, {"tourism.md~", true}, {".x.tmp", true}, {"..data", false}, {"..2026_11_27", false}} {
		if got := ignoredName(tt.name); got != tt.want {
			t.Errorf("ignoredName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
