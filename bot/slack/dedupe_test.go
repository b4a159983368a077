package slack

import (
	"strconv"
	"testing"
	"time"
)

func TestDedupe(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	d := newDedupe(time.Hour, 3)
	steps := []struct {
		id   string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", time.Minute, false},      // a retry
		{"b", time.Minute, true},       //
		{"a", 59 * time.Minute, false}, // still within the hour
		{"c", 59 * time.Minute, true},
		{"d", 59 * time.Minute, true},  // the fourth id: the oldest (a) is forgotten
		{"a", 59 * time.Minute, true},  // and now b is
		{"d", 59 * time.Minute, false}, //
		{"c", 3 * time.Hour, true},     // everything expired
	}
	for i, s := range steps {
		if got := d.claim(s.id, now.Add(s.at)); got != s.want {
			t.Errorf("step %d: claim(%q) at +%v: got %v, want %v", i, s.id, s.at, got, s.want)
		}
	}
	if got, want := d.len(), 1; got != want {
		t.Errorf("remembered: got %d, want %d", got, want)
	}
	d.forget("c")
	if !d.claim("c", now.Add(3*time.Hour)) {
		t.Error("a forgotten id should be claimable again")
	}
}

// TestDedupeBounded: memory stays bounded under a flood of distinct ids.
func TestDedupeBounded(t *testing.T) {
	d := newDedupe(time.Hour, 1000)
	now := time.Now()
	for i := range 100_000 {
		d.claim(strconv.Itoa(i), now)
	}
	if got := d.len(); got > 1000 {
		t.Errorf("remembered: got %d, want at most 1000", got)
	}
	if got := len(d.order) - d.head; got > 1000 {
		t.Errorf("order: got %d live entries, want at most 1000", got)
	}
	if got := cap(d.order); got > 4000 {
		t.Errorf("order capacity: got %d, want it reclaimed", got)
	}
}
