package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/storage"
)

const (
	testTelegramToken = "123456:TEST-token-never-logged"
	testSlackSecret   = "slack-signing-secret-never-logged"
)

// fakeTelegram is a minimal Bot API: one private message to answer, then empty polls.
type fakeTelegram struct {
	mu    sync.Mutex
	sent  []string
	given bool
}

func (f *fakeTelegram) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	ok := func(result string) { fmt.Fprintf(w, `{"ok":true,"result":%s}`, result) }
	switch method {
	case "getMe":
		ok(`{"id":999,"is_bot":true,"first_name":"scobot","username":"ScoTestBot"}`)
	case "setMyCommands", "deleteWebhook":
		ok("true")
	case "getUpdates":
		f.mu.Lock()
		first := !f.given
		f.given = true
		f.mu.Unlock()
		if first {
			ok(`[{"update_id":100,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Ann"},"text":"trans-caspian route"}}]`)
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(200 * time.Millisecond):
		}
		ok("[]")
	case "sendMessage":
		f.mu.Lock()
		f.sent = append(f.sent, r.Form.Get("text"))
		f.mu.Unlock()
		ok(`{"message_id":2,"date":1700000001,"chat":{"id":42,"type":"private"},"text":"x"}`)
	default:
		ok("true")
	}
}

func (f *fakeTelegram) sentText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.sent, "\n")
}

// TestServeWithAdapters runs the real binary with Telegram and Slack switched on
// through their environment variables, against local fakes, and checks that both answer,
// that /readyz covers them, that their queries are logged, and that no secret shows.
func TestServeWithAdapters(t *testing.T) {
	bin := scobotBinary(t)
	tg := &fakeTelegram{}
	tgSrv := httptest.NewServer(tg)
	defer tgSrv.Close()
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	defer slackAPI.Close()

	db := filepath.Join(t.TempDir(), "log.db")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", db, "--rate", "0")
	cmd.Env = append(os.Environ(),
		"TELEGRAM_BOT_TOKEN="+testTelegramToken,
		"TELEGRAM_API_ENDPOINT="+tgSrv.URL+"/bot%s/%s",
		"SLACK_SIGNING_SECRET="+testSlackSecret,
		"SLACK_API_URL="+slackAPI.URL+"/",
		"SLACK_APP_TOKEN=", "SLACK_BOT_TOKEN=", "SCOBOT_USER_SALT=",
	)
	var logs strings.Builder
	var logMu sync.Mutex
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		b, _ := io.ReadAll(stderr)
		logMu.Lock()
		logs.Write(b)
		logMu.Unlock()
	}()
	urlc := make(chan string, 1)
	var out strings.Builder // guarded by logMu
	go func() {
		defer readers.Done()
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			logMu.Lock()
			out.Write(buf[:n])
			m := listening.FindStringSubmatch(out.String())
			logMu.Unlock()
			if m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var base string
	select {
	case base = <-urlc:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start")
	}

	waitFor(t, func() bool { return strings.Contains(tg.sentText(), "Trans-Caspian") })

	body := url.Values{
		"command": {"/sco"}, "text": {"trans-caspian route"}, "user_id": {"U1"}, "team_id": {"T1"},
		"channel_id": {"C1"}, "user_name": {"ann"}, "response_url": {slackAPI.URL + "/response"}, "trigger_id": {"1.2.3"},
	}.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(testSlackSecret))
	io.WriteString(mac, "v0:"+ts+":"+body)
	req, _ := http.NewRequest("POST", base+"/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(answer), "Trans-Caspian") {
		t.Errorf("signed /sco = %d %s, want the Trans-Caspian answer", resp.StatusCode, answer)
	}
	req.Header.Set("X-Slack-Signature", "v0=00")
	req.Body = io.NopCloser(strings.NewReader(body))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("badly signed /sco: %v %v, want 401", err, resp)
	}

	var ready struct {
		Ready  bool                       `json:"ready"`
		Checks map[string]json.RawMessage `json:"checks"`
	}
	waitFor(t, func() bool {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		json.NewDecoder(r.Body).Decode(&ready)
		return ready.Ready
	})
	if _, ok := ready.Checks["telegram"]; !ok {
		t.Errorf("/readyz checks = %v, want telegram", ready.Checks)
	}
	if _, ok := ready.Checks["slack"]; !ok {
		t.Errorf("/readyz checks = %v, want slack", ready.Checks)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	readers.Wait() // the pipes end when the process exits; read them all before Wait
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	logMu.Lock()
	all := logs.String() + out.String()
	logMu.Unlock()
	for _, secret := range []string{testTelegramToken, testSlackSecret} {
		if strings.Contains(all, secret) {
			t.Errorf("the server's output shows a secret")
		}
	}
	st, err := openStats(t, db)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range st {
		got[c.Key] = c.Count
	}
	if got["telegram"] != 1 || got["slack"] != 1 {
		t.Errorf("queries by platform = %v, want one from telegram and one from slack", got)
	}
}

func openStats(t *testing.T, path string) ([]bot.Count, error) {
	t.Helper()
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := db.Stats(context.Background(), storage.StatsOptions{})
	if err != nil {
		return nil, err
	}
	return st.ByPlatform, nil
}
