//! The lake's layout, the one home of every key (contract §2). Below a lake root:
//!
//! - `events/event_type=<t>/created_date=<d>/<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.parquet`:
//!   the raw table, as Firehose's dynamic partitioning writes it;
//! - `errors/<processing-failed|format-conversion-failed>/<yyyy>/<MM>/<dd>/<HH>/<stream>-1-<…>-<uuid>`:
//!   Firehose's error output (`!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}`);
//! - `curated/event_type=<t>/created_date=<d>/compacted-<…>-<uuid>.parquet`: the curated table.
//!
//! The prefixes come from `glue-schema/table.json` (`storage`), which the CDK stack reads too.

use std::hash::{BuildHasher, Hasher};

use eventlake_glue_schema::Storage;

/// Firehose's error output types (`!{firehose:error-output-type}`), each a folder below the
/// errors prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Records the transform returned `ProcessingFailed` (the input, unchanged).
    ProcessingFailed,
    /// Transformed records that did not convert to the table's columns.
    FormatConversionFailed,
}

impl ErrorKind {
    /// Both kinds.
    pub const ALL: [ErrorKind; 2] = [ErrorKind::ProcessingFailed, ErrorKind::FormatConversionFailed];

    /// The folder name Firehose gives it.
    pub fn folder(self) -> &'static str {
        match self {
            ErrorKind::ProcessingFailed => "processing-failed",
            ErrorKind::FormatConversionFailed => "format-conversion-failed",
        }
    }

    /// The kind of an error object, from the folders of its key (`…/processing-failed/2026/…`).
    pub fn of_key(key: &str) -> Option<ErrorKind> {
        key.split('/')
            .find_map(|segment| ErrorKind::ALL.into_iter().find(|k| k.folder() == segment))
    }
}

/// The suffix a re-driven error object gets, so that a second re-drive skips it.
pub const REDRIVEN_SUFFIX: &str = ".redriven";

/// The folder of one partition below `prefix` (the events or the curated prefix).
pub fn partition_dir(prefix: &str, event_type: &str, created_date: &str) -> String {
    format!("{prefix}event_type={event_type}/created_date={created_date}/")
}

/// The key of a raw Parquet object.
pub fn events_key(storage: &Storage, event_type: &str, created_date: &str, name: &str) -> String {
    format!(
        "{}{name}.parquet",
        partition_dir(&storage.events_prefix, event_type, created_date)
    )
}

/// The key of an error object; `hour` is `yyyy/MM/dd/HH` of the arrival time (UTC).
pub fn error_key(storage: &Storage, kind: ErrorKind, hour: &str, name: &str) -> String {
    format!("{}{}/{hour}/{name}", storage.errors_prefix, kind.folder())
}

/// `yyyy/MM/dd/HH` of a time: the hour folders of the error output.
pub fn hour_path(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y/%m/%d/%H").to_string()
}

/// The (event type, date) of a partition folder or object key below `prefix`, if it is one.
pub fn partition_of(prefix: &str, key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(prefix)?;
    let mut parts = rest.split('/');
    let event_type = parts.next()?.strip_prefix("event_type=")?;
    let created_date = parts.next()?.strip_prefix("created_date=")?;
    Some((event_type.to_string(), created_date.to_string()))
}

/// Below the lake root, outside every table's location: the replays' committed-progress
/// manifests (`_eventlake/replays/<id>.json`, see [`crate::manifest`]). Athena reads only a
/// table's `LOCATION`, and the local query engine only the events and curated prefixes.
pub const STATE_PREFIX: &str = "_eventlake/";

/// The key of the manifest of the replay `id`.
pub fn manifest_key(id: &str) -> String {
    format!("{STATE_PREFIX}replays/{id}.json")
}

/// Object names as Firehose makes them: `<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>`. The uuid
/// is a version-4 UUID whose first 60 bits say which run wrote the object and in which of its
/// segments (see [`RunTag`]), so that a resumed replay can find and remove what an interrupted
/// one wrote after its last checkpoint; the other 62 bits are random, so names never collide.
#[derive(Debug, Clone)]
pub struct ObjectNames {
    stream: String,
    keys: std::collections::hash_map::RandomState,
    counter: u64,
    /// The run and segment stamped into the names from now on.
    pub tag: RunTag,
}

/// Which run of a replay wrote an object, and in which segment (between two checkpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunTag {
    /// The run: random per replay started afresh.
    pub run: u32,
    /// The segment: 0 until the first checkpoint, then counting up (28 bits kept).
    pub segment: u64,
}

impl RunTag {
    /// The largest segment a name can hold.
    pub const MAX_SEGMENT: u64 = (1 << 28) - 1;

    /// The first 64 bits of the uuid: run (32 bits), segment (16 + 12 bits around the
    /// version nibble, which [`uuid_v4`] overwrites).
    fn high_bits(self) -> u64 {
        let s = self.segment.min(RunTag::MAX_SEGMENT);
        (u64::from(self.run) << 32) | ((s >> 12) << 16) | (s & 0xfff)
    }

    /// The tag of an object name made by [`ObjectNames`] for `stream` (`None` for any other
    /// name). A `.parquet` extension is ignored.
    pub fn of_name(name: &str, stream: &str) -> Option<RunTag> {
        let name = name.strip_suffix(".parquet").unwrap_or(name);
        let rest = name.strip_prefix(stream)?.strip_prefix("-1-")?;
        // <yyyy-MM-dd-HH-mm-ss>-<uuid>
        let uuid = rest.get(20..)?;
        let groups: Vec<&str> = uuid.split('-').collect();
        let [run, mid, low, _, _] = groups.as_slice() else {
            return None;
        };
        if run.len() != 8 || mid.len() != 4 || low.len() != 4 || !low.starts_with('4') {
            return None;
        }
        let run = u32::from_str_radix(run, 16).ok()?;
        let segment = (u64::from_str_radix(mid, 16).ok()? << 12) | u64::from_str_radix(&low[1..], 16).ok()?;
        Some(RunTag { run, segment })
    }
}

impl ObjectNames {
    /// Names for objects of the delivery stream `stream`, tagged with a new random run.
    pub fn new(stream: &str) -> ObjectNames {
        let mut names = ObjectNames {
            stream: stream.to_string(),
            keys: std::collections::hash_map::RandomState::new(),
            counter: 0,
            tag: RunTag { run: 0, segment: 0 },
        };
        names.tag.run = (names.random() >> 32) as u32;
        names
    }

    /// The next name, stamped with the current time and the tag.
    pub fn delivery_object(&mut self) -> String {
        let now = chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S");
        let uuid = uuid_v4(self.tag.high_bits(), self.random());
        format!("{}-1-{now}-{uuid}", self.stream)
    }

    /// The next name of a compacted file: `compacted-<yyyy-MM-dd-HH-mm-ss>-<uuid>`.
    pub fn compacted_object(&mut self) -> String {
        let now = chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S");
        let uuid = uuid_v4(self.random(), self.random());
        format!("compacted-{now}-{uuid}")
    }

    fn random(&mut self) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write_u64(self.counter);
        self.counter += 1;
        h.finish()
    }
}

/// The version-4 UUID text (lower-case, variant 1) made of 128 random bits given as two
/// halves: object names here, event ids in `eventlake generate`.
pub fn uuid_v4(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlake_glue_schema::Table;

    #[test]
    fn keys_follow_the_contract_layout() {
        let s = &Table::embedded().storage;
        assert_eq!(
            events_key(s, "payment", "2024-03-17", "n"),
            "events/event_type=payment/created_date=2024-03-17/n.parquet"
        );
        assert_eq!(
            error_key(s, ErrorKind::FormatConversionFailed, "2024/03/17/10", "n"),
            "errors/format-conversion-failed/2024/03/17/10/n"
        );
        assert_eq!(
            partition_of("events/", "events/event_type=a/created_date=2024-01-02/x.parquet"),
            Some(("a".into(), "2024-01-02".into()))
        );
        assert_eq!(partition_of("events/", "errors/x"), None);
    }

    #[test]
    fn the_kind_of_an_error_object_is_its_folder() {
        assert_eq!(
            ErrorKind::of_key("lake/errors/processing-failed/2026/01/01/00/x"),
            Some(ErrorKind::ProcessingFailed)
        );
        assert_eq!(
            ErrorKind::of_key("errors/format-conversion-failed/2026/x"),
            Some(ErrorKind::FormatConversionFailed)
        );
        assert_eq!(ErrorKind::of_key("errors/other/x-processing-failed"), None);
    }

    #[test]
    fn names_are_firehose_shaped_and_distinct() {
        let mut names = ObjectNames::new("s");
        let (a, b) = (names.delivery_object(), names.delivery_object());
        assert_ne!(a, b);
        let uuid = a.rsplitn(6, '-').take(5).collect::<Vec<_>>();
        assert_eq!(uuid.iter().map(|p| p.len()).collect::<Vec<_>>(), [12, 4, 4, 4, 8]);
        assert!(a.starts_with("s-1-20"), "{a}");
    }

    #[test]
    fn a_name_tells_its_run_and_segment() {
        let mut names = ObjectNames::new("my-stream");
        for segment in [0, 1, 4095, 4096, 70_000, RunTag::MAX_SEGMENT] {
            names.tag.segment = segment;
            let name = names.delivery_object();
            assert_eq!(
                RunTag::of_name(&format!("{name}.parquet"), "my-stream"),
                Some(names.tag),
                "{name}"
            );
            assert_eq!(RunTag::of_name(&name, "other"), None);
            let uuid = &name[name.len() - 36..];
            assert!(eventlake_transform::event::parse_uuid(uuid).is_some(), "{uuid}");
        }
        assert_ne!(ObjectNames::new("s").tag.run, ObjectNames::new("s").tag.run);
        assert_eq!(RunTag::of_name("compacted-2026-01-01-00-00-00-x", "s"), None);
    }
}
