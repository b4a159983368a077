package bot

import "github.com/google/uuid"

// NewQueryID returns a new time-ordered query id: a UUIDv7, whose first 48 bits are the
// Unix time in milliseconds, so ids sort by time as strings and need no database round
// trip. It is 36 bytes, short enough for Telegram's 64-byte callback data.
func NewQueryID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a random v4 id still
		// identifies the query, it just does not sort by time.
		return uuid.NewString()
	}
	return id.String()
}
