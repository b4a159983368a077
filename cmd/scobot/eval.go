package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/scobot/scobot/knowledge"
)

func runEval(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	dir := fs.String("kb", "", "knowledge base `directory` (default: SCOBOT_KB_DIR, else the embedded one)")
	minAnswered := fs.Float64("min-answered", 0, "exit 1 when answerable top-1 accuracy is below this `share` (0 to 1)")
	minDeclined := fs.Float64("min-declined", 0, "exit 1 when the share of out-of-scope questions declined is below this `share`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errUsage("eval needs at least one question file")
	}
	kb, err := loadKB(kbDir(*dir, getenv))
	if err != nil {
		return err
	}
	var all []knowledge.EvalQuestion
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read question set: %w", err)
		}
		qs, err := knowledge.ParseEvalFile(name, data)
		if err != nil {
			return err
		}
		all = append(all, qs...)
	}
	r := knowledge.Evaluate(kb, all)
	r.Report(stdout)
	var fails []string
	if r.Top1Rate() < *minAnswered {
		fails = append(fails, fmt.Sprintf("answerable top-1 %.3f is below %.3f", r.Top1Rate(), *minAnswered))
	}
	if r.DeclinedRate() < *minDeclined {
		fails = append(fails, fmt.Sprintf("out-of-scope declined %.3f is below %.3f", r.DeclinedRate(), *minDeclined))
	}
	if len(fails) > 0 {
		return exitError{code: 1, msg: fmt.Sprint(fails)}
	}
	return nil
}
