//! The two engines behind `query`, `quality`, `compact` and the demo: DataFusion linked into
//! the command (feature `engine`) and DataFusion's Python wheel in a child process (what a
//! build without the feature runs, `just demo`'s). Same commands, same lake: the same bytes
//! out. With the feature both engines are compared; either build prints the demo's expected
//! output (`expected/demo-5000.txt`; `just test` runs this file in both builds). The wheel
//! must be installed (`just wheel-engine`; the test recipes do it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the command with `engine` (`in-process` or `wheel`; "": the build's default).
fn eventlake(engine: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlake"))
        .args(args)
        .env("EVENTLAKE_ENGINE", engine)
        .output()
        .unwrap()
}

/// The demo's output for 5,000 events, which every build and engine must print (timings
/// aside; the lake's path written as `<lake>`). `EVENTLAKE_WRITE_EXPECTED=1` rewrites it.
const EXPECTED_DEMO: &str = "tests/expected/demo-5000.txt";

#[test]
fn the_demo_prints_its_expected_output() {
    let dir = scratch("expected");
    let lake = dir.join("lake");
    let lake = lake.to_str().unwrap();
    let out =
        untimed(&stdout(eventlake("", &["demo", "--events", "5000", "--lake", lake]))).replace(lake, "<lake>") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTED_DEMO);
    if std::env::var_os("EVENTLAKE_WRITE_EXPECTED").is_some() {
        std::fs::write(&path, &out).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert!(out == expected, "the demo's output is not {EXPECTED_DEMO}:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Its stdout, after checking that it succeeded.
fn stdout(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The demo's output without its two lines of timings (`time:` and the breakdown below it).
fn untimed(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    let time = lines.iter().position(|l| l.starts_with("time:")).expect("a time line");
    assert!(lines[time + 1].trim_start().starts_with("transform "), "{out}");
    [&lines[..time], &lines[time + 2..]].concat().join("\n")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventlake-engines-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir` (relative path, bytes), sorted.
#[cfg(feature = "engine")]
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[cfg(feature = "engine")]
#[test]
fn the_demo_prints_the_same_on_either_engine() {
    let dir = scratch("demo");
    let lake = dir.join("lake");
    let lake = lake.to_str().unwrap();
    let demo = ["demo", "--events", "20000", "--lake", lake];
    let in_process = stdout(eventlake("in-process", &demo));
    let wheel = stdout(eventlake("wheel", &demo));
    // Something was computed: rows in the four tables and drift found.
    assert!(in_process.contains("| payment"), "{in_process}");
    assert!(
        in_process.contains("Catalog fields in the wrong JSON kind"),
        "{in_process}"
    );
    assert_eq!(untimed(&wheel), untimed(&in_process));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "engine")]
#[test]
fn compaction_and_queries_are_the_same_on_either_engine() {
    let dir = scratch("compact");
    let lake = dir.join("lake");
    let lake_arg = lake.to_str().unwrap();
    stdout(eventlake(
        "in-process",
        &["demo", "--events", "6000", "--lake", lake_arg],
    ));
    // Compacted by each engine, from the same raw files: the same curated files, byte for byte
    // (their typed columns come from the SQL functions and the engine's casts).
    let raw = dir.join("raw");
    std::fs::rename(&lake, &raw).unwrap();
    let mut curated = Vec::new();
    for engine in ["in-process", "wheel"] {
        let _ = std::fs::remove_dir_all(&lake);
        copy(&raw, &lake);
        stdout(eventlake(engine, &["compact", "--lake", lake_arg]));
        curated.push(files(&lake.join("curated")));
    }
    assert!(!curated[0].is_empty());
    assert_eq!(curated[0].len(), curated[1].len());
    for (a, b) in curated[0].iter().zip(&curated[1]) {
        // Named by the time and a random id; the partition folder and the bytes must agree.
        assert_eq!(a.0.parent(), b.0.parent());
        assert!(a.1 == b.1, "{} differs between the engines", a.0.display());
    }
    // The same answers in every format, over the raw table, the curated one and a typed view
    // (curated days from the typed columns, the others from the raw payload).
    for (sql, format) in [
        ("SELECT * FROM events_curated ORDER BY event_uuid LIMIT 200", "json"),
        (
            "SELECT * FROM payment_order_completed ORDER BY event_uuid LIMIT 50",
            "csv",
        ),
        (
            "SELECT created_date, event_name, field, events FROM field_drift ORDER BY 1, 2, 3 LIMIT 40",
            "table",
        ),
        (
            "SELECT count(*) AS n, min(created_datetime) AS first FROM events",
            "table",
        ),
    ] {
        let args = ["query", "--lake", lake_arg, "--format", format, sql];
        let in_process = stdout(eventlake("in-process", &args));
        assert!(in_process.lines().count() > 2, "{sql}: {in_process}");
        assert_eq!(stdout(eventlake("wheel", &args)), in_process, "{sql}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "engine")]
fn copy(from: &Path, to: &Path) {
    for (path, bytes) in files(from) {
        let target = to.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

/// A wheel engine that cannot start, or a statement it refuses, is one readable line.
#[test]
fn wheel_engine_errors_are_one_line() {
    let dir = scratch("errors");
    let lake = dir.join("lake");
    let lake_arg = lake.to_str().unwrap();
    stdout(eventlake("", &["demo", "--events", "200", "--lake", lake_arg]));
    let one_line = |out: Output, contains: &str| {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("eventlake: ") && err.contains(contains), "{err}");
    };
    let query = |python: &str, sql: &str| {
        Command::new(env!("CARGO_BIN_EXE_eventlake"))
            .args(["query", "--lake", lake_arg, sql])
            .env("EVENTLAKE_ENGINE", "wheel")
            .env("EVENTLAKE_PYTHON", python)
            .output()
            .unwrap()
    };
    one_line(
        query("/nonexistent/python3", "SELECT 1"),
        "cannot run /nonexistent/python3",
    );
    // A Python without the wheel: isolated mode, no site-packages.
    let bare = dir.join("bare-python");
    std::fs::write(&bare, "#!/bin/sh\nexec python3 -I -S \"$@\"\n").unwrap();
    std::fs::set_permissions(&bare, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    one_line(
        query(bare.to_str().unwrap(), "SELECT 1"),
        "cannot import the DataFusion wheel",
    );
    one_line(query("python3", "DROP VIEW events_unique"), "query refused");
    one_line(query("python3", "SELECT no_such_column FROM events"), "no_such_column");
    let _ = std::fs::remove_dir_all(&dir);
}
