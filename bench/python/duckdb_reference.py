"""DuckDB's conversion of an NDJSON event file into Hive-partitioned Parquet (event_type,
created_date; SNAPPY): the reference `just bench` runs next to `eventlake replay` on the same
input. It is a reference for a columnar engine's speed here, not the contract: no validation
beyond JSON and a numeric created_at, no deduplication, payload is the whole event text.

Usage: python3 duckdb_reference.py EVENTS.ndjson LAKE_DIR
Prints: <seconds of the COPY> <rows written> <peak RSS MB> <duckdb version>
"""
import resource
import shutil
import sys
import time

import duckdb


def main():
    events, lake = sys.argv[1], sys.argv[2]
    shutil.rmtree(lake, ignore_errors=True)
    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(f"""
COPY (
  SELECT json_extract_string(j, '$.event_uuid') AS event_uuid,
         json_extract_string(j, '$.event_name') AS event_name,
         TRY_CAST(json_extract_string(j, '$.created_at') AS BIGINT) AS created_at,
         to_timestamp(TRY_CAST(json_extract_string(j, '$.created_at') AS BIGINT)) AS created_datetime,
         NULLIF(split_part(json_extract_string(j, '$.event_name'), ':', 2), '') AS event_subtype,
         CAST(j AS VARCHAR) AS payload,
         split_part(json_extract_string(j, '$.event_name'), ':', 1) AS event_type,
         strftime(to_timestamp(TRY_CAST(json_extract_string(j, '$.created_at') AS BIGINT)), '%Y-%m-%d') AS created_date
  FROM (SELECT json AS j FROM read_ndjson_objects('{events}', ignore_errors = true))
  WHERE TRY_CAST(json_extract_string(j, '$.created_at') AS BIGINT) IS NOT NULL AND json_extract_string(j, '$.event_name') IS NOT NULL
) TO '{lake}' (FORMAT PARQUET, PARTITION_BY (event_type, created_date), COMPRESSION SNAPPY)
""")
    wall = time.perf_counter() - t0
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/**/*.parquet')").fetchone()[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(wall, rows, peak_mb, duckdb.__version__)


if __name__ == "__main__":
    main()
