package storage

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log.db")
	tables := `SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)`
	version := func(t *testing.T) (v int) {
		t.Helper()
		if err := rawDB(t, path).QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("fresh", func(t *testing.T) {
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		record(t, db, testQuery(1))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if got := version(t); got != schemaVersion {
			t.Errorf("user_version = %d, want %d", got, schemaVersion)
		}
		var got string
		if err := rawDB(t, path).QueryRow(tables).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := "admin_actions,feedback,queries,state"; got != want {
			t.Errorf("tables = %s, want %s", got, want)
		}
	})

	t.Run("reopen is idempotent", func(t *testing.T) {
		for range 2 {
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("reopen = %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if got := version(t); got != schemaVersion {
			t.Errorf("user_version = %d, want %d", got, schemaVersion)
		}
		if n := count(t, rawDB(t, path), `SELECT count(*) FROM queries`); n != 1 {
			t.Errorf("%d queries after reopening, want 1", n)
		}
	})

	t.Run("newer schema is refused untouched", func(t *testing.T) {
		newer := schemaVersion + 4
		w := rawDBWritable(t, path)
		if _, err := w.Exec(`PRAGMA user_version = ` + itoa(newer)); err != nil {
			t.Fatal(err)
		}
		w.Close()
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// An old mtime, so any write would show even within the clock's resolution.
		old := time.Now().Add(-time.Hour).Truncate(time.Second)
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		_, err = Open(path, Options{})
		if err != nil && strings.Contains(err.Error(), "newer scobot") {
			t.Logf("Open: %v", err)
		}
		wantErrContains(t, err, path, "newer scobot", "schema "+itoa(newer), "this one knows "+itoa(schemaVersion))
		after, rerr := os.ReadFile(path)
		st, serr := os.Stat(path)
		if rerr != nil || serr != nil {
			t.Fatal(rerr, serr)
		}
		if !bytes.Equal(before, after) || !st.ModTime().Equal(old) {
			t.Errorf("the file changed: bytes equal %v, mtime %v (was %v)", bytes.Equal(before, after), st.ModTime(), old)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if _, err := os.Stat(path + suffix); err == nil {
				t.Errorf("%s%s left behind", path, suffix)
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []int
		wantErr string
	}{
		{"in order", fstest.MapFS{"migrations/0002_b.sql": file("B"), "migrations/0001_a.sql": file("A")}, []int{1, 2}, ""},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": file("A"), "migrations/0003_c.sql": file("C")}, nil, "want number 2"},
		{"bad name", fstest.MapFS{"migrations/1_a.sql": file("A")}, nil, "NNNN_name.sql"},
		{"no name", fstest.MapFS{"migrations/0001.sql": file("A")}, nil, "NNNN_name.sql"},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": file("A")}, nil, "NNNN_name.sql"},
		{"duplicate", fstest.MapFS{"migrations/0001_a.sql": file("A"), "migrations/0001_b.sql": file("B")}, nil, "want number 2"},
		{"none", fstest.MapFS{}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.fs)
			if tc.wantErr != "" {
				wantErrContains(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("versions = %v, want %v", got, tc.want)
			}
		})
	}
}

// closedLog returns the path of a closed log with some rows, its WAL folded in.
func closedLog(t *testing.T, rows int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		q := testQuery(i)
		q.Question = strings.Repeat("long question ", 20) + itoa(i%100)
		record(t, db, q)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("%s-wal still there after Close", path)
	}
	return path
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the path to open
		want  []string
	}{
		{"directory does not exist", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "missing", "log.db")
		}, []string{"directory", "does not exist"}},
		{"parent is a file", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			os.WriteFile(f, []byte("x"), 0o600)
			return filepath.Join(f, "log.db")
		}, []string{"is not a directory"}},
		{"path is a directory", func(t *testing.T) string {
			d := filepath.Join(t.TempDir(), "log.db")
			os.Mkdir(d, 0o700)
			return d
		}, []string{"is a directory"}},
		{"random bytes", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "log.db")
			b := make([]byte, 8192)
			rand.Read(b)
			os.WriteFile(p, b, 0o600)
			return p
		}, []string{"not a SQLite database"}},
		{"text file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "log.db")
			os.WriteFile(p, []byte("hello, this is not a database\n"), 0o600)
			return p
		}, []string{"not a SQLite database"}},
		{"truncated database", func(t *testing.T) string {
			p := closedLog(t, 2000)
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"corrupted", "truncated"}},
		{"corrupted schema page", func(t *testing.T) string {
			p := closedLog(t, 10)
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			junk := bytes.Repeat([]byte{0xA5}, 4096-100)
			f.WriteAt(junk, 100) // page 1 after the header: the schema table
			f.Close()
			return p
		}, []string{"corrupted"}},
		{"header with a bad page size", func(t *testing.T) string {
			p := closedLog(t, 1)
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			f.WriteAt([]byte{0x03, 0x00}, 16) // 768: not a power of two
			f.Close()
			return p
		}, []string{"corrupted", "page size"}},
		{"another application's database", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "log.db")
			db, _ := sql.Open("sqlite3", p)
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"not a scobot log"}},
		{"another application's id", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "log.db")
			db, _ := sql.Open("sqlite3", p)
			defer db.Close()
			if _, err := db.Exec(`PRAGMA application_id = 42; CREATE TABLE notes (text TEXT)`); err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"another application", "0x2a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.setup(t)
			db, err := Open(path, Options{})
			if err == nil {
				db.Close()
			}
			wantErrContains(t, err, append([]string{"open log " + path}, tc.want...)...)
		})
	}
}

func TestOpenEmptyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(empty file) = %v, want a new log", err)
	}
	db.Close()
}

// TestOpenReadOnlyDirectory opens a log in a directory that refuses new files. As root
// chmod does not stop writes, so there it uses /sys (sysfs refuses new files even to
// root), and skips only when neither way really refuses a write.
func TestOpenReadOnlyDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	refuses := func(d string) bool {
		f, err := os.CreateTemp(d, "probe-*")
		if err != nil {
			return true
		}
		f.Close()
		os.Remove(f.Name())
		return false
	}
	if !refuses(dir) {
		dir = "/sys"
		if st, err := os.Stat(dir); err != nil || !st.IsDir() || !refuses(dir) {
			t.Skip("running as root: chmod 0500 does not stop writes, and /sys is not a read-only directory here")
		}
	}
	path := filepath.Join(dir, "log.db")
	db, err := Open(path, Options{})
	if err == nil {
		db.Close()
	}
	wantErrContains(t, err, "open log "+path, "directory "+dir+" is not writable")
}

func TestOpenOddPath(t *testing.T) {
	t.Parallel()
	// Characters that mean something in a SQLite URI must reach the file system as is.
	path := filepath.Join(t.TempDir(), "we?ird %41 name#1.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	record(t, db, testQuery(1))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the log is not at %q: %v", path, err)
	}
	if got := db.Path(); got != path {
		t.Errorf("Path() = %q, want %q", got, path)
	}
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, bad := range []Options{{Synchronous: "OFF"}, {Retain: -time.Hour}} {
		_, err := Open(filepath.Join(dir, "bad.db"), bad)
		if err == nil {
			t.Errorf("Open(%+v) = nil error, want one", bad)
		}
	}
	for _, tc := range []struct {
		sync string
		want int
	}{{"", 1}, {"normal", 1}, {"FULL", 2}} {
		db, err := Open(filepath.Join(dir, "sync"+tc.sync+".db"), Options{Synchronous: tc.sync})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := db.w.QueryRow(`PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		var mode string
		db.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		var fk, auto int
		db.w.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
		db.w.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto)
		if got != tc.want || mode != "wal" || fk != 1 || auto != 0 {
			t.Errorf("Synchronous %q: synchronous=%d journal_mode=%s foreign_keys=%d wal_autocheckpoint=%d; want %d, wal, 1, 0",
				tc.sync, got, mode, fk, auto, tc.want)
		}
		var ro, mmap int
		db.r.QueryRow(`PRAGMA query_only`).Scan(&ro)
		db.r.QueryRow(`PRAGMA mmap_size`).Scan(&mmap)
		if ro != 1 || mmap != 1<<30 {
			t.Errorf("read pool query_only = %d, mmap_size = %d; want 1, %d", ro, mmap, 1<<30)
		}
		db.Close()
	}
}
