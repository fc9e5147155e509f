"""`just bench` (invoke part): whole-process `eventlake invoke` against the Python blueprint
(`bench/python/blueprint_transform.py` run as a script) on the same 3 MB invocation, side by
side in the same run: each process reads the invocation file, transforms it and writes the
response to a file. Reports the median and best wall time of each over the same number of
alternating runs, and the ratio.

Usage: python3 bench/invoke_bench.py target/release/eventlake [RUNS]
Method and numbers: docs/performance.md.
"""
import base64
import json
import os
import statistics
import subprocess
import sys
import time

TARGET_RATIO = 20
EVENT_BYTES = 3 * 1000 * 1000  # Firehose's largest processor buffer: 3 MB of record data


def invocation(binary, path):
    """A Kinesis-source invocation of generated events, up to EVENT_BYTES of record data."""
    events = subprocess.run([binary, "generate", "--events", "8000", "--duplicates", "0.01", "--invalid", "0.002",
                             "--seed", "7"], check=True, capture_output=True).stdout.splitlines()
    records, total = [], 0
    arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/eventlake-bench-events"
    for i, event in enumerate(events):
        if total + len(event) > EVENT_BYTES:
            break
        total += len(event)
        records.append({
            "recordId": f"{i + 1:020d}",
            "approximateArrivalTimestamp": 1710670500000,
            "data": base64.b64encode(event).decode("ascii"),
            "kinesisRecordMetadata": {"sequenceNumber": f"4959{i:052d}", "subsequenceNumber": 0,
                                      "partitionKey": f"pk-{i}", "shardId": "shardId-000000000000",
                                      "approximateArrivalTimestamp": 1710670500000},
        })
    body = {"invocationId": "bench", "sourceKinesisStreamArn": arn,
            "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/eventlake-bench",
            "region": "eu-west-1", "records": records}
    with open(path, "w") as f:
        json.dump(body, f)
    return len(records), total


def timed(command, stdin_path, out_path):
    with open(stdin_path, "rb") as stdin, open(out_path, "wb") as out:
        t0 = time.perf_counter()
        subprocess.run(command, stdin=stdin, stdout=out, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    out = os.path.join("target", "bench")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "invocation-3mb.json")
    n, event_bytes = invocation(binary, path)
    blueprint = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python", "blueprint_transform.py")
    commands = {
        "eventlake invoke": [binary, "invoke", "-"],
        "python3 blueprint": [sys.executable, blueprint],
    }
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(timed(command, path, os.path.join(out, "invoke-response.json")))
    print(f"invoke: {n} records, {event_bytes / 1e6:.1f} MB of events, "
          f"{os.path.getsize(path) / 1e6:.1f} MB invocation, {runs} alternating runs each")
    for name, t in times.items():
        print(f"  {name:18} median {statistics.median(t) * 1000:7.1f} ms, best {min(t) * 1000:7.1f} ms")
    ratio = statistics.median(times["python3 blueprint"]) / statistics.median(times["eventlake invoke"])
    print(f"  ratio (median): {ratio:.1f}x; target >= {TARGET_RATIO}x: {'ok' if ratio >= TARGET_RATIO else 'MISSED'}")


if __name__ == "__main__":
    main()
