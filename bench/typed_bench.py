"""`just bench` (typed columns, issue #19): what a query on a type-specific field reads from
the curated table's typed column, against the same query through the payload JSON, on a
local lake of N generated events (default 400,000) replayed and compacted with the release
`eventlake` binary. Bytes read are DataFusion's own count (`bytes_scanned` of EXPLAIN
ANALYZE, summed over the plan's Parquet scans); storage is the Parquet metadata of the
curated files (DuckDB's `parquet_metadata`, the package pinned in the justfile).

Usage: python3 bench/typed_bench.py target/release/eventlake [N]
Method and numbers: docs/performance.md.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import time

TARGET_BYTES_RATIO = 20  # the typed query reads at most 1/20 of the payload query's bytes
# The typed columns add at most 10 % to the lake's storage: what the bucket holds, the raw
# table (kept: the lake bucket's lifecycle only moves it to cheaper classes) and the curated
# table. Their share of the curated table alone is printed beside it.
TARGET_STORAGE_GROWTH = 0.10

# The same sum over the same rows of the curated table: one through the typed column, one
# through the payload as the typed view's raw side reads it; and through the event's view.
WHERE = "event_type = 'payment' AND event_name = 'payment:order:completed'"
QUERIES = {
    "typed column": f"SELECT sum(amount) AS total, count(amount) AS n FROM events_curated WHERE {WHERE}",
    "payload JSON": "SELECT sum(TRY_CAST(json_extract_scalar(payload, '$.amount') AS DECIMAL(12,2))) AS total, "
                    "count(TRY_CAST(json_extract_scalar(payload, '$.amount') AS DECIMAL(12,2))) AS n "
                    f"FROM events_curated WHERE {WHERE}",
    "event view": "SELECT sum(amount) AS total, count(amount) AS n FROM payment_order_completed",
}


UNLISTED_VIEW = "view, no days listed"


def unlisted_view_query():
    """The same sum through the view's SQL as generated, its curated-days slot not filled (as
    Athena's is between a first deploy and the first daily run), run here inline: every day
    from the raw table through the payload."""
    sql = open(os.path.join("glue-schema", "athena", "views", "payment_order_completed.sql")).read()
    select = sql[sql.index(" AS\nSELECT") + 4:].rstrip().rstrip(";").replace("eventlake.", "")
    return f"SELECT sum(amount) AS total, count(amount) AS n FROM ({select}) AS v"


def run(binary, lake, sql):
    out = subprocess.run([binary, "query", "--lake", lake, "--format", "csv", "--max-rows", "0", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout


# DataFusion prints counts in thousands (K), millions (M) and billions (B), one decimal: the
# bytes are exact to three significant digits, enough for a ratio.
UNITS = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}


def bytes_scanned(binary, lake, sql):
    plan = run(binary, lake, f"EXPLAIN ANALYZE {sql}")
    found = re.findall(r"bytes_scanned=([\d.]+) ?([KMB]?)", plan)
    if not found:
        sys.exit(f"typed_bench: no bytes_scanned in the plan of {sql}")
    return int(sum(float(v) * UNITS[u] for v, u in found))


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400_000
    out = os.path.join("target", "bench")
    os.makedirs(out, exist_ok=True)
    events = os.path.join(out, f"events-typed-{n}.ndjson")
    lake = os.path.join(out, "typed-lake")
    if not os.path.exists(events):
        subprocess.run([binary, "generate", "--events", str(n), "--duplicates", "0.01", "--output", events], check=True)
    shutil.rmtree(lake, ignore_errors=True)
    subprocess.run([binary, "replay", "--input", events, "--lake", lake], check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run([binary, "compact", "--lake", lake], check=True, capture_output=True)
    print(f"typed columns: {n} events replayed and compacted with typed columns in {time.perf_counter() - t0:.1f} s")

    results, scanned = {}, {}
    for name, sql in {**QUERIES, UNLISTED_VIEW: unlisted_view_query()}.items():
        results[name] = run(binary, lake, sql).splitlines()[1]
        scanned[name] = bytes_scanned(binary, lake, sql)
        print(f"  {name:20}: {scanned[name]:>12,} bytes read, result {results[name]}")
    equal = len(set(results.values())) == 1

    import duckdb
    files = glob.glob(os.path.join(lake, "curated", "**", "*.parquet"), recursive=True)
    typed = set(re.findall(r'"name": "(\w+)"', open(os.path.join("glue-schema", "athena", "curated-columns.json")).read()))
    rows = duckdb.sql(f"SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata({files!r}) "
                      "GROUP BY path_in_schema").fetchall()
    # The typed columns' bytes: their column chunks, plus every footer byte of the curated
    # files (the footers list 95 typed column paths of 103: an upper bound of their share).
    curated_files = sum(os.path.getsize(f) for f in files)
    chunks = sum(b for _, b in rows)
    typed_bytes = sum(b for col, b in rows if col.split(".")[0] in typed) + (curated_files - chunks)
    other_bytes = curated_files - typed_bytes
    payload_bytes = sum(b for col, b in rows if col == "payload")
    raw_bytes = sum(os.path.getsize(f) for f in glob.glob(os.path.join(lake, "events", "**", "*.parquet"), recursive=True))
    growth = typed_bytes / (raw_bytes + other_bytes)
    ratio = scanned["payload JSON"] / max(scanned["typed column"], 1)
    print(f"  storage: the curated table without its typed columns {other_bytes:,} bytes (payload {payload_bytes:,}), "
          f"typed columns {typed_bytes:,} bytes: +{100 * growth:.1f} % of the lake (raw files {raw_bytes:,} bytes), "
          f"+{100 * typed_bytes / other_bytes:.1f} % of the curated table alone")
    print(f"  the typed column reads 1/{ratio:.0f} of the payload query's bytes; the event view "
          f"{scanned['event view']:,} (curated days listed, as in Athena after each daily run); with no "
          f"days listed {scanned[UNLISTED_VIEW]:,} (the raw table's payloads)")
    ok = lambda c: "ok" if c else "MISSED"
    print(f"targets: typed query <= 1/{TARGET_BYTES_RATIO} of the bytes: {ok(ratio >= TARGET_BYTES_RATIO)}; "
          f"equal results: {ok(equal)}; lake storage growth <= {100 * TARGET_STORAGE_GROWTH:.0f} %: "
          f"{ok(growth <= TARGET_STORAGE_GROWTH)}")


if __name__ == "__main__":
    main()
