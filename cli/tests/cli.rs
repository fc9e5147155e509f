//! `eventlake` as a user runs it: exit codes, stdout, and one-line errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn eventlake(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlake"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// An empty folder of this test run, named after `name`.
fn empty_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eventlake-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    format!("{}/../transform/fixtures/{name}/input.json", env!("CARGO_MANIFEST_DIR"))
}

fn assert_one_line_error(out: &Output, contains: &str) {
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("eventlake: ") && err.contains(contains), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn invoke_prints_the_lambda_response_for_every_fixture() {
    for name in [
        "kinesis-source-basic",
        "console-test-template",
        "duplicates",
        "large-realistic-batch",
    ] {
        let path = fixture(name);
        let out = eventlake(&["invoke", &path], b"");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let inv = eventlake_transform::parse_invocation(&text).unwrap();
        let want = serde_json::to_value(eventlake_transform::transform(&inv).unwrap().response).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn invoke_reads_stdin_and_decodes_on_request() {
    let text = std::fs::read(fixture("console-test-template")).unwrap();
    let out = eventlake(&["invoke", "--decode"], &text);
    assert!(out.status.success());
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["records"][0]["result"], "ProcessingFailed");
    assert_eq!(got["records"][0]["data"], "Hello, this is a test 123.");
    assert!(got["records"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a valid JSON object"));
    // The rejection is also logged on stderr, by the same bounded logger as in Lambda.
    assert!(String::from_utf8_lossy(&out.stderr).contains("Record rejected."));
}

#[test]
fn unusable_input_is_one_readable_line() {
    assert_one_line_error(
        &eventlake(&["invoke", "/no/such/file.json"], b""),
        "cannot read /no/such/file.json",
    );
    assert_one_line_error(
        &eventlake(&["invoke"], b"{\"records\": 5}"),
        "not a Firehose transformation event",
    );
    assert_one_line_error(
        &eventlake(&["invoke", "-"], b"not json"),
        "not a Firehose transformation event",
    );
    // Not UTF-8: the Lambda's own answer (invoke reads bytes, as the Lambda receives them).
    assert_one_line_error(
        &eventlake(&["invoke"], b"\xff\xfe"),
        "not a Firehose transformation event",
    );
}

#[test]
fn schema_generate_writes_checks_and_removes_stale_files() {
    let dir = std::env::temp_dir().join(format!("eventlake-schema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sql = dir.join("athena");
    let docs = dir.join("events.md");
    let (sql_s, docs_s) = (sql.to_str().unwrap(), docs.to_str().unwrap());
    assert_one_line_error(
        &eventlake(
            &["schema", "generate", "--check", "--dir", sql_s, "--docs", docs_s],
            b"",
        ),
        "out of date",
    );
    let out = eventlake(&["schema", "generate", "--dir", sql_s, "--docs", docs_s], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(sql.join("views/payment_order_completed.sql").is_file());
    std::fs::write(sql.join("views/removed_event.sql"), "-- gone").unwrap();
    assert_one_line_error(
        &eventlake(
            &["schema", "generate", "--check", "--dir", sql_s, "--docs", docs_s],
            b"",
        ),
        "removed_event.sql",
    );
    assert!(
        eventlake(&["schema", "generate", "--dir", sql_s, "--docs", docs_s], b"")
            .status
            .success()
    );
    assert!(!sql.join("views/removed_event.sql").exists());
    assert!(eventlake(
        &["schema", "generate", "--check", "--dir", sql_s, "--docs", docs_s],
        b""
    )
    .status
    .success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lake_commands_fail_with_one_readable_line() {
    assert_one_line_error(
        &eventlake(
            &["replay", "--input", "/no/such/events.ndjson", "--lake", "/tmp/x"],
            b"",
        ),
        "cannot read /no/such/events.ndjson",
    );
    assert_one_line_error(
        &eventlake(&["replay", "--input", "-", "--lake", "/etc/hostname/lake"], b"{}\n"),
        "cannot use /etc/hostname/lake",
    );
    assert_one_line_error(
        &eventlake(&["query", "--lake", "/no/such/lake", "SELECT 1"], b""),
        "no lake at /no/such/lake",
    );
    // A Parquet object that cannot be written (here `events` is a file, not a folder): what
    // the lake holds of the replay, then the encoder stage's own error, on one line, naming
    // the object.
    let blocked = empty_dir("blocked");
    std::fs::write(blocked.join("events"), b"not a folder").unwrap();
    let event = br#"{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"a:b","created_at":1710670500}"#;
    let out = eventlake(&["replay", "--input", "-", "--lake", blocked.to_str().unwrap()], event);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("the replay stopped before its first checkpoint: nothing of stdin is in"),
        "{err}"
    );
    let written = format!(
        "cannot write {}/events/event_type=a/created_date=2024-03-17/",
        blocked.display()
    );
    assert!(
        lines[1].starts_with("eventlake: ") && lines[1].contains(&written),
        "{err}"
    );
    std::fs::remove_dir_all(&blocked).unwrap();
    assert_one_line_error(
        &eventlake(&["generate", "--events", "1", "-o", "/no/such/dir/out.ndjson"], b""),
        "cannot write /no/such/dir/out.ndjson",
    );
}

#[test]
fn generate_and_replay_through_the_binary() {
    let dir = empty_dir("lake");
    let events = dir.join("events.ndjson");
    let out = eventlake(
        &[
            "generate",
            "--events",
            "500",
            "--invalid",
            "0.1",
            "--seed",
            "5",
            "-o",
            events.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&events).unwrap().lines().count(), 500);
    // The same seed, the same bytes, also on stdout.
    let again = eventlake(&["generate", "--events", "500", "--invalid", "0.1", "--seed", "5"], b"");
    assert_eq!(again.stdout, std::fs::read(&events).unwrap());
    let lake = dir.join("lake");
    let out = replay_file(&events, &lake);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(summary.contains("records in:          500"), "{summary}");
    let out = eventlake(
        &[
            "query",
            "--lake",
            lake.to_str().unwrap(),
            "--format",
            "csv",
            "SELECT count(*) AS n FROM events",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let n: usize = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 400 && n < 500, "{n}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(feature = "produce")]
fn produce_refuses_impossible_flags_before_touching_aws() {
    for (args, says) in [
        (&["--pack", "501"][..], "501 is not in 1..=500"),
        (&["--pack", "0"][..], "0 is not in 1..=500"),
        (&["--rate", "0"][..], "`0` is not a positive number"),
        (&["--duration", "NaN"][..], "`NaN` is not a positive number"),
        (&["--concurrency", "0"][..], "0 is not in 1..=256"),
    ] {
        assert_flag_refused(
            &["produce", "--stream", "s", "--endpoint-url", "http://127.0.0.1:9"],
            args,
            says,
        );
    }
}

/// `command` with `flag` (a flag and its value) exits 2 with clap's message containing `says`
/// and the flag's name.
fn assert_flag_refused(command: &[&str], flag: &[&str], says: &str) {
    let all: Vec<&str> = command.iter().chain(flag).copied().collect();
    let out = eventlake(&all, b"");
    assert_eq!(out.status.code(), Some(2), "{flag:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(says) && err.contains(flag[0]), "{flag:?}: {err}");
}

/// The lake window as a user meets it: `invoke` answers what the Lambda would today.
#[test]
fn invoke_rejects_events_athena_could_never_show_and_names_the_bound() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let today = now / 86_400 * 86_400;
    let tomorrow_evening = today + 86_400 + 20 * 3_600;
    let day_after_tomorrow = today + 2 * 86_400 + 60;
    let record = |i: usize, created_at: u64| {
        let event = format!(
            r#"{{"event_uuid":"0f8fad5b-d9cb-469f-a165-7086772895{i:02}","event_name":"payment:order:completed","created_at":{created_at}}}"#
        );
        use base64::Engine;
        format!(
            r#"{{"recordId":"r{i}","approximateArrivalTimestamp":0,"data":"{}"}}"#,
            base64::engine::general_purpose::STANDARD.encode(event)
        )
    };
    let invocation = format!(
        r#"{{"invocationId":"i","deliveryStreamArn":"arn:aws:firehose:eu-west-1:1:deliverystream/d","region":"eu-west-1","records":[{},{},{}]}}"#,
        record(0, 0),
        record(1, tomorrow_evening),
        record(2, day_after_tomorrow)
    );
    let out = eventlake(&["invoke", "--decode"], invocation.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = got["records"].as_array().unwrap();
    assert_eq!(records[0]["result"], "ProcessingFailed");
    assert_eq!(
        records[0]["reason"],
        "created_at 0 is 1970-01-01, before the lake's first day 2020-01-01"
    );
    assert_eq!(records[1]["result"], "Ok", "tomorrow is inside NOW+1DAYS");
    assert_eq!(records[2]["result"], "ProcessingFailed");
    let reason = records[2]["reason"].as_str().unwrap();
    assert!(reason.contains(", after the lake's last day "), "{reason}");
}

#[test]
fn replay_refuses_buffer_sizes_firehose_would_not_take() {
    for (args, says) in [
        (&["--batch-mb", "10"][..], "`10` is not a number of MiB from 0.2 to 3"),
        (&["--batch-mb", "0"][..], "`0` is not a number of MiB from 0.2 to 3"),
        (&["--batch-mb", "NaN"][..], "`NaN` is not a number of MiB"),
        (&["--file-mb", "inf"][..], "`inf` is not a number of MiB from 1 to 128"),
        (&["--file-mb", "0.5"][..], "`0.5` is not a number of MiB from 1 to 128"),
        (
            &["--checkpoint-mb", "0"][..],
            "`0` is not a number of MiB from 1 to 4096",
        ),
        (
            &["--checkpoint-mb", "5000"][..],
            "`5000` is not a number of MiB from 1 to 4096",
        ),
    ] {
        assert_flag_refused(
            &["replay", "--input", "-", "--lake", "/tmp/eventlake-never-written"],
            args,
            says,
        );
    }
}

#[test]
fn demo_replaces_only_a_lake_it_made() {
    assert_flag_refused(
        &["demo", "--lake", "/tmp/eventlake-never-written"],
        &["--events", "0"],
        "0 is not in 1..",
    );
    let dir = std::env::temp_dir().join(format!("eventlake-cli-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let lake = dir.join("lake");
    let lake_arg = lake.to_str().unwrap();
    // A lake filled by replay is someone's data: the demo refuses it and leaves it alone.
    let out = eventlake(&["replay", "--input", "-", "--lake", lake_arg], b"{\"x\":1}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let before = std::fs::read_dir(lake.join("errors")).unwrap().count();
    assert_one_line_error(
        &eventlake(&["demo", "--events", "200", "--lake", lake_arg], b""),
        "did not make",
    );
    assert_eq!(std::fs::read_dir(lake.join("errors")).unwrap().count(), before);
    // Nor a folder of other files (a source folder named like a lake, say).
    let other = dir.join("src");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("Cargo.toml"), "[package]\n").unwrap();
    assert_one_line_error(
        &eventlake(&["demo", "--events", "200", "--lake", other.to_str().unwrap()], b""),
        "holds files that `eventlake demo` did not make",
    );
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "left alone");
    // Its own lake it resets, curated/ included, as often as it runs.
    let own = dir.join("demo-lake");
    let own_arg = own.to_str().unwrap();
    for _ in 0..2 {
        let out = eventlake(&["demo", "--events", "200", "--lake", own_arg], b"");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!own.join("curated").exists(), "no stale curated table");
        let out = eventlake(&["compact", "--lake", own_arg], b"");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(own.join("curated").exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invoke_takes_the_lake_date_range_of_a_stage_from_the_environment() {
    let body = std::fs::read(fixture("lake-window")).unwrap();
    let run = |range: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_eventlake"));
        cmd.args(["invoke", "--decode", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match range {
            Some(r) => cmd.env("EVENTLAKE_LAKE_DATE_RANGE", r),
            None => cmd.env_remove("EVENTLAKE_LAKE_DATE_RANGE"),
        };
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(&body).unwrap();
        child.wait_with_output().unwrap()
    };
    let result = |out: &Output, i: usize| {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["records"][i]["result"].as_str().unwrap().to_string()
    };
    // Record 1 is 2019-12-31: outside the table's range, inside a stage's widened one.
    assert_eq!(result(&run(None), 1), "ProcessingFailed");
    assert_eq!(result(&run(Some("2019-01-01,NOW+1DAYS")), 1), "Ok");
    assert_one_line_error(&run(Some("NOW-3YEARS,NOW")), "EVENTLAKE_LAKE_DATE_RANGE");
}

#[test]
fn compact_takes_any_lookback_and_removes_what_a_killed_write_left() {
    let dir = std::env::temp_dir().join(format!("eventlake-cli-compact-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let lake = dir.join("lake");
    let lake_arg = lake.to_str().unwrap();
    let event = br#"{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"a:b","created_at":1710670500}"#;
    assert!(eventlake(&["replay", "--input", "-", "--lake", lake_arg], event)
        .status
        .success());
    // A staging file, as a write killed mid-way leaves it on a directory.
    let partition = lake.join("events/event_type=a/created_date=2024-03-17");
    let staging = partition.join("eventlake-local-1-2026-01-01-00-00-00-x.parquet#7");
    std::fs::write(&staging, b"half a file").unwrap();
    for lookback in ["0", "100000000", "4294967295"] {
        let out = eventlake(
            &[
                "compact",
                "--lake",
                lake_arg,
                "--date",
                "2024-03-17",
                "--lookback-days",
                lookback,
            ],
            b"",
        );
        assert!(
            out.status.success(),
            "{lookback}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("curated after:       1 rows in 1 files"),
            "{lookback}: {stdout}"
        );
    }
    assert!(!staging.exists(), "the staging file is removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = std::env::temp_dir().join(format!("eventlake-cli-colour-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlake"))
        .args(["replay", "--input", "-", "--lake", dir.join("lake").to_str().unwrap()])
        // The transform's per-batch warnings, which replay hides by default.
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"not json\n{}\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN"), "a warning is logged: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no escape codes: {stderr:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `eventlake replay` of the file `events` into the lake `lake`.
fn replay_file(events: &std::path::Path, lake: &std::path::Path) -> Output {
    eventlake(
        &[
            "replay",
            "--input",
            events.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
        ],
        b"",
    )
}

#[test]
fn generated_drift_is_what_the_replay_counts() {
    let dir = empty_dir("drift");
    let events = dir.join("events.ndjson");
    let out = eventlake(
        &[
            "generate",
            "--events",
            "3000",
            "--drift-wrong-kind",
            "0.05",
            "--drift-renamed",
            "0.02",
            "--drift-new-field",
            "0.02",
            "-o",
            events.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let wrong_kind: u64 = said
        .split("drift: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!((100..200).contains(&wrong_kind), "{said}");
    let lake = dir.join("lake");
    let out = replay_file(&events, &lake);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains(&format!("  field drift:       {wrong_kind} of the ok records")),
        "renamed and new fields are not the transform's drift; wrong kinds are, each once:\n{said}\n{summary}"
    );
    assert!(
        summary.contains("  ok:                3000\n"),
        "drift is delivered: {summary}"
    );
    // `eventlake quality` over the replayed lake: the same wrong kinds, as a report.
    let out = eventlake(&["quality", "--lake", lake.to_str().unwrap(), "--days", "1"], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.starts_with(&format!(
            "Field drift in {}, 2024-03-17 to 2024-03-17 (",
            lake.display()
        )),
        "{report}"
    );
    assert!(report.contains("\nFields the catalog does not name: "), "{report}");
    assert!(report.contains("experiment_variant"), "{report}");
    assert!(
        report.contains("\nEvent names the catalog does not have: none\n"),
        "{report}"
    );
    let listed: u64 = report
        .lines()
        .skip_while(|l| !l.starts_with("Catalog fields in the wrong JSON kind"))
        .skip(2)
        .take_while(|l| l.starts_with("  ") && !l.starts_with("  …"))
        .map(|l| l.split_whitespace().nth(4).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(
        listed > 0 && listed <= wrong_kind,
        "the first 20 fields' wrong kinds: {report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_one_line_error(
        &eventlake(&["quality", "--lake", "/no/such/lake"], b""),
        "no lake at /no/such/lake",
    );
    assert_flag_refused(&["quality", "--lake", "/tmp"], &["--days", "0"], "invalid value");
}
