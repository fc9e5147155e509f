//! Kinesis records: the API limits, partition keys, packing events into records and records into calls.

/// Records per `PutRecords` call (the API's limit).
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// Bytes per `PutRecords` call, data and partition keys together (the API's limit: 5 MiB).
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;
/// Bytes per record, data and partition key together (the stream default: 1 MiB).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Events per record at most with `--pack` (Firehose's multi-record deaggregation limit).
pub const MAX_PACK: usize = 500;
/// Characters in a partition key at most (the API's limit).
pub(super) const MAX_PARTITION_KEY_CHARS: usize = 256;

/// One Kinesis record: one event, or several separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's data.
    pub data: Vec<u8>,
    /// Its partition key: the first event's `event_uuid` when it has one (an event and its
    /// duplicates land on one shard), else the event's position in the input.
    pub partition_key: String,
    /// How many events the data holds.
    pub events: usize,
}

impl Record {
    /// Bytes this record counts against the record and request limits.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }

    /// The events in the record, as they were given.
    pub fn event_lines(&self) -> impl Iterator<Item = &[u8]> {
        self.data.split(|&b| b == b'\n')
    }
}

/// An event that cannot be sent, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsendable {
    /// The event as given.
    pub event: String,
    /// Why it cannot be sent.
    pub reason: String,
}

/// The partition key for an event: its `event_uuid` if it has a usable one, else `fallback`.
pub fn partition_key(event: &str, fallback: u64) -> String {
    #[derive(serde::Deserialize)]
    struct Key<'a> {
        #[serde(borrow)]
        event_uuid: Option<&'a str>,
    }
    match serde_json::from_str::<Key>(event) {
        Ok(Key { event_uuid: Some(uuid) }) if !uuid.is_empty() && uuid.chars().count() <= MAX_PARTITION_KEY_CHARS => {
            uuid.to_string()
        }
        _ => fallback.to_string(),
    }
}

/// Packs events into records of up to `pack` events and [`MAX_RECORD_BYTES`].
#[derive(Debug)]
pub struct Packer {
    pack: usize,
    open: Option<Record>,
    seen: u64,
}

impl Packer {
    /// A packer putting up to `pack` (1 to [`MAX_PACK`]) events in a record.
    pub fn new(pack: usize) -> Packer {
        Packer {
            pack: pack.clamp(1, MAX_PACK),
            open: None,
            seen: 0,
        }
    }

    /// Adds one event; returns a record when one is complete, or the event back if it is too
    /// large for any record.
    pub fn push(&mut self, event: String) -> Result<Option<Record>, Unsendable> {
        self.seen += 1;
        let key = partition_key(&event, self.seen);
        if event.len() + key.len() > MAX_RECORD_BYTES {
            return Err(Unsendable {
                reason: format!(
                    "event is {} bytes; a Kinesis record holds at most {MAX_RECORD_BYTES} bytes with its partition key",
                    event.len()
                ),
                event,
            });
        }
        let record = Record {
            data: event.into_bytes(),
            partition_key: key,
            events: 1,
        };
        if self.pack == 1 {
            return Ok(Some(record));
        }
        if let Some(open) = &mut self.open {
            if open.size() + 1 + record.data.len() <= MAX_RECORD_BYTES {
                open.data.push(b'\n');
                open.data.extend_from_slice(&record.data);
                open.events += 1;
                return Ok(if open.events == self.pack {
                    self.open.take()
                } else {
                    None
                });
            }
        }
        Ok(self.open.replace(record))
    }

    /// The last, partly filled record.
    pub fn finish(&mut self) -> Option<Record> {
        self.open.take()
    }
}

/// Records for one `PutRecords` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Events in them.
    pub events: usize,
    /// Bytes counted against the request limit.
    pub bytes: usize,
}

impl Batch {
    /// Whether `record` fits without breaking the call limits or `max_events` (a batch always
    /// takes its first record).
    pub fn fits(&self, record: &Record, max_events: usize) -> bool {
        self.records.is_empty()
            || (self.records.len() < MAX_RECORDS_PER_CALL
                && self.bytes + record.size() <= MAX_BYTES_PER_CALL
                && self.events + record.events <= max_events)
    }

    /// Adds a record.
    pub fn push(&mut self, record: Record) {
        self.events += record.events;
        self.bytes += record.size();
        self.records.push(record);
    }
}

/// Events per batch at most so that a paced run sends about 20 calls a second, not one
/// burst of 500 records every few seconds.
pub fn max_batch_events(rate: Option<f64>, pack: usize) -> usize {
    let most = MAX_RECORDS_PER_CALL * pack.clamp(1, MAX_PACK);
    match rate {
        Some(r) => ((r / 20.0) as usize).clamp(1, most),
        None => most,
    }
}
