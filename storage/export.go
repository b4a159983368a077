package storage

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// exportColumns are the CSV header and the JSON field names, in order.
var exportColumns = []string{
	"id", "time", "platform", "workspace", "chat", "user", "question", "answered",
	"entry_id", "section", "score", "suggestions", "kb_version", "latency_us",
}

// exportRow is one query as Export writes it as a JSON line.
type exportRow struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Platform    string    `json:"platform"`
	Workspace   string    `json:"workspace"`
	Chat        string    `json:"chat"`
	User        string    `json:"user"`
	Question    string    `json:"question"`
	Answered    bool      `json:"answered"`
	EntryID     string    `json:"entry_id"`
	Section     string    `json:"section"`
	Score       float64   `json:"score"`
	Suggestions []string  `json:"suggestions"`
	KBVersion   string    `json:"kb_version"`
	LatencyUS   int64     `json:"latency_us"`
}

// Export writes the queries logged since the given time (zero: all), oldest first, to
// w as "csv" (a header row, then one row per query) or "jsonl" (one JSON object per
// line, snake_case fields). It streams: one row is in memory at a time, read from the
// read pool, so the writer goes on while a large export runs.
//
// User and chat ids are exported as stored, hashed when a salt is set. In CSV the
// suggestions column is the JSON array, and a text field that a spreadsheet would run
// as a formula (it starts with =, +, -, @, tab or CR) gets a leading apostrophe, as
// does one that starts with an apostrophe, so the guard can be undone exactly: drop
// one leading apostrophe. JSON lines carry the text unchanged.
func (d *DB) Export(ctx context.Context, w io.Writer, format string, since time.Time) error {
	if format != "csv" && format != "jsonl" {
		return fmt.Errorf("export: format %q: want csv or jsonl", format)
	}
	if d.isClosed() {
		return ErrClosed
	}
	rows, err := d.r.QueryContext(ctx, `SELECT id, time, platform, workspace, chat, user, question, answered,
		entry_id, section, score, suggestions, kb_version, latency_us
		FROM queries INDEXED BY queries_time WHERE day >= ? AND time >= ? ORDER BY day, time`,
		dayOf(sinceMicros(since)), sinceMicros(since))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rows.Close()

	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	var enc *json.Encoder
	if format == "csv" {
		cw = csv.NewWriter(bw)
		if err := cw.Write(exportColumns); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	} else {
		enc = json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
	}
	var r exportRow
	var us int64
	var answered int
	var sugg string
	record := make([]string, len(exportColumns))
	for rows.Next() {
		if err := rows.Scan(&r.ID, &us, &r.Platform, &r.Workspace, &r.Chat, &r.User, &r.Question, &answered,
			&r.EntryID, &r.Section, &r.Score, &sugg, &r.KBVersion, &r.LatencyUS); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		r.Time = time.UnixMicro(us).UTC()
		r.Answered = answered != 0
		if cw != nil {
			record[0], record[1], record[2] = r.ID, r.Time.Format(time.RFC3339Nano), csvText(r.Platform)
			record[3], record[4], record[5] = csvText(r.Workspace), csvText(r.Chat), csvText(r.User)
			record[6], record[7], record[8] = csvText(r.Question), strconv.FormatBool(r.Answered), csvText(r.EntryID)
			record[9], record[10], record[11] = csvText(r.Section), strconv.FormatFloat(r.Score, 'g', -1, 64), sugg
			record[12], record[13] = csvText(r.KBVersion), strconv.FormatInt(r.LatencyUS, 10)
			if err := cw.Write(record); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			continue
		}
		r.Suggestions = r.Suggestions[:0]
		if err := json.Unmarshal([]byte(sugg), &r.Suggestions); err != nil {
			return fmt.Errorf("export: query %s: suggestions: %w", r.ID, err)
		}
		if err := enc.Encode(&r); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if cw != nil {
		if cw.Flush(); cw.Error() != nil {
			return fmt.Errorf("export: %w", cw.Error())
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// csvText guards a text field against spreadsheet formula injection (questions are
// typed by anyone): a field that starts with =, +, -, @, tab or CR, or with the
// apostrophe used as the guard, gets a leading apostrophe.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return "'" + s
	}
	return s
}
