// Command slackload measures scobot's Slack slash command endpoint: it sends signed
// slash commands, exactly as Slack signs them, from -c concurrent connections for -d or
// -n requests, whichever ends first, checks every answer, and prints requests per
// second, status counts and latency percentiles.
//
// It only talks to loopback: a load generator with a valid signing secret pointed at
// someone else's server would be an attack tool.
//
// Usage:
//
//	SLACK_SIGNING_SECRET=... go run ./bench/slackload -url http://127.0.0.1:8080/slack/commands -c 32 -d 10s
//
// With nothing serving yet, bench/slackload/harness serves the endpoint with the real
// core and query log (see its doc comment).
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds on a run, whatever the flags say.
const (
	maxDuration    = 10 * time.Minute
	maxRequests    = 10_000_000
	maxConcurrency = 1024
)

// questions is the mix sent by default: answered questions, keywords, a typo, and
// questions the article does not cover, like the matcher's own benchmark.
var questions = []string{
	"When does Kazakhstan chair the SCO?",
	"Which transport corridors are mentioned?",
	"What is the SCO Business Council?",
	"summit",
	"Who wrote the article?",
	"What does Kazakhstan do about terrorism and extremism?",
	"trans-caspian route",
	"cultral exchanges",
	"What are the observer states?",
	"How do I bake bread?",
	"What is the capital of France?",
	"share When does Kazakhstan chair the SCO?",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "slackload:", err)
		os.Exit(1)
	}
}

type config struct {
	target      *url.URL
	secret      []byte
	concurrency int
	duration    time.Duration
	requests    int
	timeout     time.Duration
	text        string
	users       int
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("slackload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "http://127.0.0.1:8080/slack/commands", "slash command endpoint (loopback only)")
	// No default shown: the secret comes from SLACK_SIGNING_SECRET, and -h must not print it.
	secret := fs.String("secret", "", "signing secret (default: $SLACK_SIGNING_SECRET; prefer the variable, flags show in ps)")
	c := fs.Int("c", 32, "concurrent connections (at most 1024)")
	d := fs.Duration("d", 10*time.Second, "how long to run (at most 10m)")
	n := fs.Int("n", 1_000_000, "most requests to send (at most 10,000,000)")
	timeout := fs.Duration("timeout", 5*time.Second, "timeout of one request")
	text := fs.String("text", "", "send only this command text (default: a mix of questions)")
	users := fs.Int("users", 1000, "distinct user ids to send from")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := config{concurrency: *c, duration: *d, requests: *n, timeout: *timeout, text: *text, users: *users}
	s := *secret
	if s == "" {
		s = getenv("SLACK_SIGNING_SECRET")
	}
	if s == "" {
		return config{}, errors.New("no signing secret: set SLACK_SIGNING_SECRET")
	}
	cfg.secret = []byte(s)
	if cfg.concurrency < 1 || cfg.concurrency > maxConcurrency {
		return config{}, fmt.Errorf("-c %d: want 1 to %d", cfg.concurrency, maxConcurrency)
	}
	if cfg.duration <= 0 || cfg.duration > maxDuration {
		return config{}, fmt.Errorf("-d %v: want more than 0 and at most %v", cfg.duration, maxDuration)
	}
	if cfg.requests < 1 || cfg.requests > maxRequests {
		return config{}, fmt.Errorf("-n %d: want 1 to %d", cfg.requests, maxRequests)
	}
	if cfg.users < 1 {
		return config{}, fmt.Errorf("-users %d: want at least 1", cfg.users)
	}
	u, err := url.Parse(*rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config{}, fmt.Errorf("-url %q: want an http(s) URL", *rawURL)
	}
	if !loopbackHost(u.Hostname()) {
		return config{}, fmt.Errorf("-url %q: only loopback hosts (127.0.0.0/8, ::1, localhost) are allowed", *rawURL)
	}
	cfg.target = u
	return cfg, nil
}

// loopbackHost reports whether host names the local machine.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOnly refuses connections to anything but loopback addresses, checked after
// name resolution, so that a "localhost" resolving elsewhere cannot be used either.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not loopback", host)
	}
	return nil
}

// result is what one worker saw.
type result struct {
	latencies []time.Duration
	status    map[int]int
	errs      map[string]int
	answered  int // 200 with an answer (a header block)
	other     int // 200 with another reply: a decline, help
	bad       int // 200 with a body that is not a slash command reply
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseFlags(args, getenv, os.Stderr)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.timeout, Control: loopbackOnly}).DialContext,
		MaxIdleConns:        cfg.concurrency,
		MaxIdleConnsPerHost: cfg.concurrency,
		MaxConnsPerHost:     cfg.concurrency,
		DisableCompression:  true,
		Proxy:               nil, // never through a proxy: the target is local
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var next atomic.Int64
	results := make([]*result, cfg.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.concurrency {
		res := &result{status: map[int]int{}, errs: map[string]int{}}
		results[w] = res
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(cfg.requests) {
					return
				}
				one(ctx, client, cfg, i, res)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	report(stdout, cfg, elapsed, results)
	total := merge(results)
	if len(total.errs) > 0 || total.bad > 0 || total.status[http.StatusOK] != len(total.latencies) {
		return errors.New("some requests failed")
	}
	return nil
}

// one sends request number i and records what came back.
func one(ctx context.Context, client *http.Client, cfg config, i int64, res *result) {
	text := cfg.text
	if text == "" {
		text = questions[i%int64(len(questions))]
	}
	n := strconv.FormatInt(i, 10)
	form := url.Values{
		"token":        {"unused-legacy-token"},
		"team_id":      {"T0LOAD"},
		"team_domain":  {"load"},
		"channel_id":   {"C0LOAD"},
		"channel_name": {"load"},
		"user_id":      {"U0LOAD" + strconv.FormatInt(i%int64(cfg.users), 10)},
		"user_name":    {"load"},
		"command":      {"/sco"},
		"text":         {text},
		"api_app_id":   {"A0LOAD"},
		// A loopback response_url: a slow answer must not leave the machine either.
		"response_url": {cfg.target.Scheme + "://" + cfg.target.Host + "/slackload/response/" + n},
		"trigger_id":   {"load." + strconv.FormatInt(time.Now().UnixNano(), 36) + "." + n},
	}
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.target.String(), strings.NewReader(body))
	if err != nil {
		res.errs[err.Error()]++
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sign(cfg.secret, ts, body))
	req.Header.Set("User-Agent", "slackload")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // the run ended mid-request: not a failure of the server
		}
		res.errs[shortErr(err)]++
		return
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		res.errs[shortErr(err)]++
		return
	}
	res.latencies = append(res.latencies, lat)
	res.status[resp.StatusCode]++
	if resp.StatusCode != http.StatusOK {
		return
	}
	var reply struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || reply.Text == "" || len(reply.Blocks) == 0 {
		res.bad++
		return
	}
	if reply.Blocks[0].Type == "header" {
		res.answered++
	} else {
		res.other++
	}
}

// sign is Slack's v0 request signature.
func sign(secret []byte, ts, body string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write([]byte(body))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// shortErr keeps error counts readable: the last part of a *url.Error.
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func merge(results []*result) *result {
	total := &result{status: map[int]int{}, errs: map[string]int{}}
	for _, r := range results {
		total.latencies = append(total.latencies, r.latencies...)
		for k, v := range r.status {
			total.status[k] += v
		}
		for k, v := range r.errs {
			total.errs[k] += v
		}
		total.answered += r.answered
		total.other += r.other
		total.bad += r.bad
	}
	return total
}

func report(w io.Writer, cfg config, elapsed time.Duration, results []*result) {
	total := merge(results)
	lat := total.latencies
	slices.Sort(lat)
	done := len(lat)
	for _, n := range total.errs {
		done += n
	}
	fmt.Fprintf(w, "target     %s, %d connections, -d %v, -n %d\n", cfg.target.Redacted(), cfg.concurrency, cfg.duration, cfg.requests)
	fmt.Fprintf(w, "requests   %d in %.2fs = %.0f/s\n", done, elapsed.Seconds(), float64(done)/elapsed.Seconds())
	codes := make([]int, 0, len(total.status))
	for c := range total.status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", c, total.status[c]))
	}
	fmt.Fprintf(w, "status     %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "replies    %d answers, %d other replies (declines, help), %d malformed\n", total.answered, total.other, total.bad)
	if len(lat) > 0 {
		fmt.Fprintf(w, "latency    p50 %s  p90 %s  p99 %s  max %s\n", pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1].Round(time.Microsecond))
	}
	for e, n := range total.errs {
		fmt.Fprintf(w, "error      %d× %s\n", n, e)
	}
}

// pct returns the p-th percentile of sorted latencies (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))].Round(time.Microsecond)
}
