"""`just bench` (local lake part): end-to-end replay of N generated events (default 1M,
one hour at the mission's rate) with the release `eventlake` binary. Reports wall time,
events/s, MB/s, peak RSS of the replay process, and replay's own breakdown. In the same run,
the same input converted by DuckDB (bench/python/duckdb_reference.py; the package pinned in
the justfile) into a Hive-partitioned Parquet layout by event_type and date: the reference
for what a columnar engine does with this input on this machine.

Usage: python3 bench/replay_bench.py target/release/eventlake [N]
Method and numbers: docs/performance.md.
"""
import os
import resource
import shutil
import subprocess
import sys
import time

TARGET_EVENTS_PER_S = 200_000
TARGET_PEAK_RSS_MB = 1024


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    out = os.path.join("target", "bench")
    os.makedirs(out, exist_ok=True)
    events = os.path.join(out, f"events-{n}.ndjson")
    lake = os.path.join(out, "lake")
    if not os.path.exists(events):
        subprocess.run([binary, "generate", "--events", str(n), "--duplicates", "0.01", "--invalid", "0.002",
                        "--output", events], check=True)
    shutil.rmtree(lake, ignore_errors=True)
    size = os.path.getsize(events)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    run = subprocess.run([binary, "replay", "--input", events, "--lake", lake], check=True,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    print(run.stdout)
    rate = n / wall
    print(f"replay: {n} events, {size / 1e6:.0f} MB in {wall:.2f} s: {rate:,.0f} events/s, "
          f"{size / 1e6 / wall:.1f} MB/s, peak RSS {peak_mb:.0f} MB")
    ok = lambda c: "ok" if c else "MISSED"
    print(f"targets: >= {TARGET_EVENTS_PER_S} events/s: {ok(rate >= TARGET_EVENTS_PER_S)}; "
          f"peak RSS <= {TARGET_PEAK_RSS_MB} MB: {ok(peak_mb <= TARGET_PEAK_RSS_MB)}")
    reference = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python", "duckdb_reference.py")
    duck = subprocess.run([sys.executable, reference, events, os.path.join(out, "duckdb-lake")], check=True,
                          capture_output=True, text=True).stdout.split()
    duck_wall, duck_rows, duck_peak, version = float(duck[0]), int(duck[1]), float(duck[2]), duck[3]
    print(f"duckdb {version}: {duck_rows} rows in {duck_wall:.2f} s: {n / duck_wall:,.0f} events/s, "
          f"peak RSS {duck_peak:.0f} MB")
    print(f"eventlake replay runs at {duck_wall / wall:.2f}x DuckDB's speed on the same input")


if __name__ == "__main__":
    main()
