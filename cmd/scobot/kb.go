package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/scobot/scobot/knowledge"
)

// newFlags returns a flag set that reports errors through run's error, not by exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("scobot "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning -h into a clean exit and bad flags into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitError{code: 0}
	}
	if err != nil {
		return exitError{code: 2}
	}
	return nil
}

// loadKB loads the knowledge base in dir, or the embedded one when dir is empty.
func loadKB(dir string) (*knowledge.KB, error) {
	if dir == "" {
		kb, err := knowledge.Default()
		if err != nil {
			return nil, fmt.Errorf("embedded knowledge base: %w", err)
		}
		return kb, nil
	}
	return knowledge.LoadDir(dir)
}

// kbDir is the --kb flag's value, falling back to SCOBOT_KB_DIR.
func kbDir(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	return getenv("SCOBOT_KB_DIR")
}

func runKB(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage("kb needs a subcommand: validate or export")
	}
	switch args[0] {
	case "validate":
		fs := newFlags("kb validate", stderr)
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 1 {
			return errUsage("kb validate takes at most one directory")
		}
		dir := kbDir(fs.Arg(0), getenv)
		kb, err := loadKB(dir)
		if err != nil {
			var le *knowledge.LoadError
			if errors.As(err, &le) {
				for _, p := range le.Problems {
					fmt.Fprintln(stdout, p)
				}
				return exitError{code: 1, msg: fmt.Sprintf("knowledge base has %d error(s)", countErrors(le.Problems))}
			}
			return err
		}
		for _, p := range kb.Warnings {
			fmt.Fprintln(stdout, p)
		}
		name := dir
		if name == "" {
			name = "embedded knowledge base"
		}
		fmt.Fprintf(stdout, "%s: ok, %d entries, version %s, %d warning(s)\n", name, len(kb.Entries), kb.Version, len(kb.Warnings))
		return nil
	case "export":
		fs := newFlags("kb export", stderr)
		force := fs.Bool("force", false, "overwrite files that already exist")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errUsage("kb export needs exactly one directory")
		}
		written, err := knowledge.Export(knowledge.Embedded(), fs.Arg(0), *force)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d files to %s\n", len(written), fs.Arg(0))
		return nil
	}
	return errUsage("unknown kb subcommand %q: use validate or export", args[0])
}

func countErrors(ps []knowledge.Problem) int {
	n := 0
	for _, p := range ps {
		if !p.Warning {
			n++
		}
	}
	return n
}
