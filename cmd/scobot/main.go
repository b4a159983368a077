// Command scobot answers questions about one article, the OpEd "Embracing Leadership:
// Kazakhstan's Presidency Of Shanghai Cooperation Organization In 2023".
//
// Usage:
//
//	scobot [serve] [flags]
//	scobot ask [--json] [--kb DIR] [--no-log] [QUESTION...]
//	scobot stats [--since 7d] [--json]
//	scobot log export|forget
//	scobot eval [--kb DIR] [--min-answered F] [--min-declined F] FILE...
//	scobot kb validate [DIR]
//	scobot kb export [--force] DIR
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A second signal stops waiting for a graceful shutdown.
	go func() { <-ctx.Done(); stop() }()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) || ee.msg != "" {
			fmt.Fprintln(os.Stderr, "scobot:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError ends the program with a status other than 1, or silently when msg is empty
// because the command has already said why.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// errUsage marks an error in how the command was called; main exits with status 2.
func errUsage(format string, args ...any) error {
	return exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

const usage = `scobot answers questions about the OpEd "Embracing Leadership: Kazakhstan's
Presidency Of Shanghai Cooperation Organization In 2023".

Usage:
  scobot [serve] [flags]
        run the bot: web chat, API, health and metrics on SCOBOT_ADDR, and Telegram
        and Slack when their tokens are set (scobot serve --help lists the flags)
  scobot healthcheck
        exit 0 when the local server answers /healthz (for container health checks)
  scobot ask [--json] [--kb DIR] [--no-log] [QUESTION...]
        answer a question, or each line of standard input
  scobot eval [--kb DIR] [--min-answered F] [--min-declined F] FILE...
        measure the answers against question sets
  scobot stats [--since 7d] [--json] [--top N]
        what people asked, what went unanswered, votes and latency
  scobot log export [--format csv|jsonl] [--since AGE]
        stream the query log
  scobot log forget --user ID
        delete one person's rows from the query log
  scobot kb validate [DIR]
        check a knowledge base directory (the embedded one without DIR)
  scobot kb export [--force] DIR
        write the embedded knowledge base into DIR, as a starting point

Commands that use the query log take --db FILE, --sync NORMAL|FULL and --retain AGE.

Environment (flags win):
  SCOBOT_KB_DIR     knowledge base directory
  SCOBOT_DB         query log file (default scobot.db)
  SCOBOT_SYNC       SQLite synchronous mode, NORMAL or FULL
  SCOBOT_RETAIN     delete log rows older than this age, e.g. 90d
  SCOBOT_USER_SALT  store user ids as keyed hashes (HMAC-SHA256) with this secret
`

// run is the whole program. main calls it with the process's arguments, environment and
// standard streams; tests call it with their own.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		// Serving is the default: `scobot` and `scobot --addr ...` start the bot.
		return runServe(ctx, args, getenv, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], getenv, stdout, stderr)
	case "ask":
		return runAsk(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], getenv, stdout, stderr)
	case "kb":
		return runKB(ctx, args[1:], getenv, stdout, stderr)
	case "stats":
		return runStats(ctx, args[1:], getenv, stdout, stderr)
	case "log":
		return runLog(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return errUsage("unknown command %q; run scobot help", args[0])
}
