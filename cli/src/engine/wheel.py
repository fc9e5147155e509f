# The wheel engine's Python side (cli/src/engine/wheel.rs starts it with `python3 -c`):
# DataFusion from PyPI's `datafusion` wheel, driven by the eventlake process over this
# process's stdin and stdout. It only carries out what it is told; which tables, views and
# statements a command needs is decided in Rust, and the SQL functions are computed there
# too (each call is sent back to eventlake), so both engines share one implementation.
#
# Frames, both ways: one kind byte, the payload's length (u64, little-endian), the payload.
#   C  a command (JSON), followed by an A frame when the command carries Arrow data
#   A  an Arrow IPC stream
#   O  done, no data
#   E  an error (UTF-8 text)
#   F  a function call (JSON {"name": …}), followed by an A frame of its arguments; answered
#      with an A frame of one column, or an E frame
import json
import os
import struct
import sys
import threading

# stdout carries frames only: whatever else writes to fd 1 goes to stderr.
FRAMES_OUT = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
FRAMES_IN = sys.stdin.buffer
LOCK = threading.Lock()


def write_frame(kind, payload):
    FRAMES_OUT.write(kind + struct.pack("<Q", len(payload)))
    FRAMES_OUT.write(payload)


def read_frame():
    head = FRAMES_IN.read(9)
    if len(head) < 9:
        return None, None
    (length,) = struct.unpack("<Q", head[1:])
    payload = FRAMES_IN.read(length)
    if len(payload) < length:
        return None, None
    return head[:1], payload


def fail(text):
    with LOCK:
        write_frame(b"E", text.encode())
        FRAMES_OUT.flush()


try:
    import pyarrow as pa
    import datafusion
    from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions, udf
except ImportError as e:
    fail(f"the wheel engine: {sys.executable} cannot import the DataFusion wheel ({e}): pip install WHEEL_PINS")
    sys.exit(0)
# The versions eventlake was built against (cli/src/engine/requirements.txt): another engine
# version may plan or print differently.
if (datafusion.__version__, pa.__version__) != ("DATAFUSION_VERSION", "PYARROW_VERSION"):
    fail(
        f"the wheel engine: {sys.executable} has datafusion {datafusion.__version__} and pyarrow {pa.__version__};"
        " eventlake needs WHEEL_PINS: pip install WHEEL_PINS (or set PYTHON_VAR_NAME to a Python that has them)"
    )
    sys.exit(0)


def stream_bytes(schema, batches):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for b in batches:
            writer.write_batch(b)
    return sink.getvalue().to_pybytes()


def read_arrow():
    kind, payload = read_frame()
    if kind != b"A":
        raise RuntimeError("the eventlake process sent no Arrow data where it was due")
    return pa.ipc.open_stream(payload)


def function(name):
    def call(*args):
        names = [f"a{i}" for i in range(len(args))]
        batch = pa.RecordBatch.from_arrays(list(args), names=names)
        with LOCK:
            write_frame(b"F", json.dumps({"name": name}).encode())
            write_frame(b"A", stream_bytes(batch.schema, [batch]))
            FRAMES_OUT.flush()
            kind, payload = read_frame()
        if kind == b"E":
            raise RuntimeError(payload.decode())
        if kind != b"A":
            raise RuntimeError(f"{name}: the eventlake process did not answer")
        return pa.ipc.open_stream(payload).read_all().column(0).combine_chunks()

    return call


def engine_text(e):
    return str(e).removeprefix("DataFusion error: ")


def run(ctx, command):
    op = command["op"]
    if op == "function":
        schema = read_arrow().schema
        args = [f.type for f in schema][:-1]
        returns = schema.field("returns").type
        ctx.register_udf(udf(function(command["name"]), args, returns, "immutable", name=command["name"]))
    elif op == "parquet":
        schema = read_arrow().schema
        partitions = set(command["partition_cols"])
        columns = pa.schema([f for f in schema if f.name not in partitions])
        partition_cols = [(f.name, f.type) for f in schema if f.name in partitions]
        ctx.register_listing_table(
            command["name"], command["location"], table_partition_cols=partition_cols, file_extension=".parquet", schema=columns
        )
    elif op == "batch":
        reader = read_arrow()
        batches = list(reader)
        if not batches:
            batches = [pa.RecordBatch.from_pylist([], schema=reader.schema)]
        ctx.register_record_batches(command["name"], [batches])
    elif op == "deregister":
        ctx.deregister_table(command["name"])
    elif op == "execute":
        ctx.sql(command["sql"])
    elif op == "query":
        if command["read_only"]:
            options = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)
        else:
            options = SQLOptions()
        df = ctx.sql_with_options(command["sql"], options)
        if command["max_rows"] is not None:
            df = df.limit(command["max_rows"])
        batches = df.collect()
        return stream_bytes(batches[0].schema if batches else df.schema(), batches)
    elif op == "schema":
        return stream_bytes(ctx.sql(command["sql"]).schema(), [])
    else:
        raise RuntimeError(f"unknown command {op}")
    return None


def main():
    # argv[1]: the memory pool in MiB ("" for none); argv[2]: rows per batch.
    memory_mb, batch_rows = sys.argv[1], int(sys.argv[2])
    runtime = RuntimeEnvBuilder()
    if memory_mb:
        runtime = runtime.with_fair_spill_pool(int(memory_mb) << 20)
    ctx = SessionContext(SessionConfig().with_batch_size(batch_rows), runtime)
    # Ready: the first frame eventlake reads.
    with LOCK:
        write_frame(b"O", b"")
        FRAMES_OUT.flush()
    while True:
        kind, payload = read_frame()
        if kind is None:
            return
        try:
            result = run(ctx, json.loads(payload))
        except Exception as e:  # the engine's error, for the eventlake process to report
            fail(engine_text(e))
            continue
        with LOCK:
            if result is None:
                write_frame(b"O", b"")
            else:
                write_frame(b"A", result)
            FRAMES_OUT.flush()


main()
