//go:build ignore

// Command harness serves the Slack endpoints for bench/slackload until `scobot serve`
// can: the adapter's Register()ed mux, the real bot core on the embedded knowledge base,
// and a real query log (storage.DB) in a temporary directory. On SIGINT or SIGTERM it
// stops, closes the log, and prints how many queries the log holds, so a run can check
// that every request was logged.
//
// It is not part of the build (note the build tag); run it by file name:
//
//	export SLACK_SIGNING_SECRET=bench-secret
//	go run ./bench/slackload/harness/main.go -addr 127.0.0.1:8089 &
//	go run ./bench/slackload -url http://127.0.0.1:8089/slack/commands -c 32 -d 10s
//	kill -INT %1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/bot/slack"
	"github.com/scobot/scobot/knowledge"
	"github.com/scobot/scobot/storage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address (loopback)")
	dbPath := flag.String("db", "", "query log file (default: in a new temporary directory)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback address", *addr)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	cfg, err := slack.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.SigningSecret == "" || cfg.AppToken != "" {
		return errors.New("set SLACK_SIGNING_SECRET (and not SLACK_APP_TOKEN): the harness serves the HTTP endpoints")
	}
	cfg.Logger = logger

	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "slackload-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "scobot.db")
	}
	db, err := storage.Open(*dbPath, storage.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()

	kb, err := knowledge.Default()
	if err != nil {
		return err
	}
	var holder bot.KBHolder
	holder.Store(kb)
	core, err := bot.NewCore(bot.Config{KB: &holder, Log: db, Stats: db, Logger: logger})
	if err != nil {
		return err
	}
	sb, err := slack.New(cfg, core)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	sb.Register(mux)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runDone := make(chan error, 1)
	go func() { runDone <- sb.Run(ctx) }()
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "harness: serving http://%s/slack/commands, query log %s\n", ln.Addr(), *dbPath)
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-serveDone:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-runDone; err != nil {
		return err
	}
	if err := db.Flush(sctx); err != nil {
		return err
	}
	st, err := db.Stats(sctx, storage.StatsOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("query log  %d queries recorded (%d answered), %d records dropped\n", st.Total, st.Answered, db.Dropped())
	return nil
}
