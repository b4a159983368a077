package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scobot/scobot/bot"
)

// SetState stores a named value durably, after every record queued before it: when it
// returns nil, the value and those records are committed. The Telegram adapter keeps
// its last handled update id here.
func (d *DB) SetState(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("set state: empty key")
	}
	_, err := d.do(ctx, &op{kind: opSetState, key: key, value: value})
	return err
}

// State returns a named value stored by SetState; ok is false when there is none.
func (d *DB) State(ctx context.Context, key string) (value string, ok bool, err error) {
	err = d.r.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read state %s: %w", key, err)
	}
	return value, true, nil
}

// BotStats is Stats in the shape the bot core asks for it.
func (d *DB) BotStats(ctx context.Context, since time.Time, limit int) (*bot.Stats, error) {
	return d.Stats(ctx, StatsOptions{Since: since, Limit: limit})
}

var (
	_ bot.QueryLog    = (*DB)(nil)
	_ bot.StatsSource = (*DB)(nil)
)
