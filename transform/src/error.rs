//! Why a record is rejected (`ProcessingFailed`), and why an invocation cannot be read.

use std::fmt;

use crate::json::{JsonError, ValueKind};

/// The largest created_at accepted: 9999-12-31T23:59:59Z.
pub const MAX_CREATED_AT: u64 = 253_402_300_799;

/// One of the three fields every event must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequiredField {
    /// `event_uuid`
    EventUuid,
    /// `event_name`
    EventName,
    /// `created_at`
    CreatedAt,
}

impl RequiredField {
    /// The JSON key.
    pub fn name(self) -> &'static str {
        match self {
            RequiredField::EventUuid => "event_uuid",
            RequiredField::EventName => "event_name",
            RequiredField::CreatedAt => "created_at",
        }
    }
}

impl fmt::Display for RequiredField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value quoted in a rejection reason, cut to a readable length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted(pub String);

impl Quoted {
    /// Quotes at most 64 characters of `s`.
    pub fn new(s: &str) -> Quoted {
        const MAX: usize = 64;
        match s.char_indices().nth(MAX) {
            Some((cut, _)) => Quoted(format!("{}…", &s[..cut])),
            None => Quoted(s.to_string()),
        }
    }
}

impl fmt::Display for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A number quoted in a rejection reason as written, cut to a readable length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt(pub String);

impl Excerpt {
    /// Keeps at most 64 characters of `s`.
    pub fn new(s: &str) -> Excerpt {
        Excerpt(Quoted::new(s).0)
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why one record is `ProcessingFailed`. Every variant names the rule that failed; the
/// message is what operators read in the logs and in the local lake's `errors/` files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record's `data` is not base64 (only possible with hand-made test events).
    #[error("record data is not valid base64: {0}")]
    NotBase64(String),
    /// The record holds no bytes, or only whitespace.
    #[error("record data is empty")]
    Empty,
    /// The bytes are not UTF-8.
    #[error("record data is not valid UTF-8 at byte {offset}")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The text is not a single JSON object.
    #[error("record data is not a valid JSON object: {0}")]
    Json(JsonError),
    /// A required field is absent.
    #[error("missing required field {0}")]
    MissingField(RequiredField),
    /// A required field appears more than once.
    #[error("required field {0} appears more than once")]
    DuplicateField(RequiredField),
    /// A required field has the wrong JSON type.
    #[error("{field} must be a JSON {expected}, found {}", found.with_article())]
    WrongType {
        /// The field.
        field: RequiredField,
        /// What the contract asks for.
        expected: &'static str,
        /// What the event has.
        found: ValueKind,
    },
    /// `event_uuid` is not canonical UUID text.
    #[error("event_uuid {0} is not a canonical UUID (8-4-4-4-12 hex digits)")]
    InvalidUuid(Quoted),
    /// `event_name` has an empty segment.
    #[error("event_name {0} has an empty segment: expected segments separated by ':', like payment:order:completed")]
    EmptySegment(Quoted),
    /// The first segment of `event_name` cannot be an S3 path segment.
    #[error("event_type {0} (first segment of event_name) must match ^[a-z0-9][a-z0-9_-]{{0,63}}$")]
    InvalidEventType(Quoted),
    /// `created_at` has a fraction or an exponent.
    #[error("created_at {0} is not an integer: expected whole Unix seconds without fraction or exponent")]
    CreatedAtNotInteger(Excerpt),
    /// `created_at` is negative or after 9999-12-31T23:59:59Z.
    #[error("created_at {value} is out of range: {hint}")]
    CreatedAtOutOfRange {
        /// The value as written.
        value: Excerpt,
        /// What it probably is.
        hint: RangeHint,
    },
    /// `created_at` is a valid time, but its UTC date is outside the lake window (the table's
    /// partition projection range): stored there, no query would ever see it.
    #[error("created_at {value} is {date}, {bound}")]
    OutsideLakeWindow {
        /// The value.
        value: u64,
        /// Its UTC date, `YYYY-MM-DD`.
        date: DayText,
        /// Which bound it crosses.
        bound: WindowBound,
    },
    /// The record was valid, but the response would have exceeded Lambda's payload limit; it
    /// is kept unchanged in `processing-failed` for replay.
    #[error("the response would exceed Lambda's {limit}-byte payload limit; record kept unchanged for replay")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// A UTC day written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayText(pub [u8; 10]);

impl DayText {
    /// The day `day` (days since 1970-01-01, not negative).
    pub fn of_day(day: i64) -> DayText {
        let secs = u64::try_from(day).unwrap_or(0).saturating_mul(86_400);
        DayText(crate::event::utc_datetime(secs).1)
    }
}

impl fmt::Display for DayText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("?"))
    }
}

/// The bound of the lake window an event's date crosses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowBound {
    /// Before the window's first day.
    BeforeFirstDay {
        /// The first day.
        first: DayText,
    },
    /// After the window's last day at processing time.
    AfterLastDay {
        /// The last day (for `NOW+1DAYS`, the day after the processing day).
        last: DayText,
    },
}

impl fmt::Display for WindowBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowBound::BeforeFirstDay { first } => write!(f, "before the lake's first day {first}"),
            WindowBound::AfterLastDay { last } => write!(f, "after the lake's last day {last}"),
        }
    }
}

/// A hint about an out-of-range `created_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeHint {
    /// Below zero.
    Negative,
    /// 13 to 15 digits: Unix milliseconds.
    Milliseconds,
    /// 16 to 18 digits: Unix microseconds.
    Microseconds,
    /// 19 or more digits: Unix nanoseconds (or garbage).
    Nanoseconds,
    /// Past year 9999, with no obvious unit mix-up.
    TooLate,
}

impl fmt::Display for RangeHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeHint::Negative => write!(f, "negative, expected Unix seconds from 0 to {MAX_CREATED_AT}"),
            RangeHint::Milliseconds => f.write_str("looks like milliseconds, expected Unix seconds"),
            RangeHint::Microseconds => f.write_str("looks like microseconds, expected Unix seconds"),
            RangeHint::Nanoseconds => f.write_str("looks like nanoseconds, expected Unix seconds"),
            RangeHint::TooLate => write!(
                f,
                "after 9999-12-31T23:59:59Z, expected Unix seconds from 0 to {MAX_CREATED_AT}"
            ),
        }
    }
}

impl RecordError {
    /// A short, stable code for metrics and log aggregation (the `Reason` metric dimension).
    /// This is the one place that classifies rejections.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::NotBase64(_) => "not_base64",
            RecordError::Empty => "empty",
            RecordError::NotUtf8 { .. } => "not_utf8",
            RecordError::Json(_) => "invalid_json",
            RecordError::MissingField(_) => "missing_field",
            RecordError::DuplicateField(_) => "duplicate_field",
            RecordError::WrongType { .. } => "wrong_type",
            RecordError::InvalidUuid(_) => "invalid_event_uuid",
            RecordError::EmptySegment(_) => "invalid_event_name",
            RecordError::InvalidEventType(_) => "invalid_event_type",
            RecordError::CreatedAtNotInteger(_) => "created_at_not_integer",
            RecordError::CreatedAtOutOfRange { .. } => "created_at_out_of_range",
            RecordError::OutsideLakeWindow { .. } => "created_at_outside_lake_window",
            RecordError::ResponseTooLarge { .. } => "response_too_large",
        }
    }
}

/// Why a whole invocation cannot be handled: the envelope itself is unreadable. Firehose
/// retries the invocation and then sends every record of it to `processing-failed`.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The envelope is not a Firehose transformation event.
    #[error("the invocation is not a Firehose transformation event: {0}")]
    Envelope(#[from] serde_json::Error),
    /// Even with every record returned unchanged, the response exceeds Lambda's limit.
    #[error(
        "the response is {size} bytes even with every record returned unchanged, over Lambda's {limit}-byte limit"
    )]
    ResponseTooLarge {
        /// Smallest response size reachable.
        size: usize,
        /// The limit.
        limit: usize,
    },
}
