//! `replay --lake s3://…` against a real S3 protocol peer: moto's server on loopback
//! (`pip install "moto[server]"`; `just test` installs it). The objects written to S3 must be
//! exactly what a local replay of the same input writes, key layout included; and a replay
//! killed (by a fault hook, SIGKILL or Ctrl-C) then run again ends as one uninterrupted run,
//! on a directory and on S3.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use eventlake::generate::{GenerateOptions, Generator};
use eventlake_glue_schema::Catalog;
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};

/// moto's S3 server on a loopback port it picks itself (`-p 0`; the port is read from the
/// line it prints), stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install it with pip install \"moto[server]==5.2.5\" (just test does)")
            });
        // moto logs every request on stderr: a thread reads it all, passing on the port.
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(port) = line.split("Running on http://127.0.0.1:").nth(1) {
                    let _ = port_tx.send(port.trim().parse::<u16>());
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto_server printed no `Running on http://127.0.0.1:PORT` line within 60 s")
            .expect("moto_server printed a port");
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// Creates a bucket (moto accepts unsigned requests).
    fn create_bucket(&self, bucket: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "create bucket: {response}");
    }

    fn env(&self) -> [(&'static str, String); 5] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Every object under `bucket/prefix`, by key relative to the prefix.
    fn objects(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut out = BTreeMap::new();
            let mut folders = vec![object_store::path::Path::from(prefix)];
            while let Some(folder) = folders.pop() {
                let listed = store.list_with_delimiter(Some(&folder)).await.unwrap();
                folders.extend(listed.common_prefixes);
                for meta in listed.objects {
                    let bytes = store.get(&meta.location).await.unwrap().bytes().await.unwrap();
                    let key = meta
                        .location
                        .as_ref()
                        .strip_prefix(&format!("{prefix}/"))
                        .unwrap()
                        .to_string();
                    out.insert(key, bytes.to_vec());
                }
            }
            out
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventlake-s3-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn eventlake(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlake"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

/// Files under `dir`, by `/`-separated path relative to it.
fn local_objects(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let key = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(key, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Keys with the object name's time and random id replaced: what must match between two runs.
fn layout(objects: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut keys: Vec<String> = objects
        .keys()
        .map(|k| {
            let (dir, name) = k.rsplit_once('/').unwrap();
            // Error objects are filed by the hour they were written in, which two runs may
            // not share.
            let dir = match dir.split_once("-failed/") {
                Some((kind, _)) => format!("{kind}-failed/<hour>"),
                None => dir.to_string(),
            };
            let ext = name
                .rsplit_once('.')
                .map(|(_, e)| e)
                .filter(|e| *e == "parquet")
                .unwrap_or("");
            format!(
                "{dir}/eventlake-local-1-<time>-<uuid>{}{ext}",
                if ext.is_empty() { "" } else { "." }
            )
        })
        .collect();
    keys.sort();
    keys
}

/// Rows of every Parquet object, as JSON lines, sorted: the content to compare.
fn rows(objects: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut rows = Vec::new();
    for (key, bytes) in objects.iter().filter(|(k, _)| k.ends_with(".parquet")) {
        let partition = key.rsplit_once('/').unwrap().0;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            for line in row_texts(&batch) {
                rows.push(format!("{partition} {line}"));
            }
        }
    }
    rows.sort();
    rows
}

/// Each row of `batch` as text: column values in order (enough to compare two lakes).
fn row_texts(batch: &arrow_array::RecordBatch) -> Vec<String> {
    use arrow_array::Array;
    (0..batch.num_rows())
        .map(|i| {
            batch
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(i) {
                        "NULL".to_string()
                    } else {
                        cell_text(c.as_ref(), i)
                    }
                })
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect()
}

fn cell_text(array: &dyn arrow_array::Array, i: usize) -> String {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, TimestampMicrosecondType};
    use arrow_schema::DataType;
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Timestamp(_, _) => array.as_primitive::<TimestampMicrosecondType>().value(i).to_string(),
        other => panic!("unexpected column type {other}"),
    }
}

/// Error objects' records (JSON lines) without the per-run timestamps.
fn error_lines(objects: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut lines: Vec<String> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("errors/"))
        .flat_map(|(_, bytes)| {
            String::from_utf8(bytes.clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(&l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("arrivalTimestamp");
            o.remove("attemptEndingTimestamp");
            v.to_string()
        })
        .collect();
    lines.sort();
    lines
}

/// Generated events (`n`, `seed`, shares of duplicates and invalid ones) with `change`
/// applied, written one per line to `dir/events.ndjson`.
fn write_events(
    dir: &Path,
    n: u64,
    seed: u64,
    duplicates: f64,
    invalid: f64,
    change: impl FnOnce(&mut Vec<String>),
) -> PathBuf {
    let options = GenerateOptions {
        events: n,
        seed,
        duplicates,
        invalid,
        ..GenerateOptions::default()
    };
    let mut events: Vec<String> = Generator::new(Catalog::embedded(), options).collect();
    change(&mut events);
    let input = dir.join("events.ndjson");
    std::fs::write(&input, events.join("\n") + "\n").unwrap();
    input
}

#[test]
fn replay_to_s3_writes_exactly_what_a_local_replay_writes() {
    let moto = Moto::start();
    moto.create_bucket("eventlake-test");
    let dir = temp_dir("same");
    let input = write_events(&dir, 3000, 11, 0.02, 0.01, |_| {});
    let input = input.to_str().unwrap();
    let local = dir.join("lake");

    let to_s3 = eventlake(
        &["replay", "--input", input, "--lake", "s3://eventlake-test/lake"],
        &moto.env(),
    );
    assert!(to_s3.status.success(), "{}", String::from_utf8_lossy(&to_s3.stderr));
    let to_dir = eventlake(&["replay", "--input", input, "--lake", local.to_str().unwrap()], &[]);
    assert!(to_dir.status.success(), "{}", String::from_utf8_lossy(&to_dir.stderr));

    let in_s3 = moto.objects("eventlake-test", "lake");
    let on_disk = local_objects(&local);
    assert!(
        in_s3.keys().any(|k| k.starts_with("events/event_type=")),
        "{:?}",
        in_s3.keys()
    );
    assert!(in_s3.keys().any(|k| k.starts_with("errors/processing-failed/")));
    assert!(in_s3.keys().all(|k| !k.contains(".tmp")), "no temporary objects in S3");
    assert_eq!(layout(&in_s3), layout(&on_disk));
    let s3_rows = rows(&in_s3);
    assert!(s3_rows.len() > 2800, "{} rows", s3_rows.len());
    assert_eq!(s3_rows, rows(&on_disk));
    assert_eq!(error_lines(&in_s3), error_lines(&on_disk));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_bucket_is_one_line_before_any_work() {
    let moto = Moto::start();
    let dir = temp_dir("missing");
    let input = dir.join("events.ndjson");
    std::fs::write(&input, "{}\n").unwrap();
    let out = eventlake(
        &[
            "replay",
            "--input",
            input.to_str().unwrap(),
            "--lake",
            "s3://no-such-bucket/lake",
        ],
        &moto.env(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("eventlake: cannot use s3://no-such-bucket/lake: "),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unsupported_url_is_one_line() {
    let out = eventlake(&["replay", "--input", "-", "--lake", "gs://bucket/lake"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "eventlake: unsupported lake location gs://bucket/lake: use a directory or s3://bucket/prefix"
    );
}

/// A table definition with `created_datetime` declared a date, in `dir`: every transformed
/// record fails conversion against it.
fn broken_table(dir: &Path) -> PathBuf {
    let broken = dir.join("broken-table.json");
    std::fs::write(
        &broken,
        eventlake_glue_schema::TABLE_JSON.replacen(
            r#""name": "created_datetime", "type": "timestamp""#,
            r#""name": "created_datetime", "type": "date""#,
            1,
        ),
    )
    .unwrap();
    broken
}

/// The runs of one lake through the binary: replay with a broken table (every record fails
/// conversion), re-drive with the real one, re-drive again (nothing left), compact, query.
/// Returns what each step printed that must not depend on where the lake is.
fn redrive_compact_query(lake: &str, input: &str, broken_table: &str, env: &[(&str, String)]) -> Vec<String> {
    let run = |args: &[&str]| {
        let out = eventlake(args, env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let counts = |text: &str| -> String {
        // The summary lines that count records (times and file counts vary).
        text.lines()
            .filter(|l| {
                [
                    "records in",
                    "ok:",
                    "duplicates",
                    "rejected",
                    "conversion failed",
                    "rows written",
                ]
                .iter()
                .any(|k| l.trim_start().starts_with(k))
            })
            .map(|l| l.split(" in ").next().unwrap_or(l).trim().to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let errors = format!("{lake}/errors");
    vec![
        counts(&run(&[
            "replay",
            "--input",
            input,
            "--lake",
            lake,
            "--table",
            broken_table,
        ])),
        counts(&run(&["replay", "--errors", &errors, "--lake", lake])),
        counts(&run(&["replay", "--errors", &errors, "--lake", lake])),
        run(&["compact", "--lake", lake])
            .lines()
            .filter(|l| !l.contains("files"))
            .collect::<Vec<_>>()
            .join("; "),
        run(&[
            "query",
            "--lake",
            lake,
            "--format",
            "csv",
            "SELECT (SELECT count(*) FROM events) AS raw, (SELECT count(*) FROM events_unique) AS uniq, \
             (SELECT count(*) FROM events_curated) AS curated",
        ]),
    ]
}

#[test]
fn redrive_compaction_and_query_work_on_s3_as_on_a_directory() {
    let moto = Moto::start();
    moto.create_bucket("eventlake-ops");
    let dir = temp_dir("ops");
    let input = write_events(&dir, 1500, 4, 0.05, 0.02, |_| {});
    let broken = broken_table(&dir);
    let (input, broken) = (input.to_str().unwrap(), broken.to_str().unwrap());
    let local = dir.join("lake");
    let on_s3 = redrive_compact_query("s3://eventlake-ops/lake", input, broken, &moto.env());
    let on_disk = redrive_compact_query(local.to_str().unwrap(), input, broken, &[]);
    assert_eq!(on_s3, on_disk);
    // The first re-drive recovered every converted record; the second found only the
    // invalid events the first wrote back to processing-failed.
    assert!(on_s3[1].contains("conversion failed: 0"), "{}", on_s3[1]);
    assert!(on_s3[2].contains("ok:                0"), "{}", on_s3[2]);
    let (raw, uniq, curated) = {
        let line = on_s3[4].lines().nth(1).unwrap().to_string();
        let n: Vec<u64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        (n[0], n[1], n[2])
    };
    assert!(raw >= uniq && uniq > 1300, "{}", on_s3[4]);
    assert_eq!(
        curated, uniq,
        "the curated table holds each event once, like events_unique"
    );

    let objects = moto.objects("eventlake-ops", "lake");
    let redriven: Vec<&String> = objects.keys().filter(|k| k.ends_with(".redriven")).collect();
    assert!(
        redriven
            .iter()
            .any(|k| k.starts_with("errors/format-conversion-failed/"))
            && redriven.iter().any(|k| k.starts_with("errors/processing-failed/")),
        "{redriven:?}"
    );
    assert!(objects.keys().any(|k| k.starts_with("curated/event_type=")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The flags of the resume tests: small batches, files and segments, so that a 20k-event
/// input has a dozen checkpoints.
const SMALL: [&str; 6] = ["--batch-mb", "0.2", "--file-mb", "1", "--checkpoint-mb", "1"];

/// An input for the resume tests: generated events with duplicates and invalid ones, and a
/// line Kinesis would not take (over 1 MiB) in the middle.
fn resume_input(dir: &Path) -> PathBuf {
    write_events(dir, 20_000, 5, 0.03, 0.01, |events| {
        events.insert(
            9_000,
            format!(r#"{{"event_name":"a:b","blob":"{}"}}"#, "x".repeat(1_100_000)),
        );
    })
}

fn replay_args<'a>(input: &'a str, lake: &'a str) -> Vec<&'a str> {
    let mut args = vec!["replay", "--input", input, "--lake", lake];
    args.extend(SMALL);
    args
}

/// The summary's counts that must match between an uninterrupted run and a resumed one.
fn counts(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| {
            [
                "records in:",
                "ok:",
                "duplicates dropped:",
                "rejected:",
                "record_too_large:",
                "rows written:",
            ]
            .iter()
            .any(|p| l.trim_start().starts_with(p))
        })
        .map(|l| l.split(" in ").next().unwrap().to_string())
        .collect()
}

/// What must be equal between two lakes: every row, every reject, and no staging file.
fn assert_same_lake(reference: &BTreeMap<String, Vec<u8>>, lake: &BTreeMap<String, Vec<u8>>, what: &str) {
    assert!(
        lake.keys().all(|k| !k.contains('#')),
        "{what}: staging files left: {:?}",
        lake.keys()
    );
    let (a, b) = (rows(reference), rows(lake));
    assert_eq!(a.len(), b.len(), "{what}: row count");
    assert!(a == b, "{what}: rows differ");
    let (a, b) = (error_lines(reference), error_lines(lake));
    assert_eq!(a.len(), b.len(), "{what}: reject count");
    assert!(a == b, "{what}: rejects differ");
}

#[test]
fn an_interrupted_replay_run_again_ends_as_one_uninterrupted_run_on_a_directory_and_on_s3() {
    let moto = Moto::start();
    moto.create_bucket("resume");
    let dir = temp_dir("resume");
    let input = resume_input(&dir);
    let input = input.to_str().unwrap();
    let reference = dir.join("reference");
    let once = eventlake(&replay_args(input, reference.to_str().unwrap()), &[]);
    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    let reference_objects = local_objects(&reference);
    assert!(
        error_lines(&reference_objects)
            .iter()
            .any(|l| l.contains("record_too_large")),
        "the oversized line is kept with its reason"
    );
    // Killed (abort, as SIGKILL: no cleanup) after the N-th object write, at several points
    // of the run: at once, inside a segment, late.
    for (n, lake) in [
        (1, dir.join("dir-1").display().to_string()),
        (7, dir.join("dir-7").display().to_string()),
        (60, dir.join("dir-60").display().to_string()),
        (5, "s3://resume/lake-5".to_string()),
        (40, "s3://resume/lake-40".to_string()),
    ] {
        let mut env = moto.env().to_vec();
        env.push(("EVENTLAKE_FAULT_ABORT_AFTER_PUTS", n.to_string()));
        let killed = eventlake(&replay_args(input, &lake), &env);
        assert!(!killed.status.success(), "{lake}: the fault hook aborts the run");
        let again = eventlake(&replay_args(input, &lake), &moto.env());
        assert!(
            again.status.success(),
            "{lake}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert!(
            stdout.starts_with("resumed: the lake held the first "),
            "{lake}: {stdout}"
        );
        assert_eq!(
            counts(&again.stdout),
            counts(&once.stdout),
            "{lake}: the summary counts the whole replay"
        );
        let objects = match lake.strip_prefix("s3://resume/") {
            Some(prefix) => moto.objects("resume", prefix),
            None => local_objects(Path::new(&lake)),
        };
        assert_same_lake(&reference_objects, &objects, &lake);
        // Once more: complete, so nothing changes, and it says so.
        let third = eventlake(&replay_args(input, &lake), &moto.env());
        assert!(third.status.success());
        assert!(
            String::from_utf8_lossy(&third.stdout).starts_with("already replayed: "),
            "{}",
            String::from_utf8_lossy(&third.stdout)
        );
        let after = match lake.strip_prefix("s3://resume/") {
            Some(prefix) => moto.objects("resume", prefix),
            None => local_objects(Path::new(&lake)),
        };
        assert_eq!(
            after
                .keys()
                .filter(|k| !k.starts_with("_eventlake/"))
                .collect::<Vec<_>>(),
            objects
                .keys()
                .filter(|k| !k.starts_with("_eventlake/"))
                .collect::<Vec<_>>(),
            "{lake}: a complete replay run again writes nothing"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The largest number at `pointer` in the manifests under `_eventlake/<folder>` of the
/// directory lake `lake` (0 while there are none).
fn manifest_number(lake: &Path, folder: &str, pointer: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(lake.join("_eventlake").join(folder)) else {
        return 0;
    };
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|m| m.pointer(pointer)?.as_u64())
        .max()
        .unwrap_or(0)
}

/// The committed segments of the replay in the directory lake `lake`, from its manifest.
fn committed_segments(lake: &Path) -> u64 {
    manifest_number(lake, "replays", "/committed/segments")
}

/// Sends Ctrl-C (SIGINT) to a running `eventlake` and returns its stdout, checking that it
/// exited 130 after printing its summary.
fn interrupt(child: std::process::Child) -> String {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("records in:"), "{stdout}");
    stdout
}

/// Starts a replay into `lake` and waits until it has committed `segments` checkpoints.
fn start_and_wait(input: &str, lake: &Path, segments: u64) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_eventlake"))
        .args(replay_args(input, lake.to_str().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while committed_segments(lake) < segments {
        assert!(std::time::Instant::now() < deadline, "no checkpoint within 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

#[test]
fn sigkill_and_ctrl_c_mid_replay_then_the_same_command_finishes_it() {
    let dir = temp_dir("signals");
    let input_path = resume_input(&dir);
    let input = input_path.to_str().unwrap();
    let reference = dir.join("reference");
    let once = eventlake(&replay_args(input, reference.to_str().unwrap()), &[]);
    assert!(once.status.success());
    let reference_objects = local_objects(&reference);

    // SIGKILL after the second checkpoint.
    let killed_lake = dir.join("killed");
    let mut child = start_and_wait(input, &killed_lake, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    // The same name with other content is refused, naming the manifest and the way out.
    let original = std::fs::read(&input_path).unwrap();
    std::fs::write(&input_path, b"{}\n").unwrap();
    let refused = eventlake(&replay_args(input, killed_lake.to_str().unwrap()), &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("eventlake: cannot resume the replay of ")
            && err.contains("is not the input the interrupted replay read")
            && err.contains("--again"),
        "{err}"
    );
    std::fs::write(&input_path, original).unwrap();
    let again = eventlake(&replay_args(input, killed_lake.to_str().unwrap()), &[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_same_lake(&reference_objects, &local_objects(&killed_lake), "after SIGKILL");

    // Ctrl-C after the first checkpoint: the batches in flight are written, the summary says
    // what the lake holds and how to finish, exit status 130.
    let stopped_lake = dir.join("stopped");
    let child = start_and_wait(input, &stopped_lake, 1);
    let stdout = interrupt(child);
    assert!(
        stdout.contains("interrupted: ") && stdout.contains("Run the same command again"),
        "{stdout}"
    );
    let again = eventlake(&replay_args(input, stopped_lake.to_str().unwrap()), &[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_same_lake(&reference_objects, &local_objects(&stopped_lake), "after Ctrl-C");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_redrive_killed_at_any_point_then_run_again_ends_as_one_redrive() {
    let moto = Moto::start();
    moto.create_bucket("redrive");
    let dir = temp_dir("redrive-resume");
    let input = write_events(&dir, 3000, 8, 0.0, 0.02, |_| {});
    // Many error objects of both kinds to re-drive.
    let broken = broken_table(&dir);
    let (input, broken) = (input.to_str().unwrap(), broken.to_str().unwrap());
    let lake_of = |name: &str| match name.strip_prefix("s3:") {
        Some(prefix) => format!("s3://redrive/{prefix}"),
        None => dir.join(name).display().to_string(),
    };
    let objects_of = |name: &str| match name.strip_prefix("s3:") {
        Some(prefix) => moto.objects("redrive", prefix),
        None => local_objects(&dir.join(name)),
    };
    let run = |args: &[&str], env: &[(&str, String)]| eventlake(args, env);
    let prepare = |lake: &str| {
        let out = run(
            &[
                "replay",
                "--input",
                input,
                "--lake",
                lake,
                "--table",
                broken,
                "--batch-mb",
                "0.2",
            ],
            &moto.env(),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let reference = lake_of("reference");
    prepare(&reference);
    let errors = format!("{reference}/errors");
    let once = run(&["replay", "--errors", &errors, "--lake", &reference], &[]);
    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    let reference_objects = objects_of("reference");
    assert!(rows(&reference_objects).len() > 2900);
    for (n, name) in [(1, "dir-1"), (9, "dir-9"), (4, "s3:lake-4")] {
        let lake = lake_of(name);
        prepare(&lake);
        let errors = format!("{lake}/errors");
        let mut env = moto.env().to_vec();
        env.push(("EVENTLAKE_FAULT_ABORT_AFTER_PUTS", n.to_string()));
        let killed = run(&["replay", "--errors", &errors, "--lake", &lake], &env);
        assert!(!killed.status.success(), "{name}: the fault hook aborts the re-drive");
        let again = run(&["replay", "--errors", &errors, "--lake", &lake], &moto.env());
        assert!(
            again.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let objects = objects_of(name);
        assert_same_lake(&reference_objects, &objects, name);
        let redriven = |o: &BTreeMap<String, Vec<u8>>| o.keys().filter(|k| k.ends_with(".redriven")).count();
        assert_eq!(
            redriven(&objects),
            redriven(&reference_objects),
            "{name}: every source marked once"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_mid_redrive_says_how_far_it_got_and_a_failed_one_what_the_lake_holds() {
    let dir = temp_dir("redrive-signals");
    let input = write_events(&dir, 3000, 8, 0.0, 0.02, |_| {});
    let broken = broken_table(&dir);
    let (input, broken) = (input.to_str().unwrap(), broken.to_str().unwrap());
    let prepare = |lake: &Path| {
        let args = [
            "replay",
            "--input",
            input,
            "--lake",
            lake.to_str().unwrap(),
            "--table",
            broken,
            "--batch-mb",
            "0.2",
        ];
        let out = eventlake(&args, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let redrive_args = |lake: &Path| {
        let errors = lake.join("errors").display().to_string();
        vec![
            "replay".to_string(),
            "--errors".into(),
            errors,
            "--lake".into(),
            lake.display().to_string(),
        ]
    };
    let run =
        |args: &[String], env: &[(&str, String)]| eventlake(&args.iter().map(String::as_str).collect::<Vec<_>>(), env);
    let reference = dir.join("reference");
    prepare(&reference);
    assert!(run(&redrive_args(&reference), &[]).status.success());
    let reference_objects = local_objects(&reference);

    // Ctrl-C after the first object is committed (a slow store keeps the rest from finishing
    // first): that object stays re-driven, the rest waits; exit status 130.
    let stopped = dir.join("stopped");
    prepare(&stopped);
    let child = Command::new(env!("CARGO_BIN_EXE_eventlake"))
        .args(redrive_args(&stopped))
        .env("EVENTLAKE_FAULT_SLOW_PUTS_MS", "150")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while manifest_number(&stopped, "redrives", "/done") < 1 {
        assert!(std::time::Instant::now() < deadline, "no object re-driven within 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = interrupt(child);
    assert!(
        stdout.contains("interrupted: ")
            && stdout.contains("error objects of")
            && stdout.contains("Run the same command again"),
        "{stdout}"
    );
    let again = run(&redrive_args(&stopped), &[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_same_lake(&reference_objects, &local_objects(&stopped), "after Ctrl-C");

    // A re-drive into a lake that cannot take Parquet (`events` is a file): what the lake
    // holds of the re-drive, then the one-line error.
    let source = dir.join("source");
    prepare(&source);
    let blocked = dir.join("blocked");
    std::fs::create_dir_all(&blocked).unwrap();
    std::fs::write(blocked.join("events"), b"not a folder").unwrap();
    let args = [
        "replay".to_string(),
        "--errors".into(),
        source.join("errors").display().to_string(),
        "--lake".into(),
        blocked.display().to_string(),
    ];
    let out = run(&args, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains("WARN")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("the re-drive stopped: 0 of the ") && lines[0].contains("run the same command again"),
        "{err}"
    );
    assert!(lines[1].starts_with("eventlake: cannot write "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
