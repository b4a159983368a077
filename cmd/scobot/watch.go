package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch reloads the knowledge base when its directory changes. Editors save by writing
// a temporary file and renaming it, and tools copy many files at once, so events are
// debounced: the reload happens once the directory has been quiet for debounce.
func (r *kbReloader) watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch knowledge base: %w", err)
	}
	defer w.Close()
	if err := w.Add(r.dir); err != nil {
		return fmt.Errorf("watch knowledge base %s: %w", r.dir, err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod || ignoredName(filepath.Base(ev.Name)) {
				continue
			}
			pending = true
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("knowledge base watcher", "err", err)
		case <-timer.C:
			if pending {
				pending = false
				r.reloadAndRecord(ctx, "watch")
			}
		}
	}
}

// ignoredName reports files that are not part of a knowledge base: editors' swap and
// backup files. Their churn must not trigger reloads. Names starting with ".." are not
// ignored: a Kubernetes ConfigMap volume updates by swapping its "..data" symlink.
func ignoredName(name string) bool {
	if strings.HasPrefix(name, "..") {
		return false
	}
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".tmp")
}
