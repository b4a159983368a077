#!/usr/bin/env bash
# Load test of /api/ask: builds scobot, serves it on loopback with a fresh query log,
# drives it from a separate process (bench/apiload), then stops it with SIGTERM and
# checks that every answered request is in the log. Prints requests/s, latency
# percentiles and the server's peak resident memory.
#   bench/run-api.sh [duration] [workers]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
workers=${2:-32}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/scobot" ./cmd/scobot
go build -o "$tmp/apiload" ./bench/apiload
port=$((20000 + RANDOM % 20000))
"$tmp/scobot" serve --addr "127.0.0.1:$port" --db "$tmp/log.db" --rate 0 --log-level warn >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 50); do "$tmp/scobot" healthcheck --addr "127.0.0.1:$port" >/dev/null 2>&1 && break; sleep 0.1; done
"$tmp/apiload" -url "http://127.0.0.1:$port" -d "$dur" -c "$workers" | tee "$tmp/load"
rss=$(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid"
logged=$("$tmp/scobot" stats --db "$tmp/log.db" --json | awk -F': ' '/"total"/ {gsub(",", "", $2); print $2}')
answered=$(awk '/requests ok/ {gsub(",", "", $3); print $3}' "$tmp/load")
echo "server peak resident memory (VmHWM): $rss"
echo "queries in the log after SIGTERM: $logged (requests answered: $answered)"
if [ "$logged" != "$answered" ]; then echo "MISMATCH: not every request was logged"; exit 1; fi
