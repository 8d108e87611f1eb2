#!/usr/bin/env bash
# Regenerates BENCHMARKS.md: every in-process benchmark (criterion), the
# over-the-network load runs and the durable-append peers (PostgreSQL, NATS
# JetStream: scripts/append_peers.sh), with the peers measured in the same run.
# Not run by CI (it takes tens of minutes and wants a quiet machine).
#
#   scripts/benchmarks.sh            # writes BENCHMARKS.md
#
# Environment: DECISION_MAX_PATIENTS (our decision benchmark's largest
# population, default 1,000,000; 10,000,000 needs about 18 GiB),
# ICR_BENCH_MAX_PATIENTS (the decision peers' largest, default 1,000,000),
# LOAD_PATIENTS (patients generated for the load runs, default 100,000),
# DURATION / CONCURRENCY for the load matrix (DURATION and WARMUP also for
# the durable-append peers), SNAPSHOT_EVENTS (the snapshot benchmark's log,
# default 1,000,000 events), STARTUP_PATIENTS (the start-up runs' log,
# default 430,000 patients: about 1,000,000 events; 4,300,000 gives about
# 10,000,000) and DATA_DIR (a log generated earlier for them).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== in-process benchmarks" >&2
cargo bench -q -p icr-log --bench append
cargo bench -q -p icr-log --bench verify
cargo bench -q -p consent-service --bench audit_cost
# Its set-up lines (memory per patient) go to stderr: keep a copy. Our
# decisions go up to DECISION_MAX_PATIENTS (10,000,000 needs about 18 GiB of
# memory); the peers below stop at their own default, 1,000,000.
ICR_BENCH_MAX_PATIENTS=${DECISION_MAX_PATIENTS:-1000000} \
  cargo bench -q -p icr-datagen --bench decision 2> >(tee "$work/setup.txt" >&2)
cargo bench -q -p icr-datagen --bench peers
# Snapshot load and write at SNAPSHOT_EVENTS events (10,000,000 needs about
# 12 GiB); its set-up line (the fold of the same events) goes to setup.txt.
ICR_BENCH_SNAPSHOT_EVENTS=${SNAPSHOT_EVENTS:-1000000} \
  cargo bench -q -p icr-datagen --bench snapshot 2> >(tee -a "$work/setup.txt" >&2)

echo "== load runs" >&2
cargo build -q --release -p consent-service -p consent-loadgen -p icr-datagen
target/release/icr-datagen --data-dir "$work/data" --patients "${LOAD_PATIENTS:-100000}" >&2
# The service logs to stdout.
target/release/consent-service --data-dir "$work/data" --listen 127.0.0.1:50051 >"$work/service.log" 2>&1 &
service_pid=$!
target/release/consent-loadgen noop-server --listen 127.0.0.1:50052 2>"$work/noop.log" &
noop_pid=$!
for _ in $(seq 1 600); do
  grep -q serving "$work/service.log" && break
  sleep 1
done
PATIENTS=${LOAD_PATIENTS:-100000} services/consent-loadgen/scripts/matrix.sh > "$work/runs.jsonl"
# Each durable-append peer runs alone: stop the load runs' servers first.
kill "$service_pid" "$noop_pid" 2>/dev/null || true
wait "$service_pid" "$noop_pid" || true

echo "== durable append: ours, PostgreSQL, NATS JetStream" >&2
scripts/append_peers.sh > "$work/peers.jsonl"

echo "== start-up, from the log and from a snapshot" >&2
PATIENTS=${STARTUP_PATIENTS:-430000} scripts/startup.sh > "$work/startup.jsonl"

# Keep the raw runs beside criterion's, so the report can be rebuilt:
#   scripts/benchmarks_report.py target/benchmarks/{runs.jsonl,peers.jsonl,setup.txt,startup.jsonl}
mkdir -p target/benchmarks
cp "$work/runs.jsonl" "$work/peers.jsonl" "$work/setup.txt" "$work/startup.jsonl" target/benchmarks/
python3 scripts/benchmarks_report.py target/benchmarks/runs.jsonl target/benchmarks/peers.jsonl \
  target/benchmarks/setup.txt target/benchmarks/startup.jsonl > BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
