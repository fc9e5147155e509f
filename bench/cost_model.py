"""The monthly cost model of docs/cost.md: every price and assumption is a constant below, so a
reader can change one and print the tables again.

Usage: python3 bench/cost_model.py            (prints the Markdown tables of docs/cost.md)
"""
import math

# ---- Prices: AWS list prices, us-east-1, USD (check the pricing pages before relying on them).
KDS_ON_DEMAND_STREAM_HOUR = 0.04      # On-demand Standard, per stream-hour
KDS_ON_DEMAND_GB_IN = 0.08            # per GB written, each record rounded up to 1 KB
KDS_ON_DEMAND_GB_OUT = 0.04           # per GB read (Firehose is the one consumer), 1 KB rounding
KDS_SHARD_HOUR = 0.015                # provisioned, per shard-hour
KDS_PUT_UNIT_MILLION = 0.014          # provisioned, per million 25 KB PUT payload units
FIREHOSE_GB_INGESTED = 0.029          # first 500 TB/month, each record rounded up to 5 KB
FIREHOSE_GB_CONVERTED = 0.018         # record-format conversion (JSON → Parquet), per GB
FIREHOSE_DP_GB = 0.020                # dynamic partitioning, per GB processed
FIREHOSE_DP_1000_OBJECTS = 0.005      # dynamic partitioning, per 1,000 S3 objects delivered
LAMBDA_ARM_GB_SECOND = 0.0000133334   # arm64
LAMBDA_REQUEST_MILLION = 0.20
S3_GB_MONTH = 0.023                   # Standard
S3_PUT_1000 = 0.005
ATHENA_TB_SCANNED = 5.0               # 10 MB minimum per query
CLOUDWATCH_ALARM_MONTH = 0.10         # standard-resolution alarm (metric-math alarms: per metric)
CLOUDWATCH_DASHBOARD_MONTH = 3.0
KMS_KEY_MONTH = 1.0

# ---- Measured or chosen here.
HOURS_PER_MONTH = 730
EVENT_KB = 0.65                       # generated corpus: 638 MB per million events (docs/performance.md)
PARQUET_BYTES_PER_EVENT = 205         # local lake: 997,571 rows in 204 MB of SNAPPY Parquet
EVENT_TYPES = 26                      # glue-schema/catalog.json
LAMBDA_MEMORY_GB = 0.5                # the stack's default (512 MB)
LAMBDA_MS_PER_3MIB = 100              # measured ~8-10 ms on one x86 core (~400 MB/s, portable code
                                      # ~300); 512 MB of Lambda is ~0.3 vCPU; kept generous
PROCESSOR_BUFFER_MIB = 3              # stack default; interval 60 s
S3_BUFFER_SECONDS = 900               # staging/prod; buffer 128 MiB
ALARMS = 11 + 1                       # pipeline + curated job; ~3 metrics each on average
ALARM_METRICS = 30
KMS_KEYS = 2                          # stream, alarm topic
ANALYST_QUERIES = 1000                # per month, each over one event type and one day
CURATED_WRITES_PER_DAY = 3            # docs/curated.md: one write per day of the window (look-back 2)


def monthly(events_per_hour, pack):
    """Monthly cost by service, in USD, for a steady rate and `pack` events per Kinesis record."""
    events = events_per_hour * HOURS_PER_MONTH
    records = events / pack
    record_kb = EVENT_KB * pack + (pack - 1) * 0.001
    gb = events * EVENT_KB / 1e6
    cost = {}

    # Kinesis: on-demand is the stack's default; provisioned shown for comparison.
    kb_billed = math.ceil(record_kb)
    cost["Kinesis (on-demand)"] = (KDS_ON_DEMAND_STREAM_HOUR * HOURS_PER_MONTH
                                   + records * kb_billed / 1e6 * (KDS_ON_DEMAND_GB_IN + KDS_ON_DEMAND_GB_OUT))
    records_per_s = records / (HOURS_PER_MONTH * 3600)
    mb_per_s = gb * 1000 / (HOURS_PER_MONTH * 3600)
    shards = max(1, math.ceil(max(records_per_s / 1000, mb_per_s / 1.0) * 1.5))  # 50 % headroom
    cost["(Kinesis provisioned, for comparison)"] = (shards * KDS_SHARD_HOUR * HOURS_PER_MONTH
                                                      + records * math.ceil(record_kb / 25) / 1e6 * KDS_PUT_UNIT_MILLION)

    # Firehose: ingestion in 5 KB steps per Kinesis record, then conversion and partitioning.
    ingested_gb = records * math.ceil(record_kb / 5) * 5 / 1e6
    objects = EVENT_TYPES * (3600 / S3_BUFFER_SECONDS) * HOURS_PER_MONTH
    parquet_gb_month = events * PARQUET_BYTES_PER_EVENT / 1e9
    if parquet_gb_month / (EVENT_TYPES * 3600 / S3_BUFFER_SECONDS * HOURS_PER_MONTH) > 0.128:
        objects = parquet_gb_month / 0.128  # the 128 MiB size limit flushes before the interval
    cost["Firehose"] = (ingested_gb * FIREHOSE_GB_INGESTED + gb * FIREHOSE_GB_CONVERTED
                        + gb * FIREHOSE_DP_GB + objects / 1000 * FIREHOSE_DP_1000_OBJECTS)

    # Lambda: one invocation per 3 MiB, or per minute per shard-equivalent when the rate is low.
    invocations = max(gb * 1000 / PROCESSOR_BUFFER_MIB, 60 * HOURS_PER_MONTH)
    seconds = gb * 1000 / PROCESSOR_BUFFER_MIB * LAMBDA_MS_PER_3MIB / 1000 + invocations * 0.002
    cost["Lambda"] = seconds * LAMBDA_MEMORY_GB * LAMBDA_ARM_GB_SECOND + invocations / 1e6 * LAMBDA_REQUEST_MILLION

    # S3: one month of data (raw + curated copy) at rest after the first month, and the PUTs.
    cost["S3 (per month of data kept)"] = 2 * parquet_gb_month * S3_GB_MONTH + 2 * objects / 1000 * S3_PUT_1000

    # Athena: analyst queries over one type-day, and the daily curated-table job.
    type_day_tb = events_per_hour * 24 * PARQUET_BYTES_PER_EVENT / EVENT_TYPES / 1e12
    per_query = max(type_day_tb, 10e-6) * ATHENA_TB_SCANNED
    day_tb = events_per_hour * 24 * PARQUET_BYTES_PER_EVENT / 1e12
    cost["Athena"] = (ANALYST_QUERIES * per_query
                      # Each write: a MERGE reading one raw and one curated day, an OPTIMIZE one curated day.
                      + 30 * CURATED_WRITES_PER_DAY * (max(2 * day_tb, 10e-6) + max(day_tb, 10e-6)) * ATHENA_TB_SCANNED)

    cost["CloudWatch, KMS"] = (ALARM_METRICS * CLOUDWATCH_ALARM_MONTH + CLOUDWATCH_DASHBOARD_MONTH
                               + KMS_KEYS * KMS_KEY_MONTH)
    return cost, shards


def table(rates, pack):
    rows = {}
    shards = []
    for rate in rates:
        cost, n = monthly(rate, pack)
        shards.append(n)
        for k, v in cost.items():
            rows.setdefault(k, []).append(v)
    head = "| service | " + " | ".join(f"{r:,} events/h" for r in rates) + " |"
    lines = [head, "|---|" + "---:|" * len(rates)]
    for k, vs in rows.items():
        lines.append(f"| {k} | " + " | ".join(f"${v:,.2f}" for v in vs) + " |")
    total = [sum(v for k, v in monthly(r, pack)[0].items() if not k.startswith("(")) for r in rates]
    lines.append("| **total (on-demand stream)** | " + " | ".join(f"**${t:,.2f}**" for t in total) + " |")
    lines.append("| provisioned shards (50 % headroom) | " + " | ".join(str(s) for s in shards) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    rates = [1_000, 1_000_000, 1_000_000_000]
    print("One event per Kinesis record (`--pack 1`):\n")
    print(table(rates, 1))
    print("\n100 events per Kinesis record (`--pack 100`, Firehose deaggregates):\n")
    print(table(rates, 100))
