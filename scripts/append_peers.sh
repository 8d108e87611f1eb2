#!/usr/bin/env bash
# Durable append against its peers, in one run on one machine: objections
# recorded through the consent service (consent-loadgen --target
# record-objection), PostgreSQL (pgbench, one INSERT per transaction,
# synchronous_commit and fsync on) and NATS JetStream (file storage,
# consent-loadgen jetstream), each at 1 and 64 clients, each alone on the
# machine while it runs. Prints one JSON object per run on stdout, with the
# field names of consent-loadgen --json plus "peer" and "durability";
# progress goes to stderr.
#
#   scripts/append_peers.sh > peers.jsonl
#   DURATION=5s WARMUP=1s scripts/append_peers.sh
#
# Environment: DURATION (default 10s), WARMUP (2s), CLIENTS ("1 64"),
# PATIENTS (1000), SERVICE_PORT (50061), PG_PORT (54329), NATS_PORT (14222),
# ICR_NATS_SERVER (the pinned nats-server; by default scripts/nats-server.sh
# installs it). Installs PostgreSQL with apt-get when it is missing.
# Every server gets a fresh directory under one temporary directory, on the
# same file system, and is stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CLIENTS=${CLIENTS:-"1 64"}
PATIENTS=${PATIENTS:-1000}
SERVICE_PORT=${SERVICE_PORT:-50061}
PG_PORT=${PG_PORT:-54329}
NATS_PORT=${NATS_PORT:-14222}
# As the load matrix spreads its requests.
CONNECTIONS=4

say() { echo "== $*" >&2; }

install() {
  say "installing $*"
  apt-get install -y -qq "$@" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "$@" >&2; }
}

pg_bin() { printf '%s\n' /usr/lib/postgresql/*/bin/initdb | grep -v '\*' | sort -V | tail -n 1 | xargs -r dirname; }
if [ -z "$(pg_bin)" ] || ! command -v pgbench >/dev/null; then install postgresql; fi
# The pinned 2.15.1, which syncs before acknowledging: never a
# distribution's nats-server (Debian's 2.9.10 acknowledges before its timed
# sync, which is no durable peer).
NATS_SERVER=${ICR_NATS_SERVER:-$(bash scripts/nats-server.sh)}
PGBIN=$(pg_bin)

work=$(mktemp -d)
# PostgreSQL runs as the postgres user, which must reach its directory.
chmod 755 "$work"
service_pid='' nats_pid='' pg_data=''
stop() {
  local pid=$1
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$service_pid"
  stop "$nats_pid"
  if [ -n "$pg_data" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to $3 seconds for $2 to appear in log $1 while process $4 lives.
wait_for() {
  for _ in $(seq 1 "$3"); do
    grep -q "$2" "$1" && return 0
    kill -0 "$4" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

# Adds "peer" and "durability" in front of each JSON line on stdin.
tag() {
  python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        print(json.dumps({"peer": sys.argv[1], "durability": sys.argv[2], **json.loads(line)}))
' "$1" "$2"
}

# Whole seconds (rounded up, at least 1) of 10s, 500ms, 2m or 1.5.
seconds() {
  python3 -c '
import math, re, sys
m = re.fullmatch(r"([0-9.]+)(ms|s|m)?", sys.argv[1].strip())
if not m:
    sys.exit(f"{sys.argv[1]!r} is not a duration such as 10s or 500ms")
n = float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[m.group(2)]
print(max(1, math.ceil(n)))
' "$1"
}

say "building"
cargo build -q --release -p consent-service -p consent-loadgen
LOADGEN=target/release/consent-loadgen
say "data under $work ($(stat -f -c %T "$work"))"

# --- ours: RecordObjection / WithdrawObjection through the service --------
service=http://127.0.0.1:$SERVICE_PORT
# The service logs to stdout: keep it off ours.
target/release/consent-service --data-dir "$work/service" --listen "127.0.0.1:$SERVICE_PORT" \
  >"$work/service.log" 2>&1 &
service_pid=$!
wait_for "$work/service.log" serving 120 "$service_pid"
"$LOADGEN" seed --endpoint "$service" --patients "$PATIENTS" >&2
for c in $CLIENTS; do
  say "ours, $c clients"
  # A run with errors exits 2 but still prints its report: keep going.
  { "$LOADGEN" --endpoint "$service" --target record-objection --connections "$CONNECTIONS" \
      --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP" --patients "$PATIENTS" \
      --json || true; } | tag ours "fsync before each acknowledgement, shared by concurrent appends"
done
stop "$service_pid"
service_pid=''

# --- PostgreSQL: pgbench, one INSERT per transaction -----------------------
pg=$work/pg
mkdir -p "$pg"
chown postgres:postgres "$pg"
pg_data=$pg/data
runuser -u postgres -- "$PGBIN/initdb" -D "$pg_data" -U postgres -A trust -E UTF8 >/dev/null
cat >>"$pg_data/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = ''
unix_socket_directories = '$pg'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 100
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pg_data" -l "$pg/server.log" -w start >/dev/null
psql=(psql -h "$pg" -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1)
# Shaped like the log: a gapless position, the event id, the stream and its
# version (unique, as the log's stream version check), the type, the
# encoded payload and the time recorded.
"${psql[@]}" <<'SQL'
CREATE TABLE events (
  position       bigserial PRIMARY KEY,
  id             text        NOT NULL,
  stream         text        NOT NULL,
  stream_version bigint      NOT NULL,
  event_type     text        NOT NULL,
  payload        bytea       NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream, stream_version)
);
SQL
pg_durability="fsync before each commit returns ($("${psql[@]}" -At -c "SELECT 'synchronous_commit=' || current_setting('synchronous_commit') || ', fsync=' || current_setting('fsync') || ', wal_sync_method=' || current_setting('wal_sync_method')"))"
# Each client appends to its own stream (patient number base + client id),
# counting its versions in :v (pgbench keeps a client's variables from one
# transaction to the next); the payload is a real encoded objection event.
cat >"$pg/append.sql" <<'SQL'
\set v :v + 1
\set s :base + :client_id
INSERT INTO events (id, stream, stream_version, event_type, payload)
VALUES (substr(md5(random()::text), 1, 26), 'patient/' || lpad(:s::text, 10, '0'), :v,
        'ObjectionRecorded', :payload);
SQL
payload=$("$LOADGEN" jetstream --print-event --patients "$PATIENTS")
duration_s=$(seconds "$DURATION")
warmup_s=$(seconds "$WARMUP")
base=0
pgbench_run() { # clients seconds [log prefix]
  base=$((base + 1000))
  local log=()
  [ -n "${3:-}" ] && log=(--log --log-prefix "$3")
  pgbench -h "$pg" -p "$PG_PORT" -U postgres -n -M prepared -c "$1" -j 2 -T "$2" \
    -f "$pg/append.sql" -D base="$base" -D v=0 -D "payload=\\x$payload" "${log[@]}" postgres
}
for c in $CLIENTS; do
  say "PostgreSQL, $c clients"
  pgbench_run "$c" "$warmup_s" >"$pg/warmup-$c.out" 2>&1 || cat "$pg/warmup-$c.out" >&2
  rc=0
  pgbench_run "$c" "$duration_s" "$pg/log-c$c" >"$pg/run-$c.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || cat "$pg/run-$c.out" >&2
  # Percentiles from the per-transaction log (latency in µs, or "failed"
  # / "skipped"), not from pgbench's average.
  python3 - "$pg/log-c$c" "$c" "$duration_s" "$pg/run-$c.out" "$rc" "$pg_durability" <<'PY'
import glob, json, math, sys

prefix, clients, seconds, out, rc, durability = sys.argv[1:]
clients, seconds = int(clients), float(seconds)
latencies, errors = [], {}
for name in glob.glob(prefix + ".*"):
    with open(name) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3:
                continue
            if fields[2].isdigit():
                latencies.append(int(fields[2]))
            else:
                errors[fields[2]] = errors.get(fields[2], 0) + 1
with open(out) as f:
    aborted = sum(1 for line in f if "aborted in command" in line)
if aborted:
    errors["aborted_clients"] = aborted
if rc != "0":
    errors["pgbench_exit_" + rc] = 1
latencies.sort()

def at(q):
    return float(latencies[max(0, math.ceil(q * len(latencies)) - 1)]) if latencies else 0.0

ok = len(latencies)
print(json.dumps({
    "peer": "postgresql",
    "durability": durability,
    "target": "pgbench-insert",
    "mode": "closed",
    "endpoint": "postgresql (unix socket)",
    "connections": clients,
    "concurrency": clients,
    "rate": None,
    "patients": None,
    "measured_s": seconds,
    "requests": ok + sum(errors.values()),
    "ok": ok,
    "ok_per_s": ok / seconds,
    "allowed": None,
    "denied": None,
    "errors_total": sum(errors.values()),
    "errors": errors,
    "latency_us": {
        "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p999": at(0.999),
        "max": float(latencies[-1]) if latencies else 0.0,
        "mean": sum(latencies) / ok if ok else 0.0,
    },
}))
PY
done
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null
pg_data=''

# --- NATS JetStream: file storage, publish and await the ack ---------------
nats=$work/nats
mkdir -p "$nats"
# One server, file storage, synced before every acknowledgement.
printf 'listen: "127.0.0.1:%s"\njetstream {\n  store_dir: "%s"\n  sync_interval: always\n}\n' \
  "$NATS_PORT" "$nats/store" >"$nats/nats.conf"
version=$("$NATS_SERVER" --version)
js_durability="fsync before each acknowledgement (${version#nats-server: }, sync_interval: always)"
"$NATS_SERVER" -c "$nats/nats.conf" 2>"$nats/server.log" &
nats_pid=$!
wait_for "$nats/server.log" "Server is ready" 60 "$nats_pid"
for c in $CLIENTS; do
  say "NATS JetStream, $c clients"
  { "$LOADGEN" jetstream --server "nats://127.0.0.1:$NATS_PORT" --connections "$CONNECTIONS" \
      --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP" --patients "$PATIENTS" \
      --json || true; } | tag jetstream "$js_durability"
done

# --- the disk: what one fsync costs here ---------------------------------
# A virtual disk may answer fsync from a cache; this says how much each
# peer's durability cost on this machine.
say "fdatasync on $work"
python3 - "$work/fsync-probe" <<'PY'
import json, os, statistics, sys, time

fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block, samples, end = b"\xa5" * 8192, [], time.monotonic() + 1.0
while time.monotonic() < end:
    start = time.perf_counter()
    os.write(fd, block)
    os.fdatasync(fd)
    samples.append((time.perf_counter() - start) * 1e6)
os.close(fd)
print(json.dumps({"peer": "disk", "target": "fdatasync-8k", "samples": len(samples),
                  "p50_us": statistics.median(samples)}))
PY
say "done"
