#!/usr/bin/env bash
# Compares the throughput of two builds of the service over the network,
# alternating them in one run so that both see the same (shared, noisy)
# machine: for each pair, each build in turn serves a fresh data directory
# and takes the same load runs. Prints one JSON object per run (the load
# generator's `--json` report with `build` and `pair` added); the summary on
# stderr gives each build's median ok/s per target and concurrency, and the
# ratio after ÷ before. Not run by CI.
#
#   scripts/compare_builds.sh BEFORE_BIN_DIR AFTER_BIN_DIR > runs.jsonl
#
# Each directory holds a release `consent-service`; the load generator is
# the one in AFTER_BIN_DIR (the same client for both). Environment: PAIRS
# (default 3), TARGETS (default "authorize record-objection"), CONCURRENCY
# (default "16 64"), DURATION (10s), WARMUP (2s), PATIENTS (1000), PORT
# (50061).
set -euo pipefail

before=${1:?usage: compare_builds.sh BEFORE_BIN_DIR AFTER_BIN_DIR}
after=${2:?usage: compare_builds.sh BEFORE_BIN_DIR AFTER_BIN_DIR}
for dir in "$before" "$after"; do
  [ -x "$dir/consent-service" ] || { echo "no consent-service in $dir: build it with cargo build --release -p consent-service" >&2; exit 1; }
done
[ -x "$after/consent-loadgen" ] || { echo "no consent-loadgen in $after: build it with cargo build --release -p consent-loadgen" >&2; exit 1; }

PAIRS=${PAIRS:-3}
TARGETS=${TARGETS:-"authorize record-objection"}
CONCURRENCY=${CONCURRENCY:-"16 64"}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PATIENTS=${PATIENTS:-1000}
PORT=${PORT:-50061}
endpoint="http://127.0.0.1:$PORT"
loadgen="$after/consent-loadgen"

work=$(mktemp -d)
service_pid=
trap '[ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null; rm -rf "$work"' EXIT

# Runs the load matrix against one build; each line is tagged.
measure() {
  local name=$1 dir=$2 pair=$3
  local data="$work/data-$name-$pair"
  "$dir/consent-service" --data-dir "$data" --listen "127.0.0.1:$PORT" >"$work/service.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 120); do
    grep -q serving "$work/service.log" && break
    sleep 0.5
  done
  grep -q serving "$work/service.log" || { cat "$work/service.log" >&2; exit 1; }
  "$loadgen" seed --endpoint "$endpoint" --patients "$PATIENTS" >&2
  for target in $TARGETS; do
    for c in $CONCURRENCY; do
      # A run with errors exits 2 but still prints its report: keep it.
      "$loadgen" --endpoint "$endpoint" --target "$target" --concurrency "$c" \
        --duration "$DURATION" --warmup "$WARMUP" --patients "$PATIENTS" --json \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); r.update(build=sys.argv[1], pair=int(sys.argv[2])); print(json.dumps(r))' "$name" "$pair" \
        | tee -a "$work/runs.jsonl" || true
    done
  done
  kill "$service_pid"
  wait "$service_pid" || true
  service_pid=
  rm -rf "$data"
}

for pair in $(seq 1 "$PAIRS"); do
  # Alternate which build goes first, so neither always meets a warmer or
  # cooler machine.
  if [ $((pair % 2)) -eq 1 ]; then
    measure before "$before" "$pair"
    measure after "$after" "$pair"
  else
    measure after "$after" "$pair"
    measure before "$before" "$pair"
  fi
done

python3 - "$work/runs.jsonl" <<'EOF' >&2
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
keys = sorted({(r["target"], r["concurrency"]) for r in runs})
print("target            clients  before ok/s (runs)        after ok/s (runs)         after/before (median, per pair)")
for target, c in keys:
    def oks(build):
        return [r["ok_per_s"] for r in sorted(runs, key=lambda r: r["pair"])
                if r["build"] == build and r["target"] == target and r["concurrency"] == c]
    b, a = oks("before"), oks("after")
    pairs = [x / y for x, y in zip(a, b) if y]
    print(f"{target:17} {c:7}  {statistics.median(b):9.0f} {[round(x) for x in b]}  "
          f"{statistics.median(a):9.0f} {[round(x) for x in a]}  "
          f"{statistics.median(pairs):.2f} {[round(x, 2) for x in pairs]}")
EOF
