package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scobot/scobot/storage"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// scobotBinary builds the real binary once per test run.
func scobotBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scobot-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "scobot")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

// server is a running `scobot serve`.
type server struct {
	cmd    *exec.Cmd
	url    string
	db     string
	stderr *strings.Builder
	mu     *sync.Mutex
}

// testSalt is a secret the server is given; it must never show in its output.
const testSalt = "s3cret-salt-do-not-log"

var listening = regexp.MustCompile(`answering on (http://\S+)`)

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	bin := scobotBinary(t)
	db := filepath.Join(t.TempDir(), "log.db")
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--reload-debounce", "50ms", "--rate", "0"}, args...)...)
	cmd.Env = append(os.Environ(), "SCOBOT_USER_SALT="+testSalt, "TELEGRAM_BOT_TOKEN=", "SLACK_SIGNING_SECRET=", "SLACK_APP_TOKEN=")
	stdout, _ := cmd.StdoutPipe()
	s := &server{cmd: cmd, db: db, stderr: &strings.Builder{}, mu: &sync.Mutex{}}
	errPipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := errPipe.Read(b)
			s.mu.Lock()
			s.stderr.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	found := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := listening.FindStringSubmatch(lines.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-time.After(20 * time.Second):
		t.Fatalf("scobot serve did not start; stderr:\n%s", s.logs())
	}
	return s
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *server) get(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return resp.StatusCode
}

func (s *server) post(t *testing.T, path, body string) int {
	t.Helper()
	resp, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

type askResult struct {
	QueryID  string `json:"query_id"`
	Answered bool   `json:"answered"`
	ID       string `json:"id"`
	Answer   string `json:"answer"`
}

// TestServeEndToEnd asks and votes over HTTP, stops the server with SIGTERM, and finds
// every query and vote in the SQLite file.
func TestServeEndToEnd(t *testing.T) {
	s := startServer(t)
	if code := s.get(t, "/healthz", nil); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	var ready struct {
		Ready bool `json:"ready"`
	}
	if code := s.get(t, "/readyz", &ready); code != 200 || !ready.Ready {
		t.Fatalf("/readyz = %d %+v", code, ready)
	}
	const n = 40
	var ids []string
	for i := 0; i < n; i++ {
		var a askResult
		q := []string{"trans-caspian", "who+wrote+it", "terrorism", "best+pizza+in+town"}[i%4]
		if code := s.get(t, "/api/ask?user=e2e&q="+q, &a); code != 200 || a.QueryID == "" {
			t.Fatalf("/api/ask = %d %+v", code, a)
		}
		ids = append(ids, a.QueryID)
	}
	for _, id := range ids[:10] {
		if code := s.post(t, "/api/feedback", `{"query_id": "`+id+`", "vote": "down", "user": "e2e"}`); code != 200 {
			t.Fatalf("/api/feedback = %d", code)
		}
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `scobot_queries_total{outcome="answered",platform="web"} 30`) {
		t.Errorf("/metrics does not count 30 answered web queries:\n%s", grepLines(string(metrics), "scobot_queries_total"))
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("scobot serve after SIGTERM: %v, want exit 0\n%s", err, s.logs())
	}
	if strings.Contains(s.logs(), testSalt) {
		t.Errorf("the server's log shows the user salt")
	}
	db, err := storage.Open(s.db, storage.Options{UserSalt: []byte(testSalt)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Stats(context.Background(), storage.StatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	down := 0
	for _, v := range st.Votes {
		down += v.Down
	}
	// Votes are counted per entry: of the ten voted queries, two were declined and have
	// no entry.
	if st.Total != n || st.Answered != 30 || down != 8 {
		t.Errorf("after SIGTERM the log has %d queries (%d answered) and %d votes on entries, want %d (30) and 8", st.Total, st.Answered, down, n)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestServeHotReload breaks an answer file while serving, sees the old answers served
// and /readyz report the error, then fixes it and sees the new answer, without a restart.
func TestServeHotReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	if _, _, err := runCmd(t, "", nil, "kb", "export", dir); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--kb", dir)
	var before askResult
	s.get(t, "/api/ask?q=trans-caspian", &before)
	if before.ID != "trans-caspian-route" {
		t.Fatalf("before: %+v", before)
	}
	file := filepath.Join(dir, "trans-caspian-route.md")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// An editor's save: write a temporary file, rename it over the answer.
	save := func(data []byte) {
		tmp := filepath.Join(dir, ".trans-caspian-route.md.tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	save([]byte(strings.Replace(string(good), "section: connectivity-infrastructure", "section: nowhere", 1)))
	var ready struct {
		Ready    bool     `json:"ready"`
		KBErrors []string `json:"kb_errors"`
	}
	waitFor(t, func() bool { s.get(t, "/readyz", &ready); return len(ready.KBErrors) > 0 })
	if !strings.Contains(strings.Join(ready.KBErrors, "\n"), `trans-caspian-route.md:3: error: unknown section "nowhere"`) {
		t.Errorf("/readyz kb_errors = %q, want the file, line and problem", ready.KBErrors)
	}
	var during askResult
	s.get(t, "/api/ask?q=trans-caspian", &during)
	if during.ID != "trans-caspian-route" || during.Answer != before.Answer {
		t.Errorf("with a broken file the answer is %+v, want the old one", during)
	}
	save([]byte(strings.Replace(string(good), "is one of the transportation corridors", "is one of the TRANSPORT corridors", 1)))
	var after askResult
	waitFor(t, func() bool {
		s.get(t, "/api/ask?q=trans-caspian", &after)
		return strings.Contains(after.Answer, "TRANSPORT")
	})
	ready.KBErrors = nil // the field is omitted when empty
	s.get(t, "/readyz", &ready)
	if len(ready.KBErrors) != 0 {
		t.Errorf("after the fix /readyz still reports %q", ready.KBErrors)
	}
	// SIGHUP reloads too; the log records each reload.
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(s.logs(), "by=signal") })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeHelpAndBadFlags(t *testing.T) {
	_, errOut, err := runCmd(t, "", nil, "serve", "--help")
	if exitCode(err) != 0 {
		t.Fatalf("serve --help: exit %d", exitCode(err))
	}
	for _, flag := range []string{"-addr", "-kb", "-db", "-sync", "-retain", "-log-format", "-rate", "-burst", "-shutdown-timeout"} {
		if !strings.Contains(errOut, flag) {
			t.Errorf("serve --help does not list %s", flag)
		}
	}
	for _, args := range [][]string{{"serve", "--rate", "fast"}, {"serve", "--log-format", "xml"}, {"serve", "extra"}, {"--burst", "0"}} {
		if _, _, err := runCmd(t, "", nil, args...); exitCode(err) != 2 {
			t.Errorf("scobot %v: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}
