package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/scobot/scobot/bot"
)

// discardLog is the query log of `ask --no-log`: it records nothing.
type discardLog struct{}

func (discardLog) Record(bot.Query) error            { return nil }
func (discardLog) RecordFeedback(bot.Feedback) error { return nil }
func (discardLog) RecordAdmin(bot.AdminAction) error { return nil }

var _ bot.QueryLog = discardLog{}

func runAsk(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := newFlags("ask", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per answer")
	dir := fs.String("kb", "", "knowledge base `directory` (default: SCOBOT_KB_DIR, else the embedded one)")
	noLog := fs.Bool("no-log", false, "do not record the questions in the query log")
	lf := addLogFlags(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kb, err := loadKB(kbDir(*dir, getenv))
	if err != nil {
		return err
	}
	var log bot.QueryLog = discardLog{}
	if !*noLog {
		db, oerr := lf.open(getenv, newLogger(stderr))
		if oerr != nil {
			return oerr
		}
		// Close drains the log's queue: every question answered is recorded, also
		// when an interrupt ends the command.
		defer func() {
			if cerr := db.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close query log: %w", cerr)
			}
		}()
		log = db
	}
	holder := &bot.KBHolder{}
	holder.Store(kb)
	core, err := bot.NewCore(bot.Config{KB: holder, Log: log, Logger: newLogger(stderr)})
	if err != nil {
		return err
	}
	user := getenv("USER")
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	answer := func(q string) error {
		r := core.Handle(ctx, bot.Message{Platform: bot.PlatformCLI, User: user, Text: q})
		if *asJSON {
			b, err := json.Marshal(bot.NewAnswerJSON(r))
			if err != nil {
				return fmt.Errorf("encode answer: %w", err)
			}
			w.Write(b)
			w.WriteByte('\n')
		} else {
			printAnswer(w, r)
		}
		return w.Flush() // answer each question as it comes, not at the end
	}
	if fs.NArg() > 0 {
		return answer(strings.Join(fs.Args(), " "))
	}
	return eachLine(ctx, stdin, func(line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		return answer(line)
	})
}

// maxLine is the most of one input line that ask keeps; the matcher reads far less, and
// a cap keeps a runaway input from using unbounded memory.
const maxLine = 64 << 10

// eachLine calls fn with every line of r, cut to maxLine bytes, until r ends or ctx is
// done. Reading happens in its own goroutine, so an interrupt is noticed at once even
// while the reader blocks on a terminal or a pipe.
func eachLine(ctx context.Context, r io.Reader, fn func(string) error) error {
	type result struct {
		line string
		end  bool // the input has ended; err says why when it is not EOF
		err  error
	}
	lines := make(chan result)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		br := bufio.NewReaderSize(r, 4096)
		var line []byte
		for {
			chunk, err := br.ReadSlice('\n')
			if len(line) < maxLine {
				line = append(line, chunk[:min(len(chunk), maxLine-len(line))]...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if len(line) > 0 {
				select {
				case lines <- result{line: strings.TrimRight(string(line), "\r\n")}:
				case <-stop:
					return
				}
			}
			line = line[:0]
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				select {
				case lines <- result{end: true, err: err}:
				case <-stop:
				}
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case res := <-lines:
			if res.err != nil {
				return fmt.Errorf("read questions: %w", res.err)
			}
			if res.end {
				return nil
			}
			if err := fn(res.line); err != nil {
				return err
			}
		}
	}
}

func printAnswer(w io.Writer, r bot.Reply) {
	if a := r.Answer; a != nil {
		fmt.Fprintf(w, "%s\n\n%s\n\nSource: %s", a.Title, a.Body, a.SectionHeading)
		if a.Quote != "" {
			fmt.Fprintf(w, ": %q", a.Quote)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, r.Text)
	}
	if len(r.Suggestions) > 0 {
		if r.Answer != nil {
			fmt.Fprintln(w, "\nOr did you mean:")
		} else {
			fmt.Fprintln(w, "Did you mean:")
		}
		for _, s := range r.Suggestions {
			fmt.Fprintf(w, "  - %s (%s, %.2f)\n", s.Title, s.ID, s.Score)
		}
	}
	if r.Why != "" {
		fmt.Fprintf(w, "(why: %s)\n", r.Why)
	}
	fmt.Fprintln(w)
}
