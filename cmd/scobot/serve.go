package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/bot/metrics"
	"github.com/scobot/scobot/bot/web"
	"github.com/scobot/scobot/knowledge"
	"github.com/scobot/scobot/storage"
)

// serveConfig is scobot serve's configuration, after flags and environment.
type serveConfig struct {
	addr            string
	kbDir           string
	logFormat       string
	logLevel        string
	ratePerMinute   float64
	burst           int
	shutdownTimeout time.Duration
	debounce        time.Duration
	trustProxy      bool
	log             logFlags
}

// adapter is a chat platform switched on by its environment variables.
type adapter interface {
	Run(ctx context.Context) error
	Ready() error
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.addr, "addr", envOr(getenv, "SCOBOT_ADDR", "127.0.0.1:8080"), "listen `address` for the web chat, API, health and metrics (env SCOBOT_ADDR)")
	fs.StringVar(&cfg.kbDir, "kb", getenv("SCOBOT_KB_DIR"), "knowledge base `directory`, watched for changes; empty: the embedded answers (env SCOBOT_KB_DIR)")
	fs.StringVar(&cfg.logFormat, "log-format", envOr(getenv, "SCOBOT_LOG_FORMAT", "text"), "log `format`: text or json (env SCOBOT_LOG_FORMAT)")
	fs.StringVar(&cfg.logLevel, "log-level", envOr(getenv, "SCOBOT_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error (env SCOBOT_LOG_LEVEL)")
	rate := fs.String("rate", envOr(getenv, "SCOBOT_RATE", "30"), "questions per minute one user may ask; 0 turns the limit off (env SCOBOT_RATE)")
	burst := fs.String("burst", envOr(getenv, "SCOBOT_BURST", "10"), "questions one user may ask at once before the rate applies (env SCOBOT_BURST)")
	shutdown := fs.String("shutdown-timeout", envOr(getenv, "SCOBOT_SHUTDOWN_TIMEOUT", "15s"), "how long to finish requests and drain the log on SIGTERM (env SCOBOT_SHUTDOWN_TIMEOUT)")
	debounce := fs.String("reload-debounce", envOr(getenv, "SCOBOT_RELOAD_DEBOUNCE", "300ms"), "quiet time after a knowledge base change before reloading (env SCOBOT_RELOAD_DEBOUNCE)")
	var err error
	trustProxy := fs.String("trust-proxy", envOr(getenv, "SCOBOT_TRUST_PROXY", "false"), "count web clients by the X-Forwarded-For address of a reverse proxy in front (env SCOBOT_TRUST_PROXY)")
	cfg.log = addLogFlags(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage("serve takes no arguments")
	}
	if cfg.trustProxy, err = strconv.ParseBool(*trustProxy); err != nil {
		return errUsage("--trust-proxy %q: want true or false", *trustProxy)
	}
	if cfg.ratePerMinute, err = strconv.ParseFloat(*rate, 64); err != nil || !(cfg.ratePerMinute >= 0) {
		return errUsage("--rate %q: want a number of questions per minute", *rate)
	}
	if cfg.burst, err = strconv.Atoi(*burst); err != nil || cfg.burst < 1 {
		return errUsage("--burst %q: want a whole number of at least 1", *burst)
	}
	if cfg.shutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || cfg.shutdownTimeout <= 0 {
		return errUsage("--shutdown-timeout %q: want a duration like 15s", *shutdown)
	}
	if cfg.debounce, err = time.ParseDuration(*debounce); err != nil || cfg.debounce < 0 {
		return errUsage("--reload-debounce %q: want a duration like 300ms", *debounce)
	}
	logger, err := newServeLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return errUsage("%v", err)
	}
	return serve(ctx, cfg, getenv, stdout, logger)
}

func newServeLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// serve runs the bot until ctx ends, then shuts down in order: stop accepting, finish
// requests in flight, stop the adapters, drain the query log, close the database.
func serve(ctx context.Context, cfg serveConfig, getenv func(string) string, stdout io.Writer, logger *slog.Logger) error {
	kb, err := loadKB(cfg.kbDir)
	if err != nil {
		return err
	}
	holder := &bot.KBHolder{}
	holder.Store(kb)

	db, err := cfg.log.open(getenv, logger)
	if err != nil {
		return err
	}
	dbClosed := false
	defer func() {
		if !dbClosed {
			db.Close()
		}
	}()

	m := metrics.New(func() float64 { return float64(db.QueueDepth()) }, func() float64 { return float64(db.Dropped()) })
	m.SetKB(kb.Version, len(kb.Entries))

	var rl *kbReloader
	var reloader bot.Reloader
	if cfg.kbDir != "" {
		rl = &kbReloader{dir: cfg.kbDir, holder: holder, metrics: m, log: logger, db: db}
		reloader = rl
	}
	core, err := bot.NewCore(bot.Config{
		KB: holder, Log: db, Stats: db, Reloader: reloader, Observer: m, Logger: logger,
		RatePerMinute: cfg.ratePerMinute, Burst: cfg.burst,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	ws := web.New(core, logger)
	ws.TrustProxy = cfg.trustProxy
	ws.Register(mux)
	adapters, err := startAdapters(ctx, getenv, core, db, mux, logger)
	if err != nil {
		return err
	}
	h := &health{holder: holder, db: db, reloader: rl, adapters: adapters}
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", m.Handler())

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           securityHeaders(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg sync.WaitGroup
	errc := make(chan error, len(adapters)+2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve http: %w", err)
		}
	}()
	for name, a := range adapters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Run(runCtx); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if rl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rl.watch(runCtx, cfg.debounce); err != nil {
				logger.Error("watch knowledge base; reload with SIGHUP or the reload command", "dir", cfg.kbDir, "err", err)
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "scobot is answering on %s (web chat), knowledge base %s with %d entries, query log %s\n", url, kb.Version, len(kb.Entries), db.Path())
	if _, ok := adapters["telegram"]; !ok {
		fmt.Fprintln(stdout, "Telegram is off: set TELEGRAM_BOT_TOKEN to switch it on.")
	}
	if _, ok := adapters["slack"]; !ok {
		fmt.Fprintln(stdout, "Slack is off: set SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN and SLACK_BOT_TOKEN (Socket Mode) to switch it on.")
	}
	logger.Info("serving", "addr", ln.Addr().String(), "kb_version", kb.Version, "entries", len(kb.Entries), "db", db.Path(), "adapters", adapterNames(adapters))

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down")
			break loop
		case <-hup:
			if rl == nil {
				logger.Info("SIGHUP: the embedded knowledge base has nothing to reload")
				continue
			}
			rl.reloadAndRecord(ctx, "signal")
		case runErr = <-errc:
			logger.Error("stopping after an error", "err", runErr)
			break loop
		}
	}

	// Stop in order, within the deadline.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("finish requests in flight", "err", err)
	}
	stopRun()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		logger.Error("adapters did not stop in time")
	}
	// The log gets a deadline of its own: a slow client that used up the first one must
	// not cost the queries already answered.
	dctx, dcancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer dcancel()
	dbClosed = true
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			logger.Error("close query log", "err", err)
			if runErr == nil {
				runErr = fmt.Errorf("close query log: %w", err)
			}
		}
	case <-dctx.Done():
		logger.Error("query log did not drain in time", "queued", db.QueueDepth())
		if runErr == nil {
			runErr = errors.New("query log did not drain before the shutdown deadline")
		}
	}
	logger.Info("stopped")
	return runErr
}

func adapterNames(m map[string]adapter) []string {
	var out []string
	for _, n := range []string{"telegram", "slack"} {
		if _, ok := m[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// securityHeaders sets the headers every response should carry: the page loads only
// its own files and cannot be framed.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.ServeHTTP(w, r)
	})
}

// health answers /healthz and /readyz.
type health struct {
	holder   *bot.KBHolder
	db       *storage.DB
	reloader *kbReloader
	adapters map[string]adapter
}

func (h *health) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// readyz reports whether the bot can answer: a knowledge base is loaded, the query log
// takes writes, and every enabled adapter is connected. A knowledge base edit that was
// refused is reported with its errors but does not make the bot unready: the last good
// answers are still served.
func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	type check struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	out := struct {
		Ready     bool             `json:"ready"`
		KBVersion string           `json:"kb_version,omitempty"`
		KBErrors  []string         `json:"kb_errors,omitempty"`
		Checks    map[string]check `json:"checks"`
	}{Ready: true, Checks: map[string]check{}}
	set := func(name string, err error) {
		if err != nil {
			out.Ready = false
			out.Checks[name] = check{Error: err.Error()}
			return
		}
		out.Checks[name] = check{OK: true}
	}
	kb := h.holder.Load()
	if kb == nil {
		set("knowledge_base", errors.New("no knowledge base loaded"))
	} else {
		out.KBVersion = kb.Version
		set("knowledge_base", nil)
	}
	if h.reloader != nil {
		out.KBErrors = h.reloader.lastProblems()
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.db.SetState(ctx, "readyz", time.Now().UTC().Format(time.RFC3339)); err != nil {
		set("query_log", fmt.Errorf("query log does not take writes: %w", err))
	} else {
		set("query_log", nil)
	}
	for name, a := range h.adapters {
		set(name, a.Ready())
	}
	status := http.StatusOK
	if !out.Ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// kbReloader reloads a knowledge base directory, keeping the last good one live when
// the new one has errors.
type kbReloader struct {
	dir     string
	holder  *bot.KBHolder
	metrics *metrics.Metrics
	log     *slog.Logger
	db      *storage.DB

	mu       sync.Mutex // one reload at a time
	pmu      sync.Mutex // guards problems, so /readyz never waits for a reload
	problems []string
}

var _ bot.Reloader = (*kbReloader)(nil)

// Reload loads the directory and swaps it in if it is valid.
func (r *kbReloader) Reload(_ context.Context, by string) (string, []string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kb, err := knowledge.LoadDir(r.dir)
	if err != nil {
		var le *knowledge.LoadError
		var problems []string
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				problems = append(problems, p.String())
			}
		} else {
			problems = []string{err.Error()}
		}
		r.setProblems(problems)
		r.metrics.ObserveReload(false)
		old := r.holder.Load().Version
		r.log.Error("knowledge base refused; the last good one stays live", "dir", r.dir, "by", by, "live_version", old, "problems", len(problems))
		for _, p := range problems {
			r.log.Error("knowledge base problem", "problem", p)
		}
		return "", problems, err
	}
	r.holder.Store(kb)
	r.setProblems(nil)
	r.metrics.ObserveReload(true)
	r.metrics.SetKB(kb.Version, len(kb.Entries))
	for _, p := range kb.Warnings {
		r.log.Warn("knowledge base warning", "problem", p.String())
	}
	r.log.Info("knowledge base reloaded", "dir", r.dir, "by", by, "version", kb.Version, "entries", len(kb.Entries))
	return kb.Version, nil, nil
}

// reloadAndRecord reloads on the bot's own initiative (a file change, SIGHUP) and
// records it with the admin actions, as the reload command is.
func (r *kbReloader) reloadAndRecord(ctx context.Context, by string) {
	version, problems, err := r.Reload(ctx, by)
	act := bot.AdminAction{Time: time.Now().UTC(), Platform: "system", User: by, Action: "reload", Result: "ok", KBVersion: version}
	if err != nil {
		act.Result = fmt.Sprintf("refused: %d problem(s): %s", len(problems), strings.Join(problems, "; "))
		act.KBVersion = r.holder.Load().Version
	}
	if err := r.db.RecordAdmin(act); err != nil {
		r.log.Error("record reload", "err", err)
	}
}

func (r *kbReloader) setProblems(p []string) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	r.problems = p
}

func (r *kbReloader) lastProblems() []string {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	return append([]string(nil), r.problems...)
}
