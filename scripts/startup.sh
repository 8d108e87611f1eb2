#!/usr/bin/env bash
# Start-up of the release service on a generated log: time from launch to
# "serving", and resident memory then, first with no snapshot (verify the
# whole log, then fold it), then from the snapshot that first start wrote
# (load it, fold the tail, verify beside serving). Prints one JSON object
# per start on stdout; progress goes to stderr.
#
#   scripts/startup.sh > startup.jsonl
#   PATIENTS=4300000 scripts/startup.sh     # about 10,000,000 events
#   DATA_DIR=/big/disk/log scripts/startup.sh   # reuse a generated log
#
# Environment: PATIENTS (default 430,000: about 1,000,000 events), DATA_DIR
# (a log generated earlier with icr-datagen --patients PATIENTS; default: a
# fresh one in a temporary directory), PORT (50081).
set -euo pipefail
cd "$(dirname "$0")/.."

PATIENTS=${PATIENTS:-430000}
PORT=${PORT:-50081}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

say() { echo "== $*" >&2; }

cargo build -q --release -p consent-service -p icr-datagen
data=${DATA_DIR:-$work/data}
if [ ! -d "$data" ]; then
  say "generating $PATIENTS patients into $data"
  target/release/icr-datagen --data-dir "$data" --patients "$PATIENTS" >&2
fi
rm -rf "$data/snapshots"

# The service's log without the terminal colours it has in a file.
plain() { sed 's/\x1b\[[0-9;]*m//g' "$work/$1.log"; }

# Starts the service, waits for "serving", prints one JSON line; leaves it
# running as $pid. $1: what the start is called in the output.
start() {
  local mode=$1 log="$work/$1.log" began now rss
  began=$(date +%s.%N)
  # A snapshot as soon as the start has folded the log: every event counts.
  target/release/consent-service --data-dir "$data" --listen "127.0.0.1:$PORT" \
    --snapshot-every-events 1 >"$log" 2>&1 &
  pid=$!
  until grep -qs serving "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.02
  done
  now=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  events=$(plain "$mode" | grep serving | grep -o 'position=[0-9]*' | cut -d= -f2)
  printf '{"mode":"%s","events":%s,"patients":%s,"ready_s":%.3f,"rss_kib":%s}\n' \
    "$mode" "$events" "$PATIENTS" "$(awk "BEGIN {print $now - $began}")" "$rss"
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || true
}

say "start 1: no snapshot"
start log
# The snapshot of the folded log, written in the background.
until plain log | grep -q "snapshot written position=$events "; do sleep 0.1; done
plain log | grep 'snapshot written' >&2
stop
say "start 2: from the snapshot"
start snapshot
plain snapshot | grep 'loaded from a snapshot' >&2
# Wait for the background verification before stopping, for a clean stop.
until plain snapshot | grep -q 'hash chains verified'; do sleep 0.1; done
plain snapshot | grep 'hash chains verified' >&2
stop
