"""`just bench` (producer part): `eventlake produce` against kinesalite on loopback.

Starts kinesalite (cli/tests/kinesalite, in memory), creates a stream, and sends the same
generated events several ways: the naive baseline (one event per record, one call in flight,
as a simple script does), the default (4 calls in flight), and packed records (--pack 10 and
100, the stack's multi-record deaggregation). For each: events/s accepted, PutRecords latency,
and the CPU each side used (cores = CPU seconds / wall seconds) to say which side is the limit.

Usage: python3 bench/produce_bench.py target/release/eventlake [N]
Method and numbers: docs/performance.md.
"""
import http.client
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time

TARGET_EVENTS_PER_S = 5_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINESALITE = os.path.join(ROOT, "cli", "tests", "kinesalite", "node_modules", ".bin", "kinesalite")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, action, body):
    """One Kinesis JSON call (kinesalite checks the signature's shape, not its value)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/", json.dumps(body), {
        "X-Amz-Target": f"Kinesis_20131202.{action}",
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Date": "20260101T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=0",
    })
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    if response.status != 200:
        raise RuntimeError(f"{action}: {response.status} {data}")
    return data


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    if not os.path.exists(KINESALITE):
        sys.exit(f"{KINESALITE} is missing: run `just rust-test-deps`")
    out = os.path.join("target", "bench")
    os.makedirs(out, exist_ok=True)
    events = os.path.join(out, f"produce-events-{n}.ndjson")
    subprocess.run([binary, "generate", "--events", str(n), "--seed", "3", "--output", events],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([KINESALITE, "--port", str(port), "--shardLimit", "100",
                               "--createStreamMs", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                call(port, "ListStreams", {})
                break
            except OSError:
                time.sleep(0.05)
        runs = [
            ("baseline: 1 event/record, 1 call in flight", ["--pack", "1", "--concurrency", "1"]),
            ("produce default: 1 event/record, 4 in flight", ["--pack", "1"]),
            ("--pack 10", ["--pack", "10"]),
            ("--pack 100", ["--pack", "100"]),
        ]
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
        env.pop("AWS_PROFILE", None)
        print(f"produce: {n} generated events to kinesalite on loopback (4 shards), "
              f"{os.cpu_count()} cores")
        print(f"{'run':48} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'producer':>9} {'kinesalite':>10}")
        best = 0.0
        for i, (name, flags) in enumerate(runs):
            stream = f"bench{i}"
            call(port, "CreateStream", {"StreamName": stream, "ShardCount": 4})
            before = cpu_seconds(server.pid)
            producer_before = children_cpu()
            t0 = time.perf_counter()
            run = subprocess.run([binary, "produce", "--stream", stream, "--input", events,
                                  "--endpoint-url", f"http://127.0.0.1:{port}", *flags],
                                 env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            server_cpu = cpu_seconds(server.pid) - before
            if run.returncode != 0:
                sys.exit(f"{name}: {run.stderr.strip()}")
            rate = float(re.search(r"= (\d+) events/s", run.stdout).group(1))
            lat = re.search(r"p50 ([\d.]+)  p90 [\d.]+  p99 ([\d.]+)", run.stdout)
            producer = children_cpu() - producer_before
            best = max(best, rate)
            print(f"{name:48} {rate:>9,.0f} {float(lat.group(1)):>7.1f} {float(lat.group(2)):>7.1f} "
                  f"{producer / wall:>8.2f}c {server_cpu / wall:>9.2f}c")
        ok = "ok" if best >= TARGET_EVENTS_PER_S else "MISSED"
        print(f"target: >= {TARGET_EVENTS_PER_S} events/s against the local server: {ok} (best {best:,.0f}); "
              "c = CPU cores used; kinesalite is single-threaded Node.js, so ~1.0c there means the emulator is the limit")
    finally:
        server.kill()
        server.wait()


def children_cpu():
    """CPU seconds of the finished children so far (the producer runs are children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
