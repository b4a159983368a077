package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Environment switches that make the test binary run as a child process (see TestMain).
const (
	crashChildEnv    = "STORAGE_CRASH_CHILD"
	shutdownChildEnv = "STORAGE_SHUTDOWN_CHILD"
	noCgoChildEnv    = "STORAGE_NOCGO_CHILD"
	childPathEnv     = "STORAGE_CHILD_PATH"
	childRateEnv     = "STORAGE_CHILD_RATE" // queries per second; 0: as fast as possible
)

// seqID is the id of the i-th query a child records: ids sort like the sequence, so
// "the first n queries" is a range of ids.
func seqID(i int) string { return fmt.Sprintf("seq-%09d", i) }

// crashChild records queries until it is killed. A flusher goroutine repeatedly takes
// the number of queries recorded so far, flushes, and prints "committed N": those N
// must survive the kill. Every 10 queries it prints "enqueued N".
func crashChild() int {
	rate, _ := strconv.Atoi(os.Getenv(childRateEnv))
	db, err := Open(os.Getenv(childPathEnv), Options{EnqueueTimeout: time.Minute})
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	var recorded atomic.Int64
	go func() {
		for {
			n := recorded.Load()
			if err := db.Flush(context.Background()); err != nil {
				say("flush: %v", err)
				os.Exit(1)
			}
			say("committed %d", n)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	start := time.Now()
	for i := 0; ; i++ {
		if rate > 0 {
			if ahead := time.Duration(i)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		q := testQuery(i)
		q.ID = seqID(i)
		if err := db.Record(q); err != nil {
			say("record: %v", err)
			return 1
		}
		recorded.Store(int64(i + 1))
		if (i+1)%10 == 0 {
			say("enqueued %d", i+1)
		}
	}
}

// TestCrash kills a child process that records queries (kill -9) and checks that the
// file is intact and holds every query the child saw committed by Flush. It logs how
// many enqueued queries the kill lost: the crash window.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, tc := range []struct {
		name string
		rate int
	}{
		{"saturated", 0},    // the producer outruns the writer: the queue is full
		{"paced", 5000},     // 5,000 queries/s, a busy bot
		{"paced-slow", 500}, // 500 queries/s
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "crash.db")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"=1", childPathEnv+"="+path,
				childRateEnv+"="+strconv.Itoa(tc.rate))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var committed, enqueued, flushes int
			lines := bufio.NewScanner(stdout)
			deadline := time.Now().Add(400 * time.Millisecond)
			for lines.Scan() {
				line := lines.Text()
				if n, ok := strings.CutPrefix(line, "committed "); ok {
					committed, _ = strconv.Atoi(n)
					flushes++
				} else if n, ok := strings.CutPrefix(line, "enqueued "); ok {
					enqueued, _ = strconv.Atoi(n)
				} else {
					t.Fatalf("child: %s", line)
				}
				if flushes >= 5 && time.Now().After(deadline) {
					break
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// Lines printed before the kill may still be in the pipe.
			for lines.Scan() {
				if n, ok := strings.CutPrefix(lines.Text(), "committed "); ok {
					committed, _ = strconv.Atoi(n)
				} else if n, ok := strings.CutPrefix(lines.Text(), "enqueued "); ok {
					enqueued, _ = strconv.Atoi(n)
				}
			}
			io.Copy(io.Discard, stdout)
			cmd.Wait()
			if committed == 0 {
				t.Fatalf("the child reported no commit")
			}

			raw := rawDB(t, path)
			var check string
			if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
				t.Fatalf("integrity_check = %q, %v; want ok", check, err)
			}
			got := count(t, raw, `SELECT count(*) FROM queries WHERE id < ?`, seqID(committed))
			if got != committed {
				t.Errorf("after kill -9: %d of the %d queries reported committed are in the file", got, committed)
			}
			total := count(t, raw, `SELECT count(*) FROM queries`)
			raw.Close()
			seen := max(enqueued, committed)
			t.Logf("rate %d/s: %d reported committed, at least %d enqueued, %d found after kill -9: at least %d queued queries lost",
				tc.rate, committed, seen, total, max(0, seen-total))

			db, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("reopen after kill -9: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// shutdownChild records a burst from several goroutines and, on SIGTERM, calls Close
// while they are still recording, as the bot's signal handling does. It then prints
// how many records Record accepted: all of them must be in the file.
func shutdownChild() int {
	db, err := Open(os.Getenv(childPathEnv), Options{EnqueueTimeout: time.Minute})
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	var accepted, seq atomic.Int64
	var wg sync.WaitGroup
	ready := make(chan struct{})
	var readyOnce sync.Once
	for range 4 {
		wg.Go(func() {
			for {
				i := int(seq.Add(1) - 1)
				q := testQuery(i)
				q.ID = seqID(i)
				err := db.Record(q)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					fmt.Println("record:", err)
					os.Exit(1)
				}
				if accepted.Add(1) == 2000 {
					readyOnce.Do(func() { close(ready) })
				}
			}
		})
	}
	<-ready
	fmt.Println("ready")
	<-term
	if err := db.Close(); err != nil {
		fmt.Println("close:", err)
		return 1
	}
	wg.Wait()
	fmt.Printf("accepted %d dropped %d\n", accepted.Load(), db.Dropped())
	return 0
}

// TestShutdown sends SIGTERM to a child in the middle of a burst of records; its
// signal handler closes the log, and every record it accepted must be in the file.
func TestShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shutdown.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), shutdownChildEnv+"=1", childPathEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Process.Kill()
		t.Fatalf("child said %q, want ready", lines.Text())
	}
	time.Sleep(50 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var accepted, dropped int
	for lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "accepted %d dropped %d", &accepted, &dropped); err != nil {
			t.Errorf("child: %s", lines.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if accepted == 0 || dropped != 0 {
		t.Fatalf("child accepted %d records and dropped %d; want some and none", accepted, dropped)
	}
	raw := rawDB(t, path)
	if got := count(t, raw, `SELECT count(*) FROM queries`); got != accepted {
		t.Errorf("after SIGTERM: %d queries in the file, the child accepted %d", got, accepted)
	}
}

// noCgoChild runs in a test binary built with CGO_ENABLED=0 and checks that Open fails
// at once with an error that says how to fix the build.
func noCgoChild() int {
	dir, err := os.MkdirTemp("", "scobot-nocgo-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "log.db")
	_, err = Open(path, Options{})
	fmt.Println("open error:", err)
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=1") || !strings.Contains(err.Error(), path) {
		return 1
	}
	return 0
}

// TestOpenWithoutCgo builds this package's tests with CGO_ENABLED=0 (the package must
// still compile) and checks that Open then fails fast and says why.
func TestOpenWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package without cgo")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	t.Parallel()
	cmd := exec.Command(goTool, "test", "-count=1", "-v", "-run=^$", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", noCgoChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CGO_ENABLED=1") {
		t.Fatalf("CGO_ENABLED=0 go test: %v\n%s", err, out)
	}
}
