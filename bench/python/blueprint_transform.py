"""The baseline: the eventlake record contract written the way AWS's Python Firehose
blueprints do it (json.loads per record, build a dict, json.dumps, base64).

Used by `just bench` as the comparison point and by the fixture maker as an independent
implementation of the contract for the large batch. It is exact only for events written
as compact JSON (payload members are re-serialized, not copied byte-for-byte).
"""
import base64
import json
import re
from datetime import datetime, timezone

EVENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_CREATED_AT = 253402300799
DERIVED = ("event_uuid", "event_name", "created_at")


def transform_event(data):
    """Returns (output bytes, partition keys, dedup key) or raises ValueError."""
    event = json.loads(data.decode("utf-8"), object_pairs_hook=list)
    if not isinstance(event, list):
        raise ValueError("not an object")
    fields = {}
    payload = []
    for key, value in event:
        if key in DERIVED:
            if key in fields:
                raise ValueError(f"duplicate {key}")
            fields[key] = value
        else:
            payload.append((key, value))
    uuid, name, created_at = (fields.get(k) for k in DERIVED)
    if not isinstance(uuid, str) or not UUID.match(uuid):
        raise ValueError("bad event_uuid")
    if not isinstance(name, str) or any(s == "" for s in name.split(":")):
        raise ValueError("bad event_name")
    if type(created_at) is not int or not 0 <= created_at <= MAX_CREATED_AT:
        raise ValueError("bad created_at")
    segments = name.split(":")
    if not EVENT_TYPE.match(segments[0]):
        raise ValueError("bad event_type")
    when = datetime.fromtimestamp(created_at, tz=timezone.utc)

    def compact(v):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)

    def restore(v):
        # object_pairs_hook turned nested objects into lists of pairs; turn them back.
        if isinstance(v, list) and all(isinstance(p, tuple) and len(p) == 2 for p in v) and v:
            return {k: restore(x) for k, x in v}
        if isinstance(v, list):
            return [restore(x) for x in v]
        return v

    body = ",".join(compact(k) + ":" + compact(restore(v)) for k, v in payload)
    out = {
        "event_uuid": uuid,
        "event_name": name,
        "created_at": created_at,
        "created_datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event_type": segments[0],
        "event_subtype": segments[1] if len(segments) > 1 else None,
        "payload": "{" + body + "}",
    }
    keys = {"event_type": segments[0], "created_date": when.strftime("%Y-%m-%d")}
    return (compact(out) + "\n").encode("utf-8"), keys, (uuid.lower(), created_at)


def lambda_handler(event, context):
    seen = set()
    output = []
    for record in event["records"]:
        try:
            data, keys, dedup = transform_event(base64.b64decode(record["data"]))
        except (ValueError, UnicodeDecodeError):
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        if dedup in seen:
            output.append({"recordId": record["recordId"], "result": "Dropped", "data": record["data"]})
            continue
        seen.add(dedup)
        output.append({
            "recordId": record["recordId"],
            "result": "Ok",
            "data": base64.b64encode(data).decode("ascii"),
            "metadata": {"partitionKeys": keys},
        })
    return {"records": output}


if __name__ == "__main__":
    import sys
    print(json.dumps(lambda_handler(json.load(sys.stdin), None)))
