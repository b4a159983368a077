#!/bin/sh
# run.sh measures the Slack slash command endpoint on loopback: it starts the harness
# (the adapter's endpoints, the real core and a real query log in a temporary
# directory), runs slackload against it with the given flags, stops the harness and
# prints how many queries the log recorded, to compare with the requests sent.
#
#   bench/slackload/run.sh -c 16 -d 10s
#
# Run it from the repository root. The signing secret is a throwaway one unless
# SLACK_SIGNING_SECRET is set.
set -eu
: "${SLACK_SIGNING_SECRET:=slackload-bench-secret}"
export SLACK_SIGNING_SECRET
unset SLACK_APP_TOKEN SLACK_BOT_TOKEN
addr=${SLACKLOAD_ADDR:-127.0.0.1:8089}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/harness" ./bench/slackload/harness/main.go
go build -o "$bin/slackload" ./bench/slackload
"$bin/harness" -addr "$addr" &
harness=$!
# Wait until it accepts connections (at most 10 s).
i=0
until "$bin/slackload" -url "http://$addr/slack/commands" -n 1 -c 1 >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 100 ]; then
		kill "$harness"
		echo "run.sh: the harness did not start" >&2
		exit 1
	fi
	sleep 0.1
done
status=0
"$bin/slackload" -url "http://$addr/slack/commands" "$@" || status=$?
kill -INT "$harness"
wait "$harness" || status=$?
exit "$status"
