// Command apiload drives scobot's /api/ask from a separate process, the way the issue's
// numbers are measured: a fixed number of workers on loopback for a bounded time and
// request count, then requests/s and latency percentiles.
//
//	go run ./bench/apiload -url http://127.0.0.1:8080 -c 32 -d 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

var questions = []string{
	"When does Kazakhstan chair the SCO?",
	"who are the founding members",
	"trans-caspian route",
	"turism",
	"What is Kazakhstan doing about terrorism?",
	"SCO Interbank Consortium",
	"whos the author",
	"How do I install Python?",
	"enviromental sustainability",
	"What is the SCO's annual budget?",
	"cultural festivals and youth exchanges",
	"qwerty",
}

func main() {
	target := flag.String("url", "http://127.0.0.1:8080", "scobot's base `URL` (loopback only)")
	workers := flag.Int("c", 32, "concurrent `workers`")
	dur := flag.Duration("d", 10*time.Second, "how long to run (at most 2m)")
	maxReq := flag.Int64("n", 5_000_000, "stop after this many requests")
	flag.Parse()
	if err := run(*target, *workers, *dur, *maxReq); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
}

func run(target string, workers int, dur time.Duration, maxReq int64) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	// This tool only ever loads a server on this machine.
	ips, err := net.LookupIP(u.Hostname())
	if err != nil || len(ips) == 0 || !ips[0].IsLoopback() {
		return fmt.Errorf("%s is not a loopback address; refusing to send load there", u.Hostname())
	}
	if dur > 2*time.Minute || workers < 1 || workers > 1024 {
		return fmt.Errorf("keep -d at most 2m and -c between 1 and 1024")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	urls := make([]string, len(questions))
	for i, q := range questions {
		urls[i] = target + "/api/ask?user=load&q=" + url.QueryEscape(q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var sent, ok, failed atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				if sent.Add(1) > maxReq {
					return
				}
				t0 := time.Now()
				resp, err := client.Get(urls[i%len(urls)])
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
					lat[w] = append(lat[w], time.Since(t0))
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	fmt.Printf("requests ok %d, failed %d in %.1fs: %.0f req/s with %d workers\n", ok.Load(), failed.Load(), elapsed.Seconds(), float64(ok.Load())/elapsed.Seconds(), workers)
	fmt.Printf("latency p50 %v, p90 %v, p99 %v, max %v\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}
