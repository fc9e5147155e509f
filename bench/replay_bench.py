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
import shutil
import statistics
import subprocess
import sys
import time

TARGET_EVENTS_PER_S = 200_000
TARGET_PEAK_RSS_MB = 1024
RUNS = 3


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
    size = os.path.getsize(events)
    reference = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python", "duckdb_reference.py")
    # Replay and DuckDB take turns, RUNS times each, so that this VM's slow and fast stretches
    # (its speed moves by up to 2x over minutes: docs/performance.md) fall on both alike.
    walls, peaks, ducks = [], [], []
    for i in range(RUNS):
        shutil.rmtree(lake, ignore_errors=True)
        t0 = time.perf_counter()
        child = subprocess.Popen([binary, "replay", "--input", events, "--lake", lake],
                                 stdout=subprocess.PIPE, text=True)
        stdout = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - t0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"replay failed: {stdout}")
        peaks.append(usage.ru_maxrss / 1024)
        if i == 0:
            print(stdout)
        duck = subprocess.run([sys.executable, reference, events, os.path.join(out, "duckdb-lake")], check=True,
                              capture_output=True, text=True).stdout.split()
        ducks.append((float(duck[0]), int(duck[1]), float(duck[2]), duck[3]))
        print(f"run {i + 1}: replay {walls[-1]:.2f} s ({n / walls[-1]:,.0f} events/s, peak RSS {peaks[-1]:.0f} MB); "
              f"duckdb {ducks[-1][0]:.2f} s")
    best, median = min(walls), statistics.median(walls)
    peak_mb = max(peaks)
    print(f"replay: {n} events, {size / 1e6:.0f} MB, best of {RUNS} {best:.2f} s: {n / best:,.0f} events/s, "
          f"{size / 1e6 / best:.1f} MB/s; median {median:.2f} s: {n / median:,.0f} events/s; peak RSS {peak_mb:.0f} MB")
    duck_walls = [d[0] for d in ducks]
    duck_best, duck_median = min(duck_walls), statistics.median(duck_walls)
    _, duck_rows, _, version = ducks[0]
    print(f"duckdb {version}: {duck_rows} rows, best {duck_best:.2f} s: {n / duck_best:,.0f} events/s; "
          f"median {duck_median:.2f} s; peak RSS {max(d[2] for d in ducks):.0f} MB")
    print(f"eventlake replay runs at {duck_best / best:.2f}x DuckDB's speed on the same input "
          f"(best against best; medians: {duck_median / median:.2f}x)")
    ok = lambda c: "ok" if c else "MISSED"
    # Judged on the best run, as the transform's throughput is; the median is printed beside it.
    print(f"targets: >= {TARGET_EVENTS_PER_S} events/s: {ok(n / best >= TARGET_EVENTS_PER_S)} (best of {RUNS}; "
          f"median: {ok(n / median >= TARGET_EVENTS_PER_S)}); peak RSS <= {TARGET_PEAK_RSS_MB} MB: "
          f"{ok(peak_mb <= TARGET_PEAK_RSS_MB)}")

if __name__ == "__main__":
    main()
