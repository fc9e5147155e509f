"""`just bench` (issue #17): the two SQL engines of `eventlake query` side by side on one
local lake. The in-process engine (DataFusion linked into the command, feature `engine`) is
the baseline; the wheel engine (DataFusion's Python wheel in a child process, which the
build `just demo` makes uses) is judged against it. Each statement runs with both engines
in turns (which goes first alternates), RUNS times each, wall time of the whole command
(process start, Python start for the wheel, planning, scan, printing); best and median.

Usage: python3 bench/engine_bench.py target/release/eventlake [N]
(N events generated and replayed into target/bench/engine-lake; default 1,000,000).
Method and numbers: docs/performance.md, "First build".
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

RUNS = 3
ENGINES = ["in-process", "wheel"]


def demo_queries(binary):
    """The demo's four queries, as `eventlake demo` runs them (from its source)."""
    source = open(os.path.join(os.path.dirname(__file__), "..", "cli", "src", "demo.rs")).read()
    block = source[source.index("pub const QUERIES"):source.index("];", source.index("pub const QUERIES"))]
    sqls = [line.strip().strip(",").strip('"') for line in block.splitlines() if line.strip().startswith('"SELECT')]
    assert len(sqls) == 4, sqls
    return sqls


def timed(args, engine):
    env = dict(os.environ, EVENTLAKE_ENGINE=engine)
    start = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(args[:2])} with {engine}: {out.stderr.strip()}")
    return elapsed, out.stdout


def main():
    binary = sys.argv[1]
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    lake = os.path.join("target", "bench", "engine-lake")
    shutil.rmtree(lake, ignore_errors=True)
    subprocess.run([binary, "demo", "--events", str(events), "--lake", lake], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, EVENTLAKE_ENGINE="in-process"))
    cases = [("SELECT 1", [binary, "query", "--lake", lake, "SELECT 1"])]
    for i, sql in enumerate(demo_queries(binary), 1):
        cases.append((f"demo query {i}", [binary, "query", "--lake", lake, sql]))
    cases.append(("quality (field_drift, 7 days)", [binary, "quality", "--lake", lake]))
    print(f"engine bench: {events:,} events, {RUNS} runs per engine in turns, wall seconds (best / median)")
    print(f"{'statement':32} {'in-process':>18} {'wheel':>18} {'wheel / in-process':>20}")
    for name, args in cases:
        times = {e: [] for e in ENGINES}
        outputs = {}
        for run in range(RUNS):
            order = ENGINES if run % 2 == 0 else list(reversed(ENGINES))
            for engine in order:
                elapsed, out = timed(args, engine)
                times[engine].append(elapsed)
                outputs.setdefault(engine, out)
        if outputs["wheel"] != outputs["in-process"]:
            sys.exit(f"{name}: the engines' outputs differ")
        best = {e: min(t) for e, t in times.items()}
        median = {e: statistics.median(t) for e, t in times.items()}
        cell = lambda e: f"{best[e]:.2f} / {median[e]:.2f}"
        print(f"{name:32} {cell('in-process'):>18} {cell('wheel'):>18} "
              f"{best['wheel'] / best['in-process']:>9.2f} / {median['wheel'] / median['in-process']:.2f}")
    print("same output from both engines for every statement")


if __name__ == "__main__":
    main()
