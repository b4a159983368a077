package storage

import (
	"context"
	"path/filepath"
	"testing"
)

func TestState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.State(ctx, "telegram.offset"); ok || err != nil {
		t.Errorf("State(missing) = ok %v, err %v; want not ok, no error", ok, err)
	}
	for _, v := range []string{"41", "42"} {
		if err := db.SetState(ctx, "telegram.offset", v); err != nil {
			t.Fatalf("SetState: %v", err)
		}
	}
	if err := db.SetState(ctx, "", "x"); err == nil {
		t.Errorf("SetState with an empty key: no error")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, ok, err := db.State(ctx, "telegram.offset")
	if v != "42" || !ok || err != nil {
		t.Errorf("State after reopen = %q, %v, %v; want \"42\", true, nil", v, ok, err)
	}
}
