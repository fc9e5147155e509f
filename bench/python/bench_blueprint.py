"""Times the Python baseline on one invocation file: json.loads of the body, the handler,
json.dumps of the response (the same scope the Rust benchmark times).

Usage: python3 bench_blueprint.py INVOCATION.json ITERATIONS
Prints one JSON object: {"seconds": [...], "records": N, "event_bytes": B, "ok": K}.
"""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blueprint_transform  # noqa: E402


def main():
    path, iterations = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        body = f.read()
    event = json.loads(body)
    event_bytes = sum(len(base64.b64decode(r["data"])) for r in event["records"])
    seconds = []
    ok = 0
    for _ in range(iterations):
        t0 = time.perf_counter()
        response = blueprint_transform.lambda_handler(json.loads(body), None)
        json.dumps(response)
        seconds.append(time.perf_counter() - t0)
        ok = sum(1 for r in response["records"] if r["result"] == "Ok")
    print(json.dumps({"seconds": seconds, "records": len(event["records"]), "event_bytes": event_bytes, "ok": ok}))


if __name__ == "__main__":
    main()
