#!/usr/bin/env python3
"""What one subject costs a JetStream server in memory, measured.

Issue 16 asks whether idempotency by request id may keep one subject per
request id: at 60 million patients and years of writes that is billions of
subjects, and a JetStream file store keeps an in-memory index entry for
every subject it holds. This starts the pinned nats-server (one node, file
storage, in a temporary directory), publishes N messages of the same size
twice, once all to one subject and once each to its own subject, and
reports the server's resident memory after each, and again after a restart
(the index rebuilt from the files). The difference divided by N is the
memory one subject costs.

    python3 scripts/nats_subject_memory.py              # N = 1,000,000
    N=200000 python3 scripts/nats_subject_memory.py

The server is ICR_NATS_SERVER, or the one scripts/nats-server.sh installs.
Each publish is acknowledged (2,000 in flight at a time), with the server's
default sync: durability does not change what the index holds, and a sync
per message would make a million take much longer. Prints one JSON object.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("N", "1000000"))
PAYLOAD = b"x" * 96  # about a request record: id, fingerprint, position


def server_binary():
    path = os.environ.get("ICR_NATS_SERVER")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.check_output(["bash", os.path.join(here, "nats-server.sh")], text=True).strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """The NATS text protocol, just enough to publish and ask JetStream."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.readline()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n')
        self.expect_pong()
        self.sock.sendall(b"SUB _INBOX.measure 1\r\n")

    def readline(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 16)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(1 << 16)
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def expect_pong(self):
        while True:
            line = self.readline()
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())

    def request(self, subject, body):
        data = json.dumps(body).encode()
        self.sock.sendall(b"PUB %s _INBOX.measure %d\r\n%s\r\n" % (subject.encode(), len(data), data))
        while True:
            line = self.readline()
            if line.startswith(b"MSG"):
                return json.loads(self.read(int(line.split()[-1])))
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())

    def publish_many(self, subjects):
        """Publishes each message with a reply subject, 2,000 at a time,
        and reads the 2,000 acknowledgements before sending more: a server
        flooded with unacknowledged publishes drops some."""

        def send(chunk):
            self.sock.sendall(b"".join(chunk))
            for _ in chunk:
                while True:
                    line = self.readline()
                    if line.startswith(b"MSG"):
                        ack = json.loads(self.read(int(line.split()[-1])))
                        if "error" in ack:
                            raise RuntimeError(ack["error"])
                        break
                    if line == b"PING":
                        self.sock.sendall(b"PONG\r\n")
                    elif line.startswith(b"-ERR"):
                        raise RuntimeError(line.decode())

        chunk = []
        for subject in subjects:
            chunk.append(b"PUB %s _INBOX.measure %d\r\n%s\r\n" % (subject, len(PAYLOAD), PAYLOAD))
            if len(chunk) == 2000:
                send(chunk)
                chunk = []
        if chunk:
            send(chunk)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start(binary, store, port):
    config = os.path.join(store, "nats.conf")
    with open(config, "w") as f:
        f.write(f'listen: "127.0.0.1:{port}"\njetstream {{\n  store_dir: "{store}/js"\n}}\n')
    proc = subprocess.Popen([binary, "-c", config], stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            return proc, Client(port)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nats-server did not start")


def wait_for(client, stream, count):
    """The stream's state once it holds `count` messages; an error naming
    how many it holds if that stops growing for 30 s (the server drops
    fire-and-forget publishes it cannot keep up with)."""
    last, since = -1, time.monotonic()
    while True:
        info = client.request(f"$JS.API.STREAM.INFO.{stream}", {})
        state = info.get("state", {})
        held = state.get("messages", 0)
        if held >= count:
            return state
        if held != last:
            last, since = held, time.monotonic()
        elif time.monotonic() - since > 30:
            raise RuntimeError(f"the stream holds {held} of {count} messages and no more arrive")
        time.sleep(0.2)


def measure(binary, distinct):
    with tempfile.TemporaryDirectory() as store:
        port = free_port()
        proc, client = start(binary, store, port)
        try:
            created = client.request(
                "$JS.API.STREAM.CREATE.M",
                {"name": "M", "subjects": ["m.>"], "storage": "file", "num_replicas": 1},
            )
            if "error" in created:
                raise RuntimeError(created["error"])
            time.sleep(0.5)
            before = rss_mib(proc.pid)
            subjects = (b"m.%d" % i if distinct else b"m.one" for i in range(N))
            started = time.monotonic()
            client.publish_many(subjects)
            state = wait_for(client, "M", N)
            took = time.monotonic() - started
            time.sleep(1)
            after = rss_mib(proc.pid)
            proc.terminate()
            proc.wait(30)
            proc, client = start(binary, store, port)
            state = wait_for(client, "M", N)
            time.sleep(1)
            restarted = rss_mib(proc.pid)
            return {
                "subjects": state.get("num_subjects", 1 if not distinct else None),
                "messages": state["messages"],
                "rss_before_mib": round(before, 1),
                "rss_after_mib": round(after, 1),
                "rss_after_restart_mib": round(restarted, 1),
                "publish_s": round(took, 1),
            }
        finally:
            proc.kill()
            proc.wait()


def main():
    binary = server_binary()
    version = subprocess.check_output([binary, "--version"], text=True).strip()
    one = measure(binary, distinct=False)
    many = measure(binary, distinct=True)
    per_subject = {
        key: round((many[key] - one[key]) * 1024 * 1024 / N)
        for key in ("rss_after_mib", "rss_after_restart_mib")
    }
    print(json.dumps({
        "server": version,
        "messages": N,
        "one_subject": one,
        "one_subject_each": many,
        "bytes_per_subject": per_subject,
    }))


if __name__ == "__main__":
    sys.exit(main())
