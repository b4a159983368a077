package storage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scobot/scobot/bot"
)

// hashed is what the log stores for a user or chat id.
func hashed(salt []byte, id string) string {
	if salt == nil || id == "" {
		return id
	}
	h := hmac.New(sha256.New, salt)
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// exported is a query as the tests expect Export to write it.
func exported(salt []byte, q bot.Query) exportRow {
	answered := q.Answered
	sugg := q.Suggestions
	if sugg == nil {
		sugg = []string{}
	}
	return exportRow{
		ID: q.ID, Time: q.Time.UTC().Truncate(time.Microsecond), Platform: string(q.Platform), Workspace: q.Workspace,
		Chat: hashed(salt, q.Chat), User: hashed(salt, q.User), Question: capQuestion(q.Question), Answered: answered,
		EntryID: q.EntryID, Section: q.Section, Score: q.Score, Suggestions: sugg, KBVersion: q.KBVersion,
		LatencyUS: q.Latency.Microseconds(),
	}
}

// parseJSONL reads Export's JSON lines.
func parseJSONL(t testing.TB, data []byte) []exportRow {
	t.Helper()
	var rows []exportRow
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r exportRow
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// unguard undoes Export's CSV formula guard.
func unguard(s string) string { return strings.TrimPrefix(s, "'") }

// parseCSV reads Export's CSV back into rows.
func parseCSV(t testing.TB, data []byte) []exportRow {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if len(recs) == 0 || !reflect.DeepEqual(recs[0], exportColumns) {
		t.Fatalf("csv header = %q, want %q", recs[:min(1, len(recs))], exportColumns)
	}
	var rows []exportRow
	for _, rec := range recs[1:] {
		var r exportRow
		var err1, err2, err3, err4, err5 error
		r.ID = rec[0]
		r.Time, err1 = time.Parse(time.RFC3339Nano, rec[1])
		r.Platform, r.Workspace, r.Chat, r.User, r.Question = unguard(rec[2]), unguard(rec[3]), unguard(rec[4]), unguard(rec[5]), unguard(rec[6])
		r.Answered, err2 = strconv.ParseBool(rec[7])
		r.EntryID, r.Section = unguard(rec[8]), unguard(rec[9])
		r.Score, err3 = strconv.ParseFloat(rec[10], 64)
		err4 = json.Unmarshal([]byte(rec[11]), &r.Suggestions)
		r.KBVersion = unguard(rec[12])
		r.LatencyUS, err5 = strconv.ParseInt(rec[13], 10, 64)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			t.Fatalf("csv record %q: %v", rec, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// export runs Export into a buffer.
func export(t testing.TB, db *DB, format string, since time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := db.Export(context.Background(), &buf, format, since); err != nil {
		t.Fatalf("Export(%s) = %v", format, err)
	}
	return buf.Bytes()
}

func TestExport(t *testing.T) {
	t.Parallel()
	salt := []byte("s")
	db, _, _ := openTest(t, Options{UserSalt: salt})
	base := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	questions := []string{
		"How do I reset my password?",
		`He said "hi", then left`,
		"line one\nline two",
		"=HYPERLINK(\"http://evil\")",
		"'quoted",
		"-1+1",
		"@admin",
		"caf\xe9 \xff invalid",
		"日本語の質問",
		strings.Repeat("x", bot.MaxQuestionLen+5),
	}
	var want []exportRow
	for i, text := range questions {
		q := testQuery(i)
		q.Question = text
		q.Time = base.Add(time.Duration(i)*time.Minute + 1234*time.Nanosecond)
		record(t, db, q)
		want = append(want, exported(salt, q))
	}
	flush(t, db)

	t.Run("jsonl", func(t *testing.T) {
		got := parseJSONL(t, export(t, db, "jsonl", time.Time{}))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("jsonl rows:\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("csv", func(t *testing.T) {
		data := export(t, db, "csv", time.Time{})
		if !bytes.Contains(data, []byte(`'=HYPERLINK`)) {
			t.Errorf("a formula was not guarded:\n%s", data)
		}
		got := parseCSV(t, data)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("csv rows:\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("since", func(t *testing.T) {
		since := base.Add(7 * time.Minute)
		got := parseJSONL(t, export(t, db, "jsonl", since))
		if !reflect.DeepEqual(got, want[7:]) {
			t.Errorf("rows since %v:\n got %+v\nwant %+v", since, got, want[7:])
		}
		if got := parseCSV(t, export(t, db, "csv", base.AddDate(1, 0, 0))); len(got) != 0 {
			t.Errorf("rows in the future: %+v", got)
		}
	})
	t.Run("bad format", func(t *testing.T) {
		var buf bytes.Buffer
		err := db.Export(context.Background(), &buf, "xml", time.Time{})
		wantErrContains(t, err, `"xml"`, "csv or jsonl")
		if buf.Len() != 0 {
			t.Errorf("wrote %d bytes for a bad format", buf.Len())
		}
	})
}

// countingWriter counts writes and fails after failAfter of them (0: never).
type countingWriter struct {
	writes, failAfter int
	n                 int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.n += len(p)
	if w.failAfter > 0 && w.writes >= w.failAfter {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestExportStreams checks that Export writes as it reads, not at the end, and stops
// at the first write error.
func TestExportStreams(t *testing.T) {
	t.Parallel()
	db, _, _ := openTest(t, Options{})
	for i := range 3000 {
		q := testQuery(i)
		q.Question = fmt.Sprintf("%d %s", i, strings.Repeat("padding ", 40))
		record(t, db, q)
	}
	flush(t, db)
	for _, format := range []string{"csv", "jsonl"} {
		w := &countingWriter{}
		if err := db.Export(context.Background(), w, format, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if w.writes < 10 {
			t.Errorf("%s: %d writes for %d bytes, want many: Export should stream", format, w.writes, w.n)
		}
		failing := &countingWriter{failAfter: 2}
		err := db.Export(context.Background(), failing, format, time.Time{})
		if err == nil || !strings.Contains(err.Error(), "disk full") || failing.writes != 2 {
			t.Errorf("%s to a failing writer: err %v after %d writes; want disk full after 2", format, err, failing.writes)
		}
	}
}

var _ io.Writer = (*countingWriter)(nil)
