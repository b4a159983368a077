package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scobot/scobot/bot"
	"github.com/scobot/scobot/knowledge"
	"github.com/scobot/scobot/storage"
)

// askJSON is one line of `scobot ask --json`. The field set is fixed: scripts rely on it.
type askJSON struct {
	Question    string           `json:"question"`
	Answered    bool             `json:"answered"`
	ID          string           `json:"id"`
	Section     string           `json:"section"`
	Title       string           `json:"title"`
	Score       float64          `json:"score"`
	Answer      string           `json:"answer"`
	Suggestions []suggestionJSON `json:"suggestions"`
	Why         string           `json:"why"`
}

type suggestionJSON struct {
	ID      string  `json:"id"`
	Section string  `json:"section"`
	Title   string  `json:"title"`
	Score   float64 `json:"score"`
}

// round2 keeps scores readable and stable across platforms' float formatting.
func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}

func toJSON(a knowledge.Answer) askJSON {
	out := askJSON{
		Question:    a.Question,
		Answered:    a.Answered,
		Score:       round2(a.Score),
		Suggestions: []suggestionJSON{},
		Why:         a.Why.String(),
	}
	if a.Answered {
		out.ID, out.Section, out.Title, out.Answer = a.Entry.ID, a.Entry.Section, a.Entry.Title, a.Entry.Body
	}
	for _, s := range a.Suggestions {
		out.Suggestions = append(out.Suggestions, suggestionJSON{s.Entry.ID, s.Entry.Section, s.Entry.Title, round2(s.Score)})
	}
	return out
}

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
	var db *storage.DB
	if !*noLog {
		if db, err = lf.open(getenv, newLogger(stderr)); err != nil {
			return err
		}
		// Close drains the log's queue: every question answered is recorded, also
		// when an interrupt ends the command.
		defer func() {
			if cerr := db.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close query log: %w", cerr)
			}
		}()
	}
	user := getenv("USER")
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	answer := func(q string) error {
		start := time.Now()
		a := kb.Answer(q)
		if db != nil {
			if err := db.Record(queryRecord(bot.PlatformCLI, user, kb, a, time.Since(start))); err != nil {
				fmt.Fprintf(stderr, "scobot: record query: %v\n", err)
			}
		}
		if *asJSON {
			b, err := json.Marshal(toJSON(a))
			if err != nil {
				return fmt.Errorf("encode answer: %w", err)
			}
			w.Write(b)
			w.WriteByte('\n')
		} else {
			printAnswer(w, a)
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

func printAnswer(w io.Writer, a knowledge.Answer) {
	if !a.Answered {
		fmt.Fprintln(w, "The article doesn't cover that.")
	} else {
		e := a.Entry
		sec, _ := knowledge.SectionByID(e.Section)
		fmt.Fprintf(w, "%s\n\n%s\n\nSource: %s", e.Title, e.Body, sec.Heading)
		if e.Quote != "" {
			fmt.Fprintf(w, ": %q", e.Quote)
		}
		fmt.Fprintln(w)
	}
	if len(a.Suggestions) > 0 {
		if a.Answered {
			fmt.Fprintln(w, "\nOr did you mean:")
		} else {
			fmt.Fprintln(w, "Did you mean:")
		}
		for _, s := range a.Suggestions {
			fmt.Fprintf(w, "  - %s (%s, %.2f)\n", s.Entry.Title, s.Entry.ID, s.Score)
		}
	}
	fmt.Fprintf(w, "(why: %s)\n\n", a.Why)
}
