//! `eventlake produce` against a real Kinesis protocol peer: kinesalite on loopback
//! (`cli/tests/kinesalite`, installed by `just rust-test-deps`). Events are read back with
//! GetRecords from every shard and compared exactly with what was given. Throttling is injected
//! by a small proxy between the producer and kinesalite that answers some calls with
//! `ProvisionedThroughputExceededException` and fails some entries of others, the way Kinesis
//! does when a shard is over its limits.
#![cfg(feature = "produce")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;

/// kinesalite in memory on a loopback port it picks itself (`serve.js` prints it), stopped on
/// drop. Its stderr goes to a file; if it died during a test, drop prints why.
struct Kinesalite {
    child: Child,
    port: u16,
    log: PathBuf,
    /// Held open so a stray write to stdout cannot fail with a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Kinesalite {
    fn start() -> Kinesalite {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kinesalite");
        assert!(
            dir.join("node_modules/kinesalite").exists(),
            "{} is missing: run `just rust-test-deps` (npm ci in cli/tests/kinesalite)",
            dir.join("node_modules/kinesalite").display()
        );
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let log = std::env::temp_dir().join(format!(
            "eventlake-kinesalite-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let mut child = Command::new("node")
            .arg(dir.join("serve.js"))
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {}: {e}", dir.join("serve.js").display()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first_line = String::new();
        stdout.read_line(&mut first_line).unwrap();
        let port = first_line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "kinesalite did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Kinesalite {
            child,
            port,
            log,
            _stdout: stdout,
        }
    }

    fn endpoint(&self) -> String {
        loopback(self.port)
    }
}

impl Drop for Kinesalite {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!(
                "kinesalite on port {} had stopped ({status}) before the test ended; its stderr:\n{}",
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The URL of a server on `port` of this machine.
fn loopback(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The credentials and settings a producer on a developer's machine would have, pointing at
/// nothing real.
fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
}

fn client(endpoint: &str) -> aws_sdk_kinesis::Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .http_client(eventlake::produce::http_client())
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

fn create_stream(endpoint: &str, name: &str, shards: i32) {
    let client = client(endpoint);
    runtime().block_on(async {
        client
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .unwrap();
        for _ in 0..100 {
            let d = client.describe_stream_summary().stream_name(name).send().await.unwrap();
            if d.stream_description_summary().unwrap().stream_status().as_str() == "ACTIVE" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("stream {name} did not become ACTIVE");
    });
}

/// Every record of every shard: (shard id, partition key, data).
fn read_back(endpoint: &str, stream: &str) -> Vec<(String, String, Vec<u8>)> {
    let client = client(endpoint);
    runtime().block_on(async {
        let mut out = Vec::new();
        let shards = client.list_shards().stream_name(stream).send().await.unwrap();
        for shard in shards.shards() {
            let mut iterator = client
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(shard.shard_id())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator()
                .map(str::to_string);
            while let Some(it) = iterator {
                let page = client.get_records().shard_iterator(it).send().await.unwrap();
                if page.records().is_empty() {
                    break;
                }
                for r in page.records() {
                    out.push((
                        shard.shard_id().to_string(),
                        r.partition_key().expect("a partition key").to_string(),
                        r.data().as_ref().to_vec(),
                    ));
                }
                iterator = page.next_shard_iterator().map(str::to_string);
            }
        }
        out
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventlake-kinesis-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `eventlake` in `dir` with the test credentials and nothing of the caller's AWS setup.
fn command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventlake"));
    command
        .current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .envs(aws_env());
    command
}

fn eventlake(args: &[&str], dir: &Path) -> Output {
    let out = command(dir).args(args).output().unwrap();
    let failed = std::fs::read_to_string(dir.join("eventlake-produce-failed.jsonl")).unwrap_or_default();
    eprintln!(
        "eventlake {}\n--- stdout\n{}--- stderr\n{}--- failed events (first 3)\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        failed.lines().take(3).collect::<Vec<_>>().join("\n")
    );
    out
}

/// `eventlake generate` into `dir/events.jsonl`; returns its lines.
fn generate(dir: &Path, events: u64, seed: u64) -> Vec<String> {
    let path = dir.join("events.jsonl");
    let out = eventlake(
        &[
            "generate",
            "--events",
            &events.to_string(),
            "--seed",
            &seed.to_string(),
            "--duplicates",
            "0.02",
            "--invalid",
            "0.01",
            "--output",
            path.to_str().unwrap(),
        ],
        dir,
    );
    assert!(out.status.success());
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `eventlake produce --stream STREAM --input events.jsonl EXTRA… --endpoint-url ENDPOINT`.
fn produce_input(dir: &Path, stream: &str, endpoint: &str, extra: &[&str]) -> Output {
    let mut args = vec!["produce", "--stream", stream, "--input", "events.jsonl"];
    args.extend_from_slice(extra);
    args.extend(["--endpoint-url", endpoint]);
    eventlake(&args, dir)
}

/// The data of every record in the stream, as text.
fn stream_data(endpoint: &str, stream: &str) -> Vec<String> {
    read_back(endpoint, stream)
        .into_iter()
        .map(|(_, _, data)| String::from_utf8(data).unwrap())
        .collect()
}

/// The failed-events file in `dir`: (reason, event) per line.
fn failed_events(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("eventlake-produce-failed.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["reason"].as_str().unwrap().to_string(),
                v["event"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The summary line's `name value` pairs (`accepted 5000`, `retried calls 3`, …).
fn summary_number(stdout: &[u8], name: &str) -> u64 {
    let text = String::from_utf8_lossy(stdout);
    let at = text
        .find(&format!("  {name} "))
        .unwrap_or_else(|| panic!("no `{name}` in the summary:\n{text}"));
    text[at + name.len() + 3..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Events as a multiset: line → count.
fn multiset<'a>(lines: impl IntoIterator<Item = &'a String>) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l.as_str()).or_default() += 1;
    }
    m
}

#[test]
fn every_event_arrives_exactly_once_spread_over_the_shards() {
    let kinesis = Kinesalite::start();
    let dir = temp_dir("exact");
    create_stream(&kinesis.endpoint(), "load", 4);
    let events = generate(&dir, 3000, 11);

    let out = produce_input(&dir, "load", &kinesis.endpoint(), &[]);
    assert!(out.status.success());
    assert_eq!(summary_number(&out.stdout, "accepted"), 3000);
    assert_eq!(summary_number(&out.stdout, "failed"), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 open shard(s)"));

    let records = read_back(&kinesis.endpoint(), "load");
    assert_eq!(records.len(), 3000, "one record per event without --pack");
    let got: Vec<String> = records
        .iter()
        .map(|(_, _, data)| String::from_utf8(data.clone()).unwrap())
        .collect();
    assert_eq!(multiset(&got), multiset(&events));
    // Partition keys are the events' uuids: an event and its duplicates share a shard.
    let mut shard_of_key = BTreeMap::new();
    for (shard, key, _) in &records {
        assert_eq!(shard_of_key.entry(key.clone()).or_insert(shard.clone()), shard);
    }
    let shards: std::collections::BTreeSet<_> = records.iter().map(|(s, _, _)| s).collect();
    assert_eq!(shards.len(), 4, "load spread over every shard");
    assert!(!dir.join("eventlake-produce-failed.jsonl").exists());
}

#[test]
fn packed_records_hold_up_to_n_events_in_order() {
    let kinesis = Kinesalite::start();
    let dir = temp_dir("pack");
    create_stream(&kinesis.endpoint(), "packed", 2);
    let events = generate(&dir, 2000, 12);

    let out = produce_input(
        &dir,
        "packed",
        &kinesis.endpoint(),
        &["--pack", "50", "--rate", "20000"],
    );
    assert!(out.status.success());
    assert_eq!(summary_number(&out.stdout, "accepted"), 2000);
    assert_eq!(summary_number(&out.stdout, "records"), 40);

    let records = read_back(&kinesis.endpoint(), "packed");
    assert_eq!(records.len(), 40);
    let mut got = Vec::new();
    for (_, _, data) in &records {
        let text = String::from_utf8(data.clone()).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 50);
        // A record is a run of consecutive input lines.
        assert!(
            events
                .windows(50)
                .any(|w| w.iter().map(String::as_str).eq(lines.iter().copied())),
            "a record is not a run of input lines"
        );
        got.extend(lines.into_iter().map(str::to_string));
    }
    assert_eq!(multiset(&got), multiset(&events));
}

#[test]
fn generated_events_at_a_rate_are_valid_and_counted() {
    let kinesis = Kinesalite::start();
    let dir = temp_dir("generated");
    create_stream(&kinesis.endpoint(), "gen", 1);
    let out = eventlake(
        &[
            "produce",
            "--stream",
            "gen",
            "--events",
            "500",
            "--rate",
            "2000",
            "--endpoint-url",
            &kinesis.endpoint(),
        ],
        &dir,
    );
    assert!(out.status.success());
    let records = read_back(&kinesis.endpoint(), "gen");
    assert_eq!(records.len(), 500);
    let now = chrono::Utc::now().timestamp();
    for (_, key, data) in &records {
        let v: serde_json::Value = serde_json::from_slice(data).unwrap();
        assert_eq!(v["event_uuid"].as_str(), Some(key.as_str()));
        let created = v["created_at"].as_i64().unwrap();
        // The generator's clock jitter is ±30 s, like producers with skewed clocks.
        assert!(
            (now - 60..=now + 30).contains(&created),
            "created_at {created} is about now ({now})"
        );
    }
}

/// What the proxy injects.
#[derive(Clone, Copy)]
struct Faults {
    /// Every n-th PutRecords call is throttled as a whole (0: never).
    throttle_every: u64,
    /// Every n-th entry of the other calls fails (0: never, 1: all).
    fail_entry_every: u64,
    /// PutRecords calls after the n-th are denied (`AccessDeniedException`; 0: never).
    deny_after: u64,
}

/// A proxy in front of kinesalite injecting Kinesis throttling, counting what it injected.
struct FaultProxy {
    port: u16,
    throttled_calls: Arc<AtomicU64>,
    failed_entries: Arc<AtomicU64>,
}

impl FaultProxy {
    fn endpoint(&self) -> String {
        loopback(self.port)
    }

    fn start(upstream: u16, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let throttled_calls = Arc::new(AtomicU64::new(0));
        let failed_entries = Arc::new(AtomicU64::new(0));
        let calls = Arc::new(AtomicU64::new(0));
        let entries = Arc::new(AtomicU64::new(0));
        let (t, f) = (throttled_calls.clone(), failed_entries.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (t, f, calls, entries) = (t.clone(), f.clone(), calls.clone(), entries.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut writer = conn;
                    while let Some((head, body)) = read_message(&mut reader) {
                        let target = header(&head, "x-amz-target").unwrap_or_default();
                        let (status, response) = if target.ends_with(".PutRecords") {
                            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                            if faults.deny_after > 0 && n > faults.deny_after {
                                (
                                    400,
                                    br#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: kinesis:PutRecords (injected)"}"#
                                        .to_vec(),
                                )
                            } else if faults.throttle_every > 0 && n % faults.throttle_every == 0 {
                                t.fetch_add(1, Ordering::SeqCst);
                                (
                                    400,
                                    br#"{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for stream (injected)"}"#
                                        .to_vec(),
                                )
                            } else {
                                put_records_with_failures(upstream, &head, &body, faults, &entries, &f)
                            }
                        } else {
                            forward(upstream, &head, &body)
                        };
                        let status_text = if status == 200 { "OK" } else { "Bad Request" };
                        let reply = format!(
                            "HTTP/1.1 {status} {status_text}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: proxy\r\nContent-Length: {}\r\n\r\n",
                            response.len()
                        );
                        if writer
                            .write_all(reply.as_bytes())
                            .and_then(|_| writer.write_all(&response))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        FaultProxy {
            port,
            throttled_calls,
            failed_entries,
        }
    }
}

/// One HTTP/1.1 message with a Content-Length body: (head lines, body).
fn read_message(reader: &mut impl BufRead) -> Option<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length: usize = header(&head, "content-length").map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn header(head: &[String], name: &str) -> Option<String> {
    head.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// Sends the request to kinesalite with `body` on a fresh connection; (status, body).
fn forward(upstream: u16, head: &[String], body: &[u8]) -> (u16, Vec<u8>) {
    let mut conn = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    let mut request = format!("{}\r\n", head[0]);
    for line in &head[1..] {
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if name != "content-length" && name != "connection" {
            request += &format!("{line}\r\n");
        }
    }
    request += &format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    conn.write_all(request.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut reader = BufReader::new(conn);
    let (response_head, response_body) = read_message(&mut reader).expect("kinesalite answered");
    let status = response_head[0].split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response_body)
}

/// Forwards only the entries that are not chosen to fail, then answers as Kinesis does for a
/// partly failed call: a result per entry, in order, failed ones with an error code.
fn put_records_with_failures(
    upstream: u16,
    head: &[String],
    body: &[u8],
    faults: Faults,
    entries: &AtomicU64,
    failed: &AtomicU64,
) -> (u16, Vec<u8>) {
    let mut request: serde_json::Value = serde_json::from_slice(body).unwrap();
    let records = request["Records"].as_array().unwrap().clone();
    let fails: Vec<bool> = records
        .iter()
        .map(|_| {
            let n = entries.fetch_add(1, Ordering::SeqCst) + 1;
            faults.fail_entry_every > 0 && n % faults.fail_entry_every == 0
        })
        .collect();
    let kept: Vec<_> = records
        .iter()
        .zip(&fails)
        .filter(|(_, f)| !**f)
        .map(|(r, _)| r.clone())
        .collect();
    let mut accepted = Vec::new();
    if !kept.is_empty() {
        request["Records"] = serde_json::Value::Array(kept);
        let (status, response) = forward(upstream, head, &serde_json::to_vec(&request).unwrap());
        if status != 200 {
            return (status, response);
        }
        let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
        accepted = response["Records"].as_array().unwrap().clone();
    }
    let mut accepted = accepted.into_iter();
    let mut results = Vec::new();
    let mut failed_count = 0;
    for fail in fails {
        if fail {
            failed_count += 1;
            results.push(serde_json::json!({
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard shardId-000000000000 (injected)"
            }));
        } else {
            results.push(accepted.next().unwrap());
        }
    }
    failed.fetch_add(failed_count, Ordering::SeqCst);
    let response = serde_json::json!({ "FailedRecordCount": failed_count, "Records": results });
    (200, serde_json::to_vec(&response).unwrap())
}

#[test]
fn throttled_calls_and_failed_entries_are_retried_and_nothing_is_lost_or_doubled() {
    let kinesis = Kinesalite::start();
    let proxy = FaultProxy::start(
        kinesis.port,
        Faults {
            throttle_every: 3,
            fail_entry_every: 4,
            deny_after: 0,
        },
    );
    let dir = temp_dir("throttled");
    create_stream(&kinesis.endpoint(), "throttled", 2);
    let events = generate(&dir, 2000, 13);

    let out = produce_input(&dir, "throttled", &proxy.endpoint(), &["--concurrency", "2"]);
    assert!(out.status.success());
    assert_eq!(summary_number(&out.stdout, "accepted"), 2000);
    assert_eq!(summary_number(&out.stdout, "failed"), 0);
    let throttled = proxy.throttled_calls.load(Ordering::SeqCst);
    let failed_entries = proxy.failed_entries.load(Ordering::SeqCst);
    assert!(throttled > 0 && failed_entries > 0);
    // The producer saw and retried exactly what was injected.
    assert_eq!(summary_number(&out.stdout, "retried calls"), throttled);
    assert_eq!(summary_number(&out.stdout, "retried records"), failed_entries);

    assert_eq!(
        multiset(&stream_data(&kinesis.endpoint(), "throttled")),
        multiset(&events)
    );
}

#[test]
fn events_that_keep_failing_are_written_with_their_reason() {
    let kinesis = Kinesalite::start();
    let proxy = FaultProxy::start(
        kinesis.port,
        Faults {
            throttle_every: 0,
            fail_entry_every: 1,
            deny_after: 0,
        },
    );
    let dir = temp_dir("exhausted");
    create_stream(&kinesis.endpoint(), "full", 1);
    let events = generate(&dir, 300, 14);

    let out = produce_input(&dir, "full", &proxy.endpoint(), &["--max-attempts", "3"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("300 event(s) could not be sent; they are in eventlake-produce-failed.jsonl"),
        "{stderr}"
    );
    assert_eq!(proxy.failed_entries.load(Ordering::SeqCst), 900, "three sends each");
    let mut kept = Vec::new();
    for (reason, event) in failed_events(&dir) {
        assert!(
            reason.starts_with("failed 3 times, last: ProvisionedThroughputExceededException: Rate exceeded"),
            "{reason}"
        );
        kept.push(event);
    }
    assert_eq!(multiset(&kept), multiset(&events));
    assert!(read_back(&kinesis.endpoint(), "full").is_empty());
}

#[test]
fn access_denied_mid_run_stops_and_keeps_every_unsent_event() {
    let kinesis = Kinesalite::start();
    let proxy = FaultProxy::start(
        kinesis.port,
        Faults {
            throttle_every: 0,
            fail_entry_every: 0,
            deny_after: 2,
        },
    );
    let dir = temp_dir("denied");
    create_stream(&kinesis.endpoint(), "denied", 1);
    let events = generate(&dir, 3000, 15);

    let out = produce_input(&dir, "denied", &proxy.endpoint(), &["--concurrency", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("eventlake: stopped early: AccessDeniedException: User is not authorized"),
        "{stderr}"
    );
    let accepted = summary_number(&out.stdout, "accepted");
    let failed = summary_number(&out.stdout, "failed");
    let read = summary_number(&out.stdout, "read");
    assert_eq!(accepted, 1000, "two calls of 500 went through");
    assert!(failed >= 500, "at least the denied call's events are kept");
    assert_eq!(read, accepted + failed, "every event read was sent or kept");
    let mut kept = Vec::new();
    for (reason, event) in failed_events(&dir) {
        assert!(reason.starts_with("not sent: "), "{reason}");
        kept.push(event);
    }
    let sent = stream_data(&kinesis.endpoint(), "denied");
    // The first `read` lines of the input are exactly what was sent plus what was kept.
    assert_eq!(multiset(sent.iter().chain(&kept)), multiset(&events[..read as usize]));
}

#[test]
fn a_missing_stream_is_one_readable_line() {
    let kinesis = Kinesalite::start();
    let dir = temp_dir("missing");
    let out = eventlake(
        &["produce", "--stream", "nope", "--endpoint-url", &kinesis.endpoint()],
        &dir,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("eventlake: stream nope: ResourceNotFoundException: Stream nope under account"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unreachable_endpoint_is_one_readable_line() {
    let dir = temp_dir("unreachable");
    let port = free_port();
    let out = eventlake(&["produce", "--stream", "s", "--endpoint-url", &loopback(port)], &dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("eventlake: stream s: dispatch failure"), "{stderr}");
    assert!(stderr.contains("onnection refused"), "{stderr}");
}

#[test]
fn ctrl_c_stops_cleanly_and_every_event_read_is_accounted_for() {
    let kinesis = Kinesalite::start();
    let dir = temp_dir("interrupt");
    create_stream(&kinesis.endpoint(), "slow", 1);
    let mut child = command(&dir)
        .args(["produce", "--stream", "slow", "--events", "100000", "--rate", "200"])
        .args(["--endpoint-url", &kinesis.endpoint()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line comes after Ctrl-C is watched; then let some events go out.
    let mut stderr_lines = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    while !stderr.contains("open shard(s)") {
        assert!(stderr_lines.read_line(&mut stderr).unwrap() > 0, "{stderr}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    stderr_lines.read_to_string(&mut stderr).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr.contains("interrupted: finishing the calls in flight"),
        "{stderr}"
    );
    assert!(stderr.contains("eventlake: stopped early: interrupted"), "{stderr}");
    let accepted = summary_number(&out.stdout, "accepted");
    assert!(accepted > 0 && accepted < 100_000, "{accepted}");
    assert_eq!(
        summary_number(&out.stdout, "read"),
        accepted,
        "every event read was sent"
    );
    assert_eq!(read_back(&kinesis.endpoint(), "slow").len() as u64, accepted);
}

#[test]
fn a_quiet_pipe_does_not_hold_back_events_already_read() {
    let kinesis = Kinesalite::start();
    let dir = temp_dir("pipe");
    create_stream(&kinesis.endpoint(), "pipe", 1);
    let events = generate(&dir, 3, 16);
    let mut child = command(&dir)
        .args(["produce", "--stream", "pipe", "--input", "-", "--pack", "10"])
        .args(["--endpoint-url", &kinesis.endpoint()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all((events.join("\n") + "\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The pipe stays open; the three events (one packed record) must arrive anyway.
    let started = Instant::now();
    let mut records = Vec::new();
    while records.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing arrived while the pipe was open"
        );
        std::thread::sleep(Duration::from_millis(100));
        records = read_back(&kinesis.endpoint(), "pipe");
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(records.len(), 1);
    assert_eq!(String::from_utf8(records[0].2.clone()).unwrap(), events.join("\n"));
    assert_eq!(summary_number(&out.stdout, "accepted"), 3);
}
