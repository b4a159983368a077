package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/storage"
)

// logFlags are the query log's settings, shared by every command that opens the log.
type logFlags struct {
	path   *string
	sync   *string
	retain *string
}

func addLogFlags(fs *flag.FlagSet, getenv func(string) string) logFlags {
	return logFlags{
		path:   fs.String("db", envOr(getenv, "SCOBOT_DB", "scobot.db"), "query log `file` (env SCOBOT_DB)"),
		sync:   fs.String("sync", envOr(getenv, "SCOBOT_SYNC", "NORMAL"), "SQLite synchronous `mode`: NORMAL, or FULL to sync every commit (env SCOBOT_SYNC)"),
		retain: fs.String("retain", getenv("SCOBOT_RETAIN"), "delete log rows older than this `age`, e.g. 90d or 720h; empty keeps them (env SCOBOT_RETAIN)"),
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// open opens the query log with the flags' settings. The user salt comes only from the
// environment: a secret has no place on a command line, where ps shows it.
func (f logFlags) open(getenv func(string) string, logger *slog.Logger) (*storage.DB, error) {
	retain, err := parseAge(*f.retain)
	if err != nil {
		return nil, errUsage("--retain: %v", err)
	}
	opts := storage.Options{Synchronous: *f.sync, Retain: retain, Logger: logger}
	if salt := getenv("SCOBOT_USER_SALT"); salt != "" {
		opts.UserSalt = []byte(salt)
	}
	return storage.Open(*f.path, opts)
}

// openSince parses a --since age, then opens the log: the read commands' common start.
func (f logFlags) openSince(sinceFlag string, getenv func(string) string, stderr io.Writer) (*storage.DB, time.Time, error) {
	from, err := since(sinceFlag, time.Now())
	if err != nil {
		return nil, time.Time{}, err
	}
	db, err := f.open(getenv, newLogger(stderr))
	return db, from, err
}

// parseAge parses an age such as "90d", "2w", "36h" or "15m". An empty string is zero.
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	if u, ok := unit[s[len(s)-1]]; ok {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || !(n >= 0 && n*float64(u) <= float64(100*365*24*time.Hour)) { // NaN fails too
			return 0, fmt.Errorf("%q is not an age like 90d, 2w or 36h", s)
		}
		return time.Duration(n * float64(u)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 100*365*24*time.Hour {
		return 0, fmt.Errorf("%q is not an age like 90d, 2w or 36h", s)
	}
	return d, nil
}

// since turns a --since age into the time it names, or the zero time for "".
func since(s string, now time.Time) (time.Time, error) {
	d, err := parseAge(s)
	if err != nil {
		return time.Time{}, errUsage("--since: %v", err)
	}
	if d == 0 {
		return time.Time{}, nil
	}
	return now.Add(-d), nil
}

func runStats(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("stats", stderr)
	lf := addLogFlags(fs, getenv)
	sinceFlag := fs.String("since", "", "only queries younger than this `age`, e.g. 7d")
	asJSON := fs.Bool("json", false, "print the statistics as JSON")
	limit := fs.Int("top", 10, "length of each ranked `list`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, from, err := lf.openSince(*sinceFlag, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Stats(ctx, storage.StatsOptions{Since: from, Limit: *limit})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(statsJSON(st))
	}
	printStats(stdout, st)
	return nil
}

// statsJSON gives the statistics snake_case names and latencies in milliseconds.
func statsJSON(st *bot.Stats) map[string]any {
	var sinceStr string
	if !st.Since.IsZero() {
		sinceStr = st.Since.UTC().Format(time.RFC3339)
	}
	orEmpty := func(c []bot.Count) []bot.Count {
		if c == nil {
			return []bot.Count{}
		}
		return c
	}
	votes := st.Votes
	if votes == nil {
		votes = []bot.EntryVotes{}
	}
	return map[string]any{
		"since":          sinceStr,
		"total":          st.Total,
		"answered":       st.Answered,
		"answered_pct":   st.AnsweredPct,
		"by_platform":    orEmpty(st.ByPlatform),
		"by_day":         orEmpty(st.ByDay),
		"top_asked":      orEmpty(st.TopAsked),
		"top_entries":    orEmpty(st.TopEntries),
		"top_sections":   orEmpty(st.TopSections),
		"unanswered":     orEmpty(st.Unanswered),
		"votes":          votes,
		"latency_p50_ms": float64(st.LatencyP50.Microseconds()) / 1000,
		"latency_p90_ms": float64(st.LatencyP90.Microseconds()) / 1000,
		"latency_p99_ms": float64(st.LatencyP99.Microseconds()) / 1000,
	}
}

func printStats(w io.Writer, st *bot.Stats) {
	period := "all time"
	if !st.Since.IsZero() {
		period = "since " + st.Since.UTC().Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(w, "Queries (%s): %d, answered %d (%.1f%%)\n", period, st.Total, st.Answered, st.AnsweredPct)
	fmt.Fprintf(w, "Latency: p50 %v, p90 %v, p99 %v\n", st.LatencyP50, st.LatencyP90, st.LatencyP99)
	list := func(title string, cs []bot.Count) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, c := range cs {
			fmt.Fprintf(w, "  %6d  %s\n", c.Count, c.Key)
		}
	}
	list("By platform", st.ByPlatform)
	list("By day", st.ByDay)
	list("Most asked", st.TopAsked)
	list("Unanswered, most asked first", st.Unanswered)
	list("Most used entries", st.TopEntries)
	list("Most used sections", st.TopSections)
	if len(st.Votes) > 0 {
		fmt.Fprintln(w, "\nVotes per entry (up / down):")
		for _, v := range st.Votes {
			fmt.Fprintf(w, "  %4d / %-4d %s\n", v.Up, v.Down, v.EntryID)
		}
	}
}

func runLog(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage("log needs a subcommand: export or forget")
	}
	switch args[0] {
	case "export":
		fs := newFlags("log export", stderr)
		lf := addLogFlags(fs, getenv)
		format := fs.String("format", "jsonl", "`format`: csv or jsonl")
		sinceFlag := fs.String("since", "", "only queries younger than this `age`, e.g. 7d")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *format != "csv" && *format != "jsonl" {
			return errUsage("--format must be csv or jsonl")
		}
		db, from, err := lf.openSince(*sinceFlag, getenv, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Export(ctx, stdout, *format, from); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	case "forget":
		fs := newFlags("log forget", stderr)
		lf := addLogFlags(fs, getenv)
		user := fs.String("user", "", "the user `id` whose rows to delete")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *user == "" {
			return errUsage("log forget needs --user ID")
		}
		db, err := lf.open(getenv, newLogger(stderr))
		if err != nil {
			return err
		}
		n, err := db.ForgetUser(ctx, *user)
		if err == nil {
			// The admin action names the admin, not the person forgotten.
			err = db.RecordAdmin(bot.AdminAction{Time: time.Now().UTC(), Platform: bot.PlatformCLI, User: getenv("USER"), Action: "forget", Result: fmt.Sprintf("ok, %d rows", n)})
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("forget: %w", err)
		}
		fmt.Fprintf(stdout, "deleted %d rows\n", n)
		return nil
	}
	return errUsage("unknown log subcommand %q: use export or forget", args[0])
}

// newLogger is the commands' structured logger, on standard error.
func newLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
