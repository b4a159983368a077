package slack

import (
	"sync"
	"time"
)

// dedupe remembers ids it has seen, for ttl and at most max of them, so a redelivered
// event is handled once while memory stays bounded. When more than max ids arrive within
// ttl the oldest are forgotten first: a flood can let a very late retry through, but
// can never exhaust memory.
type dedupe struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	seen  map[string]time.Time
	order []seenID // oldest first, from head on
	head  int
}

type seenID struct {
	id string
	at time.Time
}

func newDedupe(ttl time.Duration, max int) *dedupe {
	return &dedupe{ttl: ttl, max: max, seen: make(map[string]time.Time)}
}

// claim records id and reports whether it is new. The first caller of an id wins; a
// retry that arrives while the first delivery is still being handled loses.
func (d *dedupe) claim(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if _, ok := d.seen[id]; ok {
		return false
	}
	d.seen[id] = now
	d.order = append(d.order, seenID{id, now})
	return true
}

// forget releases a claimed id, so a later delivery of it is handled: used when the
// first delivery could not be queued and was refused, so that Slack's retry counts.
func (d *dedupe) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, id) // its entry in order is skipped when it expires
}

// len returns how many ids are remembered.
func (d *dedupe) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// expire drops ids older than ttl and, beyond max, the oldest. Called with mu held.
func (d *dedupe) expire(now time.Time) {
	for d.head < len(d.order) {
		e := d.order[d.head]
		if len(d.order)-d.head < d.max && now.Sub(e.at) < d.ttl {
			break
		}
		if at, ok := d.seen[e.id]; ok && at.Equal(e.at) {
			delete(d.seen, e.id)
		}
		d.order[d.head] = seenID{}
		d.head++
	}
	// Reclaim the dead prefix once it is half the slice, so order stays O(live ids).
	if d.head > 0 && d.head >= len(d.order)/2 {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = d.order[:n]
		d.head = 0
	}
}
