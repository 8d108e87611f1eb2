#!/usr/bin/env python3
"""Writes BENCHMARKS.md (to stdout) from criterion's estimates under
target/criterion, the load runs (JSON lines from consent-loadgen) and the
durable-append peers (JSON lines from scripts/append_peers.sh).

Usage: scripts/benchmarks_report.py RUNS.jsonl [PEERS.jsonl [SETUP.txt [STARTUP.jsonl]]] > BENCHMARKS.md
(SETUP.txt: the decision and snapshot benchmarks' stderr, for memory per
patient and the fold the snapshot load is compared with; STARTUP.jsonl:
scripts/startup.sh.)
"""
import datetime
import json
import os
import platform
import subprocess
import sys

CRITERION = os.path.join("target", "criterion")


def median_ns(*path):
    """Median of one criterion benchmark in nanoseconds, or None."""
    file = os.path.join(CRITERION, *path, "new", "estimates.json")
    try:
        with open(file) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


def us(ns):
    return "—" if ns is None else f"{ns / 1000:,.1f} µs"


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def machine():
    cores = os.cpu_count()
    memory = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cores} cores, {memory} memory, {platform.system()} {platform.release()}, {rustc}"


def read_setup(path):
    """(patients, seconds, MiB) from lines like
    'setup ours/1000000: 4.5 s, +1609 MiB resident, process peak 1919 MiB'."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("setup ours/"):
                    head, rest = line.split(":", 1)
                    parts = rest.split()
                    rows.append((int(head.split("/")[1]), float(parts[0]), int(parts[2].lstrip("+"))))
    except OSError:
        pass
    return rows


def read_fold(path):
    """(events, seconds, patients, snapshot MiB) from the snapshot benchmark's
    line 'setup fold/1000000: 0.6 s, +595 MiB resident, process peak 1118 MiB;
    426955 patients; snapshot 36 MiB', or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("setup fold/"):
                    head, rest = line.split(":", 1)
                    cost, patients, snapshot = rest.split(";")
                    return (int(head.split("/")[1]), float(cost.split()[0]),
                            int(patients.split()[0]), int(snapshot.split()[1]))
    except (OSError, ValueError, IndexError):
        pass
    return None


def snapshots(say, fold, startup):
    """The snapshot benchmark beside the fold of the same events, and the
    service's start-up with and without a snapshot."""
    if fold:
        events, fold_s, patients, mib = fold
        load = median_ns("snapshot", "load", str(events))
        write = median_ns("snapshot", "write", str(events))
        say("## Snapshots and start-up\n")
        say(f"`ICR_BENCH_SNAPSHOT_EVENTS={events} cargo bench -p icr-datagen --bench snapshot`: a log of")
        say(f"{events:,} generated events ({patients:,} patients), snapshot of {mib:,} MiB. The fold is the same")
        say("events applied to empty projections from memory (no log read, no verification), timed once.\n")
        say("| measurement | time | fold ÷ this |")
        say("|---|---|---|")
        say(f"| fold the events (baseline) | {fold_s * 1000:,.0f} ms | 1.00× |")
        if load:
            say(f"| load the snapshot (read, check digests, decode) | {load / 1e6:,.0f} ms | {fold_s * 1e9 / load:.2f}× |")
        if write:
            say(f"| encode a snapshot | {write / 1e6:,.0f} ms | {fold_s * 1e9 / write:.2f}× |")
        say("")
    if startup:
        say("`scripts/startup.sh`: the release service on a generated log, launch to serving.\n")
        say("| start | events | ready | resident then |")
        say("|---|---|---|---|")
        for r in startup:
            how = "from the log (verify, then fold)" if r["mode"] == "log" else "from a snapshot (load, fold the tail; verify beside)"
            say(f"| {how} | {r['events']:,} | {r['ready_s']:.2f} s | {r['rss_kib'] / 1024:,.0f} MiB |")
        by = {r["mode"]: r for r in startup}
        if "log" in by and "snapshot" in by:
            say(f"\nFrom the snapshot the service is ready {by['log']['ready_s'] / by['snapshot']['ready_s']:.1f}× sooner.")
        say("")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# The durable-append peers, in the order they are shown.
PEERS = [
    ("ours", "ours (consent service)", "`consent-loadgen --target record-objection`"),
    ("postgresql", "PostgreSQL", "`pgbench`, one INSERT per transaction"),
    ("jetstream", "NATS JetStream", "`consent-loadgen jetstream`, publish and await the ack"),
]


def peer_run(peers, peer, clients):
    """The run of `peer` at `clients` clients, or None."""
    return next((r for r in peers if r["peer"] == peer and r.get("concurrency") == clients), None)


def throughput_ratio(peers, clients, peer):
    ours, other = peer_run(peers, "ours", clients), peer_run(peers, peer, clients)
    if ours is None or other is None or other["ok_per_s"] == 0:
        return None
    return ours["ok_per_s"] / other["ok_per_s"]


def times(x):
    return "—" if x is None else f"{x:.2f}×"


def durable_append(say, peers):
    say("## Durable append: peers\n")
    say("`scripts/append_peers.sh`: appends per second, each peer alone on the machine in a closed loop")
    say("(every client waits for its acknowledgement before the next append), each append one")
    say("objection event of the same encoded size. The client shares the machine's cores with the server.")
    disk = next((r for r in peers if r["peer"] == "disk"), None)
    if disk is not None:
        say(f"One 8 kB write plus fdatasync on the peers' file system took {disk['p50_us']:,.0f} µs at the median")
        say("(probed in the same run): the flush each durable append here waits for, or shares.")
    say("")
    say("| peer | clients | appends/s | p50 | p90 | p99 | p99.9 | errors |")
    say("|---|---|---|---|---|---|---|---|")
    clients = sorted({r["concurrency"] for r in peers if "concurrency" in r})
    for peer, name, _ in PEERS:
        for c in clients:
            r = peer_run(peers, peer, c)
            if r is None:
                continue
            lat = r["latency_us"]
            say(f"| {name} | {c} | {r['ok_per_s']:,.0f} | {lat['p50']:,.0f} µs | {lat['p90']:,.0f} µs | "
                f"{lat['p99']:,.0f} µs | {lat['p999']:,.0f} µs | {r['errors_total']} |")
    say("")
    say("| peer | how it is driven | what an acknowledgement means |")
    say("|---|---|---|")
    for peer, name, how in PEERS:
        r = next((r for r in peers if r["peer"] == peer), None)
        if r is not None:
            say(f"| {name} | {how} | {r.get('durability', '—')} |")
    say("")
    say("| clients | ours ÷ PostgreSQL, appends/s | ours ÷ JetStream, appends/s | p50: PostgreSQL ÷ ours |")
    say("|---|---|---|---|")
    for c in clients:
        ours, pg = peer_run(peers, "ours", c), peer_run(peers, "postgresql", c)
        p50 = None
        if ours and pg and ours["latency_us"]["p50"]:
            p50 = pg["latency_us"]["p50"] / ours["latency_us"]["p50"]
        say(f"| {c} | {times(throughput_ratio(peers, c, 'postgresql'))} | "
            f"{times(throughput_ratio(peers, c, 'jetstream'))} | {times(p50)} |")
    say("")


def append_target(say, peers):
    pg = throughput_ratio(peers, 64, "postgresql")
    if pg is None:
        say("| objections/s ≥ 2× PostgreSQL at 64 clients; NATS JetStream beside it | not run (`scripts/append_peers.sh`) | — |")
        return
    js = throughput_ratio(peers, 64, "jetstream")
    beside = "" if js is None else f"; {js:.2f}× JetStream"
    say(f"| objections/s ≥ 2× PostgreSQL at 64 clients; NATS JetStream beside it | "
        f"{pg:.2f}× PostgreSQL{beside} | {'yes' if pg >= 2 else 'no'} |")


def sizes(group, peer):
    folder = os.path.join(CRITERION, group, peer)
    try:
        return sorted(int(d) for d in os.listdir(folder) if d.isdigit())
    except OSError:
        return []


def main():
    runs = read_jsonl(sys.argv[1]) if len(sys.argv) > 1 else []
    peers = read_jsonl(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else []
    setup = read_setup(sys.argv[3]) if len(sys.argv) > 3 else []
    fold = read_fold(sys.argv[3]) if len(sys.argv) > 3 else None
    startup = read_jsonl(sys.argv[4]) if len(sys.argv) > 4 else []
    out = []
    say = out.append
    say("# Benchmarks\n")
    say("Regenerated by `scripts/benchmarks.sh`; every figure below comes from that run.")
    say(f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}.")
    say("The machine may be shared: compare the ratios, which are measured in one run;")
    say("absolute numbers are context.\n")

    say("## Decision engine (in process)\n")
    say("`cargo bench -p icr-datagen --bench peers` (medians; same requests, answers checked equal first)\n")
    say("| patients | ours | Cedar (entities per request) | Cedar (one store) | casbin, a line per patient fact | Cedar ÷ ours |")
    say("|---|---|---|---|---|---|")
    for n in sizes("decision", "ours"):
        ours = median_ns("decision", "ours", str(n))
        cedar = median_ns("decision", "cedar", str(n))
        store = median_ns("decision", "cedar_store", str(n))
        naive = median_ns("decision", "casbin_naive", str(n))
        say(f"| {n:,} | {us(ours)} | {us(cedar)} | {us(store)} | {us(naive)} | {ratio(cedar, ours)} |")
    say("")
    say("| patients | ours, batch of 20 | Cedar, batch of 20 |")
    say("|---|---|---|")
    for n in sizes("batch20", "ours"):
        say(f"| {n:,} | {us(median_ns('batch20', 'ours', str(n)))} | {us(median_ns('batch20', 'cedar', str(n)))} |")
    say("")

    own = sizes("ours", "one")
    if own:
        say("Our decisions alone, up to the largest population the run built (`cargo bench -p icr-datagen")
        say("--bench decision`, `DECISION_MAX_PATIENTS`), medians:\n")
        say("| patients | one decision | batch of 20 | one decision ÷ at 1,000 |")
        say("|---|---|---|---|")
        first = median_ns("ours", "one", str(own[0]))
        for n in own:
            one = median_ns("ours", "one", str(n))
            say(f"| {n:,} | {us(one)} | {us(median_ns('ours', 'batch20', str(n)))} | {ratio(one, first)} |")
        say("")

    say("## Log and audit (in process)\n")
    say("| measurement | median | command |")
    say("|---|---|---|")
    rows = [
        (("append", "one_client"), "one append, one writer (about one flush)", "cargo bench -p icr-log --bench append"),
        (("append", "64_clients"), "1,024 appends by 64 concurrent writers (combined batches, shared flushes)", "cargo bench -p icr-log --bench append"),
        (("append", "64_clients_decisions"), "1,024 decision records by 64 concurrent writers", "cargo bench -p icr-log --bench append"),
        (("replay", "read_from"), "read 10,000 events in pages of 512", "cargo bench -p icr-log --bench append"),
        (("verify", "10k_events_100k_decisions"), "verify 110,000 chained items", "cargo bench -p icr-log --bench verify"),
        (("audit_cost", "get_consent_status"), "GetConsentStatus over gRPC (no audit)", "cargo bench -p consent-service --bench audit_cost"),
        (("audit_cost", "authorize"), "Authorize over gRPC (durably audited)", "cargo bench -p consent-service --bench audit_cost"),
        (("audit_cost", "record_one"), "one audit record appended and flushed", "cargo bench -p consent-service --bench audit_cost"),
    ]
    for path, what, command in rows:
        say(f"| {what} | {us(median_ns(*path))} | `{command}` |")
    say("")
    per_second = [
        (("append", "one_client"), 1, "appends/s, one writer"),
        (("append", "64_clients"), 1024, "appends/s, 64 writers"),
        (("append", "64_clients_decisions"), 1024, "decision records/s, 64 writers"),
        (("replay", "read_from"), 10_000, "events/s read back (replay)"),
    ]
    for path, items, what in per_second:
        ns = median_ns(*path)
        if ns:
            say(f"- {items * 1e9 / ns:,.0f} {what}")
    say("")
    say("What recording the acknowledged heads costs (one more small write and `fdatasync` per")
    say("flush; ARCHITECTURE.md, Durability): the same appends on a log that keeps the record and")
    say("one that does not, in the same run (`cargo bench -p icr-log --bench append -- acknowledged_record`).\n")
    say("| writers | with the record | without | with ÷ without |")
    say("|---|---|---|---|")
    for clients, label in (("one_client", "one"), ("64_clients", "64 (1,024 appends)")):
        with_ns = median_ns("acknowledged_record", clients, "with")
        without_ns = median_ns("acknowledged_record", clients, "without")
        say(f"| {label} | {us(with_ns)} | {us(without_ns)} | {ratio(with_ns, without_ns)} |")
    say("")
    if setup:
        say("## Projection memory (decision benchmark set-up)\n")
        say("Resident memory added by building each population in process (projections,")
        say("policy and engine), from the decision benchmark's set-up lines. Small populations")
        say("are dominated by fixed costs (the engine, the ODS-code interner's first table).\n")
        say("| patients | set-up | resident growth | bytes per patient |")
        say("|---|---|---|---|")
        for n, seconds, mib in setup:
            say(f"| {n:,} | {seconds:.1f} s | {mib:,} MiB | {mib * 1024 * 1024 / n:,.0f} |")
        say("")

    snapshots(say, fold, startup)
    if runs:
        say("## Over the network (consent-loadgen, closed loop, loopback)\n")
        say("The load generator and the servers share the machine's cores.\n")
        say("| target | concurrency | ok/s | p50 | p99 | p99.9 | errors |")
        say("|---|---|---|---|---|---|---|")
        for r in runs:
            lat = r["latency_us"]
            say(f"| {r['target']} | {r['concurrency']} | {r['ok_per_s']:,.0f} | {lat['p50']:,.0f} µs | "
                f"{lat['p99']:,.0f} µs | {lat['p999']:,.0f} µs | {r['errors_total']} |")
        noop = {r["concurrency"]: r["ok_per_s"] for r in runs if r["target"] == "noop"}
        say("")
        say("| concurrency | Authorize ÷ no-op throughput |")
        say("|---|---|")
        for r in runs:
            if r["target"] == "authorize" and r["concurrency"] in noop:
                say(f"| {r['concurrency']} | {r['ok_per_s'] / noop[r['concurrency']]:.0%} |")
        say("")
    if peers:
        durable_append(say, peers)
    say("## Targets\n")
    say("| target | measured | met |")
    say("|---|---|---|")
    ns = sizes("decision", "ours")
    if ns:
        with_cedar = [n for n in ns if median_ns("decision", "cedar", str(n))]
        worst = min(median_ns("decision", "cedar", str(n)) / median_ns("decision", "ours", str(n)) for n in with_cedar)
        say(f"| decision ≥ 10× faster than Cedar at the median | ≥ {worst:.0f}× at every size | {'yes' if worst >= 10 else 'no'} |")
        ours = [median_ns("decision", "ours", str(n)) for n in ns]
        naive = [m for m in (median_ns("decision", "casbin_naive", str(n)) for n in ns) if m]
        flat = max(ours) / min(ours)
        span = f"{ns[0]:,} → {ns[-1]:,} patients"
        say(f"| ours flat within 1.5× ({span}, peers benchmark) | {flat:.3f}× | {'yes' if flat <= 1.5 else 'no'} |")
        if len(naive) > 1:
            say(f"| … while naive casbin is not (up to {with_cedar[-1]:,}) | {max(naive) / min(naive):,.0f}× | yes |")
    if own:
        one = [median_ns("ours", "one", str(n)) for n in own]
        flat = max(one) / min(one)
        say(f"| ours flat within 1.5× ({own[0]:,} → {own[-1]:,} patients, decision benchmark) | {flat:.3f}× | {'yes' if flat <= 1.5 else 'no'} |")
    if not own or own[-1] < 10_000_000:
        say("| flatness up to 10M patients | not run (memory; DECISION_MAX_PATIENTS=10000000 scripts/benchmarks.sh) | — |")
    noop = {r["concurrency"]: r["ok_per_s"] for r in runs if r["target"] == "noop"}
    auth = {r["concurrency"]: r["ok_per_s"] for r in runs if r["target"] == "authorize"}
    common = sorted(set(noop) & set(auth))
    if common:
        best = max(auth[c] / noop[c] for c in common)
        say(f"| Authorize throughput ≥ 70 % of a no-op RPC | {best:.0%} at best | {'yes' if best >= 0.7 else 'no'} |")
    append_target(say, peers)
    replay = median_ns("replay", "read_from")
    replay_rate = f"{10_000 * 1e9 / replay:,.0f} events/s read" if replay else "not measured"
    say(f"| replay ≥ 1M events/s | {replay_rate} | {'yes' if replay and 10_000 * 1e9 / replay >= 1e6 else 'no'} |")
    ready = [r for r in startup if r["mode"] == "snapshot"]
    if ready:
        r = ready[-1]
        met = "yes" if r["ready_s"] <= 2 and r["events"] >= 10_000_000 else ("no" if r["ready_s"] > 2 else "not at 10M")
        say(f"| ready ≤ 2 s from a snapshot at 10M events | {r['ready_s']:.2f} s at {r['events']:,} events | {met} |")
    else:
        say("| ready ≤ 2 s from a snapshot at 10M events | not measured in this run | — |")
    if setup:
        n, _, mib = setup[-1]
        say(f"| ≤ 64 B per patient at 10M | {mib * 1024 * 1024 / n:,.0f} B at {n:,} | no |")
    else:
        say("| ≤ 64 B per patient at 10M | not measured in this run | — |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
