//! The wheel engine: DataFusion from PyPI's `datafusion` wheel (the same engine the feature
//! `engine` links), in a Python child process that `wheel.py` drives. This process decides
//! everything (tables, views, statements) and computes the SQL functions
//! ([`crate::sql_functions`]) when the engine calls them; the child plans and runs the SQL.
//! Batches cross the pipes as Arrow IPC streams; the frames are described in `wheel.py`.

use std::io::{BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Field, Schema, SchemaRef};

use super::{
    pinned_version, s3_needs_in_process, wheel_pins, Engine, EngineResult, ParquetTable, SessionOptions, PYTHON_VAR,
};
use crate::sql_functions::Function;
use crate::CliError;

/// The Python side, with the versions it checks written in.
fn script() -> String {
    include_str!("wheel.py")
        .replace("WHEEL_PINS", &wheel_pins())
        .replace("DATAFUSION_VERSION", pinned_version("datafusion").unwrap_or_default())
        .replace("PYARROW_VERSION", pinned_version("pyarrow").unwrap_or_default())
        .replace("PYTHON_VAR_NAME", PYTHON_VAR)
}

/// Rows per batch in the child's session (DataFusion's default is 8,192). Each call of a SQL
/// function crosses the pipes, so fewer, larger batches: the drift report of 200,000 events
/// took 6.5 s instead of 11.9 s (`eventlake quality`, measured 2026-12-03). Results do not
/// depend on it; the in-process engine keeps the default.
const BATCH_ROWS: usize = 65_536;

/// The pipes to the child.
struct Pipes {
    to: BufWriter<ChildStdin>,
    from: BufReader<ChildStdout>,
}

/// A running wheel engine.
pub(super) struct Wheel {
    child: Child,
    pipes: Mutex<Option<Pipes>>,
    functions: Vec<Function>,
    python: String,
}

/// What the child answered to a command.
enum Answer {
    Done,
    Arrow(Vec<u8>),
}

fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&[kind])?;
    w.write_all(&(payload.len() as u64).to_le_bytes())?;
    w.write_all(payload)
}

fn read_frame(r: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 9];
    r.read_exact(&mut head)?;
    let length = u64::from_le_bytes(head[1..].try_into().expect("8 bytes"));
    let mut payload = vec![0u8; usize::try_from(length).map_err(std::io::Error::other)?];
    r.read_exact(&mut payload)?;
    Ok((head[0], payload))
}

/// `batches` of `schema` as an Arrow IPC stream.
fn stream(schema: &Schema, batches: &[RecordBatch]) -> EngineResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, schema).map_err(|e| e.to_string())?;
    for b in batches {
        writer.write(b).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    drop(writer);
    Ok(out)
}

/// The schema and batches of an Arrow IPC stream.
fn batches(bytes: &[u8]) -> EngineResult<(SchemaRef, Vec<RecordBatch>)> {
    let reader = StreamReader::try_new(bytes, None).map_err(|e| format!("the wheel engine's result: {e}"))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the wheel engine's result: {e}"))?;
    Ok((schema, batches))
}

impl Wheel {
    /// Starts the child (the interpreter [`PYTHON_VAR`] names, else `python3`) and registers
    /// the SQL functions with it.
    pub(super) fn start(options: &SessionOptions) -> Result<Wheel, CliError> {
        let python = std::env::var(PYTHON_VAR)
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "python3".into());
        let memory = options.memory_mb.map(|mb| mb.to_string()).unwrap_or_default();
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(script())
            .arg(memory)
            .arg(BATCH_ROWS.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                CliError::Engine(format!(
                    "the wheel engine: cannot run {python} ({e}); set {PYTHON_VAR} to a Python 3 with `pip install {}`, or build eventlake with the feature `engine`",
                    wheel_pins()
                ))
            })?;
        let pipes = Pipes {
            to: BufWriter::new(child.stdin.take().expect("piped stdin")),
            from: BufReader::new(child.stdout.take().expect("piped stdout")),
        };
        let engine = Wheel {
            child,
            pipes: Mutex::new(Some(pipes)),
            functions: crate::sql_functions::functions(),
            python,
        };
        // The first frame says whether the wheel imported.
        {
            let mut guard = engine.pipes.lock().expect("not shared yet");
            let pipes = guard.as_mut().expect("just made");
            engine.serve(pipes).map_err(CliError::Engine)?;
        }
        for f in &engine.functions {
            let mut fields: Vec<Field> = f
                .args
                .iter()
                .enumerate()
                .map(|(i, t)| Field::new(format!("a{i}"), t.clone(), true))
                .collect();
            fields.push(Field::new("returns", f.returns.clone(), true));
            let signature = stream(&Schema::new(fields), &[]).map_err(CliError::Engine)?;
            engine
                .call(serde_json::json!({"op": "function", "name": f.name}), Some(signature))
                .map_err(|e| CliError::Engine(format!("the wheel engine: function {}: {e}", f.name)))?;
        }
        Ok(engine)
    }

    /// Sends a command (and its Arrow data), then serves the engine's function calls until it
    /// answers. The pipes are held for the whole exchange: one call at a time.
    fn call(&self, command: serde_json::Value, arrow: Option<Vec<u8>>) -> EngineResult<Answer> {
        let mut guard = self.pipes.lock().map_err(|_| self.gone())?;
        let pipes = guard.as_mut().ok_or_else(|| self.gone())?;
        write_frame(&mut pipes.to, b'C', command.to_string().as_bytes())
            .and_then(|()| match &arrow {
                Some(bytes) => write_frame(&mut pipes.to, b'A', bytes),
                None => Ok(()),
            })
            .and_then(|()| pipes.to.flush())
            .map_err(|_| self.gone())?;
        self.serve(pipes)
    }

    /// Reads frames until the engine's answer, computing each function call it makes.
    fn serve(&self, pipes: &mut Pipes) -> EngineResult<Answer> {
        loop {
            let (kind, payload) = read_frame(&mut pipes.from).map_err(|_| self.gone())?;
            match kind {
                b'O' => return Ok(Answer::Done),
                b'A' => return Ok(Answer::Arrow(payload)),
                b'E' => return Err(String::from_utf8_lossy(&payload).into_owned()),
                b'F' => {
                    let name = serde_json::from_slice::<serde_json::Value>(&payload)
                        .ok()
                        .and_then(|v| v["name"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    let (kind, args) = read_frame(&mut pipes.from).map_err(|_| self.gone())?;
                    let (reply, bytes) = match self.compute(&name, kind, &args) {
                        Ok(bytes) => (b'A', bytes),
                        Err(text) => (b'E', text.into_bytes()),
                    };
                    write_frame(&mut pipes.to, reply, &bytes)
                        .and_then(|()| pipes.to.flush())
                        .map_err(|_| self.gone())?;
                }
                other => return Err(format!("the wheel engine sent a frame of kind {other}")),
            }
        }
    }

    /// Computes function `name` over the arguments in `args` (an Arrow frame).
    fn compute(&self, name: &str, kind: u8, args: &[u8]) -> EngineResult<Vec<u8>> {
        let f = self
            .functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("no SQL function {name:?}"))?;
        if kind != b'A' {
            return Err(format!("{name}: no arguments came"));
        }
        let (_, batches) = batches(args)?;
        let columns: Vec<ArrayRef> = match batches.as_slice() {
            [batch] => batch.columns().to_vec(),
            _ => return Err(format!("{name}: expected one batch of arguments")),
        };
        let result = (f.apply)(&columns)?;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "result",
            result.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![result]).map_err(|e| e.to_string())?;
        stream(&schema, &[batch])
    }

    /// The error for a child that is gone (it printed why on stderr, if it could).
    fn gone(&self) -> String {
        format!("the wheel engine ({}) stopped; its messages are above", self.python)
    }

    fn done(&self, answer: Answer) -> EngineResult<()> {
        match answer {
            Answer::Done => Ok(()),
            Answer::Arrow(_) => Err("the wheel engine sent data where none was due".into()),
        }
    }

    fn arrow(&self, answer: Answer) -> EngineResult<(SchemaRef, Vec<RecordBatch>)> {
        match answer {
            Answer::Arrow(bytes) => batches(&bytes),
            Answer::Done => Err("the wheel engine sent no result".into()),
        }
    }
}

impl Engine for Wheel {
    fn register_parquet(&self, table: ParquetTable<'_>) -> EngineResult<()> {
        let ParquetTable {
            name,
            location,
            schema,
            partition_cols,
        } = table;
        if location.starts_with("s3://") {
            return Err(s3_needs_in_process(location));
        }
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(partition_cols.iter().map(|(n, t)| Field::new(n, t.clone(), false)));
        let names: Vec<&str> = partition_cols.iter().map(|(n, _)| n.as_str()).collect();
        let answer = self.call(
            serde_json::json!({"op": "parquet", "name": name, "location": location, "partition_cols": names}),
            Some(stream(&Schema::new(fields), &[])?),
        )?;
        self.done(answer)
    }

    fn register_batch(&self, name: &str, batch: RecordBatch) -> EngineResult<()> {
        let bytes = stream(&batch.schema(), &[batch])?;
        let answer = self.call(serde_json::json!({"op": "batch", "name": name}), Some(bytes))?;
        self.done(answer)
    }

    fn deregister(&self, name: &str) -> EngineResult<()> {
        let answer = self.call(serde_json::json!({"op": "deregister", "name": name}), None)?;
        self.done(answer)
    }

    fn execute(&self, sql: &str) -> EngineResult<()> {
        let answer = self.call(serde_json::json!({"op": "execute", "sql": sql}), None)?;
        self.done(answer)
    }

    fn query(&self, sql: &str, read_only: bool, max_rows: Option<usize>) -> EngineResult<Vec<RecordBatch>> {
        let answer = self.call(
            serde_json::json!({"op": "query", "sql": sql, "read_only": read_only, "max_rows": max_rows}),
            None,
        )?;
        Ok(self.arrow(answer)?.1)
    }

    fn schema(&self, sql: &str) -> EngineResult<SchemaRef> {
        let answer = self.call(serde_json::json!({"op": "schema", "sql": sql}), None)?;
        Ok(self.arrow(answer)?.0)
    }
}

impl Drop for Wheel {
    /// Closes the child's stdin (it exits at the end of its input) and waits for it.
    fn drop(&mut self) {
        if let Ok(mut pipes) = self.pipes.lock() {
            pipes.take();
        }
        let _ = self.child.wait();
    }
}
