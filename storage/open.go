package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema, one numbered file per version: 0001_init.sql, ...
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a scobot log ("SCBO"), set by 0001_init.sql.
const applicationID = 0x5343424F

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded schema steps in order; init checks they number 1..n.
var migrations = mustLoadMigrations(migrationFS)

// schemaVersion is the newest schema this binary knows.
var schemaVersion = len(migrations)

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

// loadMigrations reads migrations/NNNN_name.sql and checks that the numbers run 1, 2,
// 3... without gaps, so a missing or misnumbered file fails every test at once.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		v, err := parseMigrationName(base)
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// parseMigrationName returns the version of "0007_add_thing.sql".
func parseMigrationName(name string) (int, error) {
	num, _, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || v <= 0 || len(num) != 4 {
		return 0, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
	}
	return v, nil
}

// Open opens the query log at path, creating the file and applying the schema as
// needed, and starts the writer (and, with Options.Retain, the purge loop). Its errors
// name the path and say what is wrong with it: a missing or read-only directory, a file
// that is not a SQLite database or is corrupted, a schema newer than this binary.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open log: empty path")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	uri := "file:" + escapeURIPath(abs)
	busy := "_busy_timeout=" + strconv.FormatInt(opts.busyTimeout.Milliseconds(), 10)

	// Look before touching: a query-only connection that sets no journal mode reads the
	// schema version, so a newer or foreign database is refused unmodified.
	if err := probe(path, uri+"?_query_only=1&"+busy); err != nil {
		return nil, err
	}

	d := &DB{
		path:       path,
		opts:       opts,
		log:        opts.Logger,
		queue:      make(chan item, opts.QueueSize),
		writerDone: make(chan struct{}),
		rowBatch:   make([]item, 0, opts.BatchSize),
	}
	if len(opts.UserSalt) > 0 {
		d.mac = hmac.New(sha256.New, opts.UserSalt)
	}
	fail := func(err error) (*DB, error) {
		d.ins.close()
		if d.r != nil {
			d.r.Close()
		}
		if d.w != nil {
			d.w.Close()
		}
		return nil, err
	}

	// The writer: one connection for the life of the DB, every transaction BEGIN
	// IMMEDIATE so it takes the write lock up front (a deferred transaction that upgrades
	// gets SQLITE_BUSY without the busy handler). No cache=shared: it brings "database
	// table is locked" errors that busy_timeout does not handle.
	d.w, err = sql.Open(writerDriver, uri+"?_journal_mode=WAL&"+busy+
		"&_txlock=immediate&_foreign_keys=on&_synchronous="+opts.Synchronous+"&_cache_size=-8192")
	if err != nil {
		return fail(fmt.Errorf("open log %s: %w", path, err))
	}
	d.w.SetMaxOpenConns(1)
	d.w.SetMaxIdleConns(1)
	d.w.SetConnMaxLifetime(0)
	d.w.SetConnMaxIdleTime(0)
	if err := d.w.Ping(); err != nil {
		return fail(openError(path, err))
	}
	if err := migrate(d.w, path); err != nil {
		return fail(err)
	}

	// The read pool: query-only, so a bug cannot write behind the writer's back.
	d.r, err = sql.Open(readerDriver, uri+"?_query_only=1&"+busy+"&_cache_size=-4096")
	if err != nil {
		return fail(fmt.Errorf("open log %s: %w", path, err))
	}
	d.r.SetMaxOpenConns(opts.ReadConns)
	d.r.SetMaxIdleConns(opts.ReadConns)
	d.r.SetConnMaxIdleTime(5 * time.Minute)
	if err := d.r.Ping(); err != nil {
		return fail(openError(path, err))
	}

	if err := d.prepare(); err != nil {
		return fail(fmt.Errorf("open log %s: %w", path, err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	d.stopBG = cancel
	go d.run()
	if opts.Retain > 0 {
		d.bg.Add(1)
		go d.retain(ctx)
	}
	return d, nil
}

// escapeURIPath escapes the characters that would end or garble the path part of a
// SQLite URI filename ("file:PATH?params"): %, ? and #.
func escapeURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

// sqliteHeader is the first bytes of every SQLite 3 database file.
const sqliteHeader = "SQLite format 3\x00"

// checkFile looks at path before SQLite does, so the common mistakes get errors that
// say what is wrong instead of SQLite's "unable to open database file".
func checkFile(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("open log %s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("open log %s: %w", path, err)
	case !st.IsDir():
		return fmt.Errorf("open log %s: %s is not a directory", path, dir)
	}
	// SQLite creates the -wal and -shm files beside the database, so the directory
	// must be writable even when the file already exists. Try it rather than read
	// permission bits, which do not tell the truth for root or read-only mounts.
	f, err := os.CreateTemp(dir, ".scobot-write-test-*")
	if err != nil {
		return fmt.Errorf("open log %s: directory %s is not writable: %w", path, dir, err)
	}
	f.Close()
	os.Remove(f.Name())

	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new log
	}
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return fmt.Errorf("open log %s: is a directory", path)
		}
		return fmt.Errorf("open log %s: file is not writable: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open log %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil // SQLite treats an empty file as a new database
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:16]) != sqliteHeader {
		return fmt.Errorf("open log %s: file is not a SQLite database", path)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("open log %s: database file is corrupted (page size %d)", path, pageSize)
	}
	// The header's page count is valid when its "version-valid-for" matches the change
	// counter. A shorter file was truncated. Skip this when a WAL is present: a crash
	// during a checkpoint may leave the main file short until recovery completes it.
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		return nil
	}
	changes, validFor := binary.BigEndian.Uint32(h[24:28]), binary.BigEndian.Uint32(h[92:96])
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if validFor == changes && pages > 0 && fi.Size() < pages*pageSize {
		return fmt.Errorf("open log %s: database file is corrupted (truncated: %d of %d bytes)",
			path, fi.Size(), pages*pageSize)
	}
	return nil
}

// probe opens the file with a query-only connection and refuses what Open must not
// touch: a database of a newer scobot, of another application, or not a database.
// The ping also makes a CGO_ENABLED=0 build fail here, with a message that says so.
func probe(path, dsn string) error {
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return fmt.Errorf("open log %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		return openError(path, err)
	}
	var version, appID, tables int
	err = db.QueryRow(`SELECT (SELECT user_version FROM pragma_user_version),
		(SELECT application_id FROM pragma_application_id),
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table')`).Scan(&version, &appID, &tables)
	if err != nil {
		return openError(path, err)
	}
	switch {
	case appID != 0 && appID != applicationID:
		return fmt.Errorf("open log %s: the file is a SQLite database of another application (application_id %#x)", path, appID)
	case version == 0 && tables > 0:
		return fmt.Errorf("open log %s: the file is a SQLite database but not a scobot log (it has tables and no schema version)", path)
	case version > schemaVersion:
		return fmt.Errorf("database %s was written by a newer scobot (schema %d, this one knows %d)", path, version, schemaVersion)
	}
	return nil
}

// openError wraps an error from opening or first reading the file with the path and,
// for the errors people meet, what it means.
func openError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "CGO_ENABLED=0"):
		return fmt.Errorf("open log %s: this binary was built without cgo; the SQLite driver needs CGO_ENABLED=1 and a C compiler: %w", path, err)
	case isCode(err, codeNotADB):
		return fmt.Errorf("open log %s: file is not a SQLite database: %w", path, err)
	case isCode(err, codeCorrupt):
		return fmt.Errorf("open log %s: database file is corrupted: %w", path, err)
	}
	return fmt.Errorf("open log %s: %w", path, err)
}

// migrate applies the migrations the file lacks, each in its own transaction together
// with PRAGMA user_version, so a crash leaves the file at one version or the next.
func migrate(db *sql.DB, path string) error {
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return openError(path, err)
	}
	if version > schemaVersion { // written between probe and now
		return fmt.Errorf("database %s was written by a newer scobot (schema %d, this one knows %d)", path, version, schemaVersion)
	}
	for _, m := range migrations[version:] {
		if err := applyMigration(db, m); err != nil {
			return openError(path, fmt.Errorf("migrate to %s: %w", m.name, err))
		}
	}
	return nil
}

func applyMigration(db *sql.DB, m migration) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(m.sql); err != nil {
		return err
	}
	if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, m.version)); err != nil {
		return err
	}
	return tx.Commit()
}
