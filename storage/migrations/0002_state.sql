-- Small named values the bot keeps across restarts, such as the last Telegram update
-- it handled. One row per key; the writer goroutine is the only one that writes.
CREATE TABLE state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) WITHOUT ROWID;
