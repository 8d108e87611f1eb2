#!/usr/bin/env bash
# Runs the closed-loop matrix against servers that are already running and
# prints one JSON object per run (consent-loadgen --json), for BENCHMARKS.md.
#
#   cargo run --release -p consent-service -- --data-dir /tmp/lg-data      # terminal 1
#   cargo run --release -p consent-loadgen -- noop-server --listen 127.0.0.1:50052   # terminal 2
#   cargo run --release -p consent-loadgen -- seed --patients 1000
#   services/consent-loadgen/scripts/matrix.sh > runs.jsonl
#
# Environment: SERVICE (default http://127.0.0.1:50051), NOOP (default
# http://127.0.0.1:50052), TARGETS, CONCURRENCY, CONNECTIONS, DURATION,
# WARMUP, PATIENTS. The load generator and the servers share the machine's
# cores: say so next to any figure.
set -euo pipefail
cd "$(dirname "$0")/../../.."

SERVICE=${SERVICE:-http://127.0.0.1:50051}
NOOP=${NOOP:-http://127.0.0.1:50052}
TARGETS=${TARGETS:-"noop authorize authorize-batch record-objection"}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
CONNECTIONS=${CONNECTIONS:-4}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PATIENTS=${PATIENTS:-1000}

cargo build -q --release -p consent-loadgen
LOADGEN=target/release/consent-loadgen

for target in $TARGETS; do
  endpoint=$SERVICE
  [ "$target" = noop ] && endpoint=$NOOP
  for c in $CONCURRENCY; do
    # A run with errors exits 2 but still prints its report: keep going.
    "$LOADGEN" --endpoint "$endpoint" --target "$target" --connections "$CONNECTIONS" \
      --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP" --patients "$PATIENTS" \
      --json || true
  done
done
