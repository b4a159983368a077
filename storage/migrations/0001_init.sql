-- 0001_init: the query log, the votes on its answers and the admin actions.
--
-- Times are Unix microseconds (UTC) so that range filters and ORDER BY compare integers.
-- Columns computed in Go at insert time, so the stats can GROUP BY an index instead of
-- sorting a million computed values:
--   day            the UTC day number (time / 86400 s);
--   question_norm  the question lowercased, spaces collapsed, punctuation trimmed at the ends;
--   question_key   a 64-bit FNV-1a hash of question_norm, which "most asked" groups by;
--   latency_bucket a log-scale bucket of latency_us (8 per power of two, 12.5% wide).
--
-- Insert cost decides the indexes. A B-tree insert at a random position dirties its own
-- page, and every dirty page is one more WAL frame per commit, so each index whose key
-- order is not (mostly) time order costs about one page write per row. Only
-- queries_question is such an index, and it holds an 8-byte key instead of the text:
-- a third of the size, so fewer pages per batch and cheaper compares (BenchmarkRecord
-- went from about 50,000 to 62,000 queries/s). The others append at the end of a few
-- key ranges (one per day, platform, entry or latency bucket), where a batch of rows
-- shares pages. That is why there is no index on user: ForgetUser, rare, scans the
-- tables in rowid chunks.

PRAGMA application_id = 1396916815; -- "SCBO": lets Open tell a scobot log from another app's database

CREATE TABLE queries (
	id             TEXT    NOT NULL PRIMARY KEY, -- UUIDv7 from bot.NewQueryID: time-ordered
	time           INTEGER NOT NULL,             -- Unix microseconds, UTC
	day            INTEGER NOT NULL,             -- days since 1970-01-01, UTC
	platform       TEXT    NOT NULL,
	workspace      TEXT    NOT NULL,
	chat           TEXT    NOT NULL,             -- keyed hash when a user salt is set
	user           TEXT    NOT NULL,             -- keyed hash when a user salt is set
	question       TEXT    NOT NULL,             -- valid UTF-8, at most bot.MaxQuestionLen bytes
	question_norm  TEXT    NOT NULL,
	question_key   INTEGER NOT NULL,             -- FNV-1a 64 of question_norm
	answered       INTEGER NOT NULL,             -- 0 or 1
	entry_id       TEXT    NOT NULL,
	section        TEXT    NOT NULL,
	score          REAL    NOT NULL,
	suggestions    TEXT    NOT NULL,             -- JSON array of entry ids
	kb_version     TEXT    NOT NULL,
	latency_us     INTEGER NOT NULL,
	latency_bucket INTEGER NOT NULL
) STRICT;

-- Each stats query reads one of these as a covering index, in GROUP BY order (see
-- stats.go; TestStatsQueryPlans checks the plans, BenchmarkStats times them).
CREATE INDEX queries_time     ON queries (day, time, answered);          -- total, by day, export, purge
CREATE INDEX queries_platform ON queries (platform, time);               -- by platform
CREATE INDEX queries_question ON queries (question_key, answered, time); -- most asked, unanswered
CREATE INDEX queries_entry    ON queries (entry_id, section, time) WHERE answered = 1; -- entries, sections
CREATE INDEX queries_latency  ON queries (latency_bucket, time, latency_us); -- percentiles

CREATE TABLE feedback (
	query_id TEXT    NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
	user     TEXT    NOT NULL,
	platform TEXT    NOT NULL,
	vote     INTEGER NOT NULL CHECK (vote IN (-1, 1)),
	time     INTEGER NOT NULL,                   -- when the (last) vote was cast
	entry_id TEXT    NOT NULL,                   -- copied from the query: votes per entry need no join
	PRIMARY KEY (query_id, user)
) STRICT;

CREATE INDEX feedback_entry ON feedback (entry_id, time, vote); -- votes per entry
CREATE INDEX feedback_time  ON feedback (time);                  -- purge

CREATE TABLE admin_actions (
	time       INTEGER NOT NULL,
	platform   TEXT    NOT NULL,
	user       TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	result     TEXT    NOT NULL,
	kb_version TEXT    NOT NULL
) STRICT;

CREATE INDEX admin_actions_time ON admin_actions (time);
