//! The eventlake Glue table: `glue-schema/table.json`, embedded, parsed and validated.
//!
//! `table.json` is the single source of truth for the lake's columns, partition keys and
//! partition projection; `catalog.json` for the known event types and their payload fields
//! (the `event_type` projection enum, the typed Athena views). The transform's tests check
//! every `Ok` record against the table, the CDK stack builds the Glue table from both, and the
//! local lake writes Parquet with its columns. [`athena`] generates the committed Athena SQL.
#![warn(missing_docs)]

pub mod athena;
pub mod catalog;
pub mod curated;
pub mod field_drift;
pub mod window;

pub use catalog::{Catalog, CatalogError, EventDef, EventTypeDef, FieldDef};
pub use window::{DayRange, LakeWindow, WindowEnd, WindowError};

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

/// The text of `glue-schema/table.json`, as compiled into this crate.
pub const TABLE_JSON: &str = include_str!("../table.json");

/// Everything that can be wrong with a table definition.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The text is not JSON of the expected shape.
    #[error("table definition is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// A column or partition key name is not a lower-case Hive identifier.
    #[error("`{name}` is not a valid column name: use lower-case letters, digits and `_`, starting with a letter or `_`, at most 255 characters")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// Two columns (data or partition) share a name.
    #[error("column `{name}` is defined twice")]
    DuplicateColumn {
        /// The repeated name.
        name: String,
    },
    /// A type string is not a Hive type this project supports.
    #[error("column `{column}` has type `{ty}`, which is not a supported Hive type")]
    UnsupportedType {
        /// The column.
        column: String,
        /// The type as written.
        ty: String,
    },
    /// The duplicate rule names a column the table does not have, or a case-insensitive key
    /// column that is not a string.
    #[error("duplicates: {0}")]
    DuplicateRule(String),
    /// A partition key is not of type `string`.
    #[error("partition key `{name}` must be of type string (it is a path segment), found `{ty}`")]
    PartitionKeyNotString {
        /// The partition key.
        name: String,
        /// Its declared type.
        ty: String,
    },
    /// The projection settings do not match the partition keys.
    #[error("partition projection is inconsistent: {0}")]
    Projection(String),
    /// A day to write into a typed view as curated is not a `yyyy-MM-dd` date.
    #[error("curated day `{day}` is not a yyyy-MM-dd date")]
    CuratedDay {
        /// The day as given.
        day: String,
    },
}

/// A Hive column type that Firehose's Parquet conversion and Athena both understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiveType {
    /// `string`
    String,
    /// `bigint` (64-bit signed)
    BigInt,
    /// `int` (32-bit signed)
    Int,
    /// `smallint` (16-bit signed)
    SmallInt,
    /// `tinyint` (8-bit signed)
    TinyInt,
    /// `double`
    Double,
    /// `float`
    Float,
    /// `boolean`
    Boolean,
    /// `timestamp`
    Timestamp,
    /// `date`
    Date,
    /// `decimal(precision,scale)`
    Decimal {
        /// Total digits, 1..=38.
        precision: u8,
        /// Digits after the point, 0..=precision.
        scale: u8,
    },
    /// `array<element>` of a primitive element type.
    Array(Box<HiveType>),
}

impl HiveType {
    /// Parses a Hive type name such as `bigint` or `decimal(10,2)` (case-insensitive).
    pub fn parse(text: &str) -> Option<HiveType> {
        let t = text.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "string" => HiveType::String,
            "bigint" => HiveType::BigInt,
            "int" | "integer" => HiveType::Int,
            "smallint" => HiveType::SmallInt,
            "tinyint" => HiveType::TinyInt,
            "double" => HiveType::Double,
            "float" => HiveType::Float,
            "boolean" => HiveType::Boolean,
            "timestamp" => HiveType::Timestamp,
            "date" => HiveType::Date,
            _ if t.starts_with("array<") => {
                let element = HiveType::parse(t.strip_prefix("array<")?.strip_suffix('>')?)?;
                if matches!(element, HiveType::Array(_)) {
                    return None;
                }
                HiveType::Array(Box::new(element))
            }
            _ => {
                let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
                let (p, s) = inner.split_once(',')?;
                let precision: u8 = p.trim().parse().ok()?;
                let scale: u8 = s.trim().parse().ok()?;
                if !(1..=38).contains(&precision) || scale > precision {
                    return None;
                }
                HiveType::Decimal { precision, scale }
            }
        })
    }

    /// The canonical Hive spelling, as Glue and Athena print it.
    pub fn name(&self) -> String {
        match self {
            HiveType::String => "string".into(),
            HiveType::BigInt => "bigint".into(),
            HiveType::Int => "int".into(),
            HiveType::SmallInt => "smallint".into(),
            HiveType::TinyInt => "tinyint".into(),
            HiveType::Double => "double".into(),
            HiveType::Float => "float".into(),
            HiveType::Boolean => "boolean".into(),
            HiveType::Timestamp => "timestamp".into(),
            HiveType::Date => "date".into(),
            HiveType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            HiveType::Array(element) => format!("array<{}>", element.name()),
        }
    }

    /// Whether a JSON value converts to this type without loss under the rules of the
    /// OpenX JSON deserializer as eventlake uses it (`null` fits every type).
    ///
    /// Strings are accepted for numeric and boolean types only when they hold exactly such a
    /// value; the transform never relies on that leniency, the check exists for the local lake.
    pub fn accepts(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (self, value) {
            (_, Value::Null) => true,
            (HiveType::String, Value::String(_)) => true,
            (HiveType::BigInt, Value::Number(n)) => n.as_i64().is_some(),
            (HiveType::Int, Value::Number(n)) => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            (HiveType::SmallInt, Value::Number(n)) => n.as_i64().is_some_and(|v| i16::try_from(v).is_ok()),
            (HiveType::TinyInt, Value::Number(n)) => n.as_i64().is_some_and(|v| i8::try_from(v).is_ok()),
            (HiveType::Double | HiveType::Float | HiveType::Decimal { .. }, Value::Number(_)) => true,
            (HiveType::Boolean, Value::Bool(_)) => true,
            (HiveType::Timestamp, Value::String(s)) => is_openx_timestamp(s),
            (HiveType::Timestamp, Value::Number(n)) => n.as_i64().is_some(),
            (HiveType::Date, Value::String(s)) => is_date(s),
            (HiveType::Array(element), Value::Array(items)) => items.iter().all(|v| element.accepts(v)),
            _ => false,
        }
    }
}

/// The JSON kind the catalog expects a producer to send for a field (`null` fits every field
/// and is not a kind here): the producer contract the transform's drift count checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// A JSON string (`string`, and `timestamp` and `date` as text).
    String,
    /// A number without fraction or exponent (`bigint`, `int`, `smallint`, `tinyint`).
    Integer,
    /// Any JSON number (`double`, `float`, `decimal`).
    Number,
    /// `true` or `false` (`boolean`).
    Boolean,
    /// A JSON array (`array<…>`).
    Array,
}

impl JsonKind {
    /// Every kind, in declaration order.
    pub const ALL: [JsonKind; 5] = [
        JsonKind::String,
        JsonKind::Integer,
        JsonKind::Number,
        JsonKind::Boolean,
        JsonKind::Array,
    ];

    /// Whether a value of kind `got` fits a field that expects `self`: the same kind, or an
    /// integer where any number is expected. (`null` fits every field; objects none.)
    pub fn accepts(self, got: JsonKind) -> bool {
        self == got || (self == JsonKind::Number && got == JsonKind::Integer)
    }

    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            JsonKind::String => "string",
            JsonKind::Integer => "integer",
            JsonKind::Number => "number",
            JsonKind::Boolean => "boolean",
            JsonKind::Array => "array",
        }
    }
}

impl HiveType {
    /// The JSON kind a producer sends for a field of this type.
    pub fn json_kind(&self) -> JsonKind {
        match self {
            HiveType::String | HiveType::Timestamp | HiveType::Date => JsonKind::String,
            HiveType::BigInt | HiveType::Int | HiveType::SmallInt | HiveType::TinyInt => JsonKind::Integer,
            HiveType::Double | HiveType::Float | HiveType::Decimal { .. } => JsonKind::Number,
            HiveType::Boolean => JsonKind::Boolean,
            HiveType::Array(_) => JsonKind::Array,
        }
    }
}

/// Whether `s` is a timestamp text that Firehose's OpenX JSON deserializer reads as a
/// `timestamp` in UTC (see [`openx_timestamp_micros`]).
pub fn is_openx_timestamp(s: &str) -> bool {
    openx_timestamp_micros(s).is_some()
}

/// The instant of a timestamp text as the OpenX JSON deserializer reads it, in microseconds
/// since the epoch (UTC; a fraction finer than microseconds is cut off): the one home of the
/// rule. Accepted: `yyyy-MM-ddTHH:mm:ss[.fraction]Z` (ISO 8601 with a literal `Z`) or
/// `yyyy-MM-dd HH:mm:ss[.fraction]` (`java.sql.Timestamp`), 1 to 9 fraction digits. Offsets
/// such as `+00:00` are not accepted. The calendar date and time of day must be real.
pub fn openx_timestamp_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let days = window::parse_date(s.get(..10)?)?;
    let time = &b[11..19];
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    if !(digits(&time[0..2]) && time[2] == b':' && digits(&time[3..5]) && time[5] == b':' && digits(&time[6..8])) {
        return None;
    }
    let num = |r: &[u8]| i64::from(r[0] - b'0') * 10 + i64::from(r[1] - b'0');
    let (h, m, sec) = (num(&time[0..2]), num(&time[3..5]), num(&time[6..8]));
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        micros = frac[..n.min(6)]
            .iter()
            .chain(std::iter::repeat_n(&b'0', 6usize.saturating_sub(n)))
            .fold(0, |acc, c| acc * 10 + i64::from(c - b'0'));
        rest = &frac[n..];
    }
    let valid_end = match rest {
        b"Z" => b[10] == b'T',
        b"" => b[10] == b' ',
        _ => false,
    };
    valid_end
        .then(|| ((days * 24 + h) * 60 + m) * 60 + sec)
        .map(|secs| secs * 1_000_000 + micros)
}

/// Whether `s` is a real calendar date written `yyyy-MM-dd`.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (y, m, d) = (&s[0..4], &s[5..7], &s[8..10]);
    if ![y, m, d].iter().all(|p| p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    let (y, m, d): (i32, u32, u32) = (y.parse().unwrap_or(0), m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// One column of the table (data column or partition key).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Column {
    /// Lower-case Hive identifier.
    pub name: String,
    /// Hive type as written in `table.json`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Human description, shown in Glue and Athena.
    #[serde(default)]
    pub comment: String,
}

impl Column {
    /// The parsed type; `validate` guarantees it is `Some` for a loaded table.
    pub fn hive_type(&self) -> HiveType {
        HiveType::parse(&self.type_name).unwrap_or(HiveType::String)
    }
}

/// Partition projection of `event_type`: an enum whose values are the event types of the
/// catalog (`catalog.json`), so adding a type to the catalog makes it queryable.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EnumProjection {
    /// Always `enum`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the values come from: always `catalog.json`.
    pub values_from: String,
}

/// Partition projection of `created_date`: a date range.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DateProjection {
    /// Always `date`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Java date format of the partition value, `yyyy-MM-dd`.
    pub format: String,
    /// Athena's `projection.<key>.range`, e.g. `2020-01-01,NOW+1DAYS`.
    pub range: String,
    /// Step between partitions.
    pub interval: u32,
    /// Unit of `interval`, e.g. `DAYS`.
    pub interval_unit: String,
}

/// Partition projection settings, one entry per partition key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Projection {
    /// Projection of `event_type`.
    pub event_type: EnumProjection,
    /// Projection of `created_date`.
    pub created_date: DateProjection,
}

/// What makes two rows the same event, and which one is kept: the one home of the rule that
/// `events_unique`, the typed views, the curated `MERGE` (CDK) and `eventlake compact` apply.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Duplicates {
    /// The key: rows with equal values in these columns are one event.
    pub key: Vec<KeyColumn>,
    /// Among the rows of one key, the first in this column order (ascending, NULLs last) is kept.
    pub keep: Vec<String>,
}

/// One column of the duplicate key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyColumn {
    /// The column.
    pub column: String,
    /// Whether letter case is ignored (`lower(column)` in SQL).
    #[serde(default)]
    pub ignore_case: bool,
}

impl Duplicates {
    /// The key as SQL expressions, e.g. `lower(event_uuid), created_at`.
    pub fn key_sql(&self) -> String {
        self.key
            .iter()
            .map(|k| match k.ignore_case {
                true => format!("lower({})", k.column),
                false => k.column.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The window that numbers a key's rows, 1 for the one kept. `created_date` leads the
    /// partition (a function of `created_at`: it changes no key) so that Athena pushes date
    /// filters down to the partitions.
    pub fn window_sql(&self) -> String {
        format!(
            "row_number() OVER (PARTITION BY created_date, {} ORDER BY {})",
            self.key_sql(),
            self.keep.join(", ")
        )
    }
}

/// Where and how the table's files are stored.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// Prefix of the event files below the lake root, e.g. `events/`.
    pub events_prefix: String,
    /// Prefix of Firehose's failed records below the lake root, e.g. `errors/`.
    pub errors_prefix: String,
    /// Prefix of the curated (Iceberg) table below the lake root, e.g. `curated/`.
    pub curated_prefix: String,
    /// `storage.location.template` relative to the lake root.
    pub location_template: String,
    /// Hive input format class.
    pub input_format: String,
    /// Hive output format class.
    pub output_format: String,
    /// Hive SerDe class.
    pub serialization_library: String,
    /// Parquet compression codec.
    pub compression: String,
}

/// The Glue table definition.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// Glue database name.
    pub database: String,
    /// Table name.
    pub name: String,
    /// Table description.
    pub description: String,
    /// Data columns, in file order.
    pub columns: Vec<Column>,
    /// Partition keys, in path order.
    pub partition_keys: Vec<Column>,
    /// Partition projection settings.
    pub projection: Projection,
    /// The duplicate rule.
    pub duplicates: Duplicates,
    /// Storage settings.
    pub storage: Storage,
}

impl Table {
    /// Parses and validates a table definition.
    pub fn from_json(text: &str) -> Result<Table, SchemaError> {
        let table: Table = serde_json::from_str(text)?;
        table.validate()?;
        Ok(table)
    }

    /// The embedded `glue-schema/table.json`. Its validity is checked by this crate's tests,
    /// so this never fails in a tested build.
    pub fn embedded() -> &'static Table {
        static TABLE: OnceLock<Table> = OnceLock::new();
        TABLE.get_or_init(|| match Table::from_json(TABLE_JSON) {
            Ok(t) => t,
            Err(e) => panic!("glue-schema/table.json is invalid: {e}"),
        })
    }

    /// Checks names, types and projection settings.
    pub fn validate(&self) -> Result<(), SchemaError> {
        let mut seen = BTreeSet::new();
        for col in self.columns.iter().chain(&self.partition_keys) {
            if !is_hive_identifier(&col.name) {
                return Err(SchemaError::InvalidName { name: col.name.clone() });
            }
            if !seen.insert(col.name.as_str()) {
                return Err(SchemaError::DuplicateColumn { name: col.name.clone() });
            }
            if HiveType::parse(&col.type_name).is_none() {
                return Err(SchemaError::UnsupportedType {
                    column: col.name.clone(),
                    ty: col.type_name.clone(),
                });
            }
        }
        for col in &self.columns {
            if matches!(HiveType::parse(&col.type_name), Some(HiveType::Array(_))) {
                return Err(SchemaError::UnsupportedType {
                    column: col.name.clone(),
                    ty: col.type_name.clone(),
                });
            }
        }
        let data_column = |name: &str| self.columns.iter().find(|c| c.name == name);
        if self.duplicates.key.is_empty() {
            return Err(SchemaError::DuplicateRule("the key names no column".into()));
        }
        for k in &self.duplicates.key {
            match data_column(&k.column) {
                None => {
                    return Err(SchemaError::DuplicateRule(format!(
                        "key column `{}` is not a data column",
                        k.column
                    )))
                }
                Some(c) if k.ignore_case && c.hive_type() != HiveType::String => {
                    return Err(SchemaError::DuplicateRule(format!(
                        "key column `{}` ignores case but is not a string",
                        k.column
                    )))
                }
                Some(_) => {}
            }
        }
        for name in &self.duplicates.keep {
            if data_column(name).is_none() {
                return Err(SchemaError::DuplicateRule(format!(
                    "keep column `{name}` is not a data column"
                )));
            }
        }
        for key in &self.partition_keys {
            if HiveType::parse(&key.type_name) != Some(HiveType::String) {
                return Err(SchemaError::PartitionKeyNotString {
                    name: key.name.clone(),
                    ty: key.type_name.clone(),
                });
            }
        }
        let names: Vec<&str> = self.partition_keys.iter().map(|k| k.name.as_str()).collect();
        if names != ["event_type", "created_date"] {
            return Err(SchemaError::Projection(format!(
                "partition keys must be [event_type, created_date] to match the projection, found {names:?}"
            )));
        }
        let p = &self.projection;
        if p.event_type.kind != "enum" || p.event_type.values_from != "catalog.json" {
            return Err(SchemaError::Projection(
                "event_type must be an enum projection with valuesFrom \"catalog.json\"".into(),
            ));
        }
        if p.created_date.kind != "date" || p.created_date.format != "yyyy-MM-dd" {
            return Err(SchemaError::Projection(
                "created_date must be a date projection with format yyyy-MM-dd".into(),
            ));
        }
        let prefixes = [
            &self.storage.events_prefix,
            &self.storage.errors_prefix,
            &self.storage.curated_prefix,
        ];
        for (i, prefix) in prefixes.iter().enumerate() {
            let segment = prefix.strip_suffix('/').unwrap_or("");
            if segment.is_empty() || !is_hive_identifier(segment) {
                return Err(SchemaError::Projection(format!(
                    "storage prefix `{prefix}` must be one lower-case name followed by `/`"
                )));
            }
            if prefixes[..i].contains(prefix) {
                return Err(SchemaError::Projection(format!(
                    "storage prefix `{prefix}` is used twice"
                )));
            }
        }
        if let Err(e) = window::LakeWindow::parse(&p.created_date.range) {
            return Err(SchemaError::Projection(e.to_string()));
        }
        let expected_template = format!(
            "{}{}",
            self.storage.events_prefix,
            names.iter().map(|n| format!("{n}=${{{n}}}/")).collect::<String>()
        );
        if self.storage.location_template != expected_template {
            return Err(SchemaError::Projection(format!(
                "locationTemplate must be `{expected_template}`, found `{}`",
                self.storage.location_template
            )));
        }
        Ok(())
    }

    /// Looks up a data column or partition key by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().chain(&self.partition_keys).find(|c| c.name == name)
    }

    /// Names of the partition keys, in path order.
    pub fn partition_key_names(&self) -> Vec<&str> {
        self.partition_keys.iter().map(|c| c.name.as_str()).collect()
    }

    /// Checks one JSON record (as Firehose's format conversion sees it) against the table:
    /// every key must be a column or partition key, and every value must fit its column type.
    /// Returns the first problem found.
    pub fn check_record(&self, record: &serde_json::Value) -> Result<(), RecordMismatch> {
        let obj = record.as_object().ok_or(RecordMismatch::NotAnObject)?;
        for (key, value) in obj {
            let col = self
                .column(key)
                .ok_or_else(|| RecordMismatch::UnknownKey { key: key.clone() })?;
            let ty = col.hive_type();
            if !ty.accepts(value) {
                return Err(RecordMismatch::TypeMismatch {
                    key: key.clone(),
                    expected: ty.name(),
                    value: value.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Why a JSON record does not fit the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordMismatch {
    /// The record is not a JSON object.
    #[error("record is not a JSON object")]
    NotAnObject,
    /// A key names no column.
    #[error("key `{key}` is not a column of the table")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A value does not convert to its column type.
    #[error("value {value} of `{key}` does not fit type {expected}")]
    TypeMismatch {
        /// The key.
        key: String,
        /// The column type.
        expected: String,
        /// The value, as JSON text.
        value: String,
    },
}

/// Whether `name` is a lower-case Hive identifier (`^[a-z_][a-z0-9_]{0,254}$`).
pub fn is_hive_identifier(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Whether `s` is a valid `event_type`: `^[a-z0-9][a-z0-9_-]{0,63}$` (it becomes an S3 path
/// segment and a partition value).
pub fn is_event_type(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_is_valid_and_matches_the_contract() {
        let t = Table::from_json(TABLE_JSON).expect("valid");
        let cols: Vec<(&str, String)> = t
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.hive_type().name()))
            .collect();
        assert_eq!(
            cols,
            vec![
                ("event_uuid", "string".to_string()),
                ("event_name", "string".into()),
                ("created_at", "bigint".into()),
                ("created_datetime", "timestamp".into()),
                ("event_subtype", "string".into()),
                ("payload", "string".into()),
            ]
        );
        assert_eq!(t.partition_key_names(), ["event_type", "created_date"]);
    }

    #[test]
    fn rejects_bad_definitions() {
        let bad_name = TABLE_JSON.replacen("\"payload\"", "\"Payload\"", 1);
        assert!(matches!(
            Table::from_json(&bad_name),
            Err(SchemaError::InvalidName { .. })
        ));
        let dup = TABLE_JSON.replacen("\"event_name\"", "\"event_uuid\"", 1);
        assert!(matches!(
            Table::from_json(&dup),
            Err(SchemaError::DuplicateColumn { .. })
        ));
        let bad_type = TABLE_JSON.replacen("\"bigint\"", "\"long\"", 1);
        assert!(matches!(
            Table::from_json(&bad_type),
            Err(SchemaError::UnsupportedType { .. })
        ));
        let bad_enum = TABLE_JSON.replacen("\"catalog.json\"", "\"elsewhere\"", 1);
        assert!(matches!(Table::from_json(&bad_enum), Err(SchemaError::Projection(_))));
        assert!(matches!(Table::from_json("{"), Err(SchemaError::Parse(_))));
        let same_prefix = TABLE_JSON.replacen("\"curated/\"", "\"errors/\"", 1);
        assert!(Table::from_json(&same_prefix)
            .unwrap_err()
            .to_string()
            .contains("used twice"));
        let nested_prefix = TABLE_JSON.replacen("\"errors/\"", "\"lake/errors/\"", 1);
        assert!(Table::from_json(&nested_prefix)
            .unwrap_err()
            .to_string()
            .contains("one lower-case name"));
        let bad_range = TABLE_JSON.replacen("2020-01-01,NOW+1DAYS", "NOW-3YEARS,NOW", 1);
        assert!(Table::from_json(&bad_range)
            .unwrap_err()
            .to_string()
            .contains("NOW-3YEARS,NOW"));
    }

    #[test]
    fn hive_types_parse_and_print() {
        for name in [
            "string",
            "bigint",
            "int",
            "smallint",
            "tinyint",
            "double",
            "float",
            "boolean",
            "timestamp",
            "date",
            "decimal(10,2)",
        ] {
            assert_eq!(HiveType::parse(name).map(|t| t.name()).as_deref(), Some(name));
        }
        assert_eq!(HiveType::parse("decimal(39,2)"), None);
        assert_eq!(HiveType::parse("decimal(5,6)"), None);
        assert_eq!(HiveType::parse("varchar"), None);
        assert_eq!(HiveType::parse("array<array<int>>"), None);
        assert_eq!(HiveType::parse("array<>"), None);
    }

    #[test]
    fn openx_timestamps() {
        for ok in [
            "2024-03-17T10:15:00Z",
            "2024-02-29T23:59:59.123Z",
            "2024-03-17 10:15:00",
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(is_openx_timestamp(ok), "{ok}");
        }
        for bad in [
            "2024-03-17T10:15:00+00:00",
            "2024-03-17T10:15:00",
            "2024-03-17 10:15:00Z",
            "2023-02-29T00:00:00Z",
            "2024-03-17T24:00:00Z",
            "2024-03-17T10:15:00.Z",
            "2024-3-17T10:15:00Z",
            "",
        ] {
            assert!(!is_openx_timestamp(bad), "{bad}");
        }
    }

    #[test]
    fn openx_timestamps_count_microseconds_from_the_epoch() {
        for (text, micros) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2024-03-17T10:15:00Z", 1_710_670_500_000_000),
            ("2024-02-29 10:15:00.25", 1_709_201_700_250_000),
            ("2024-02-29T10:15:00.123456789Z", 1_709_201_700_123_456),
            ("1969-12-31 23:59:59.5", -500_000),
            ("9999-12-31T23:59:59Z", 253_402_300_799_000_000),
        ] {
            assert_eq!(openx_timestamp_micros(text), Some(micros), "{text}");
        }
        assert_eq!(openx_timestamp_micros("2024-03-17T10:15:00.1234567890Z"), None);
    }

    #[test]
    fn check_record_reports_the_first_problem() {
        let t = Table::embedded();
        let ok = serde_json::json!({"event_uuid":"x","created_at":1,"created_datetime":"2024-03-17T10:15:00Z","event_type":"a","created_date":"2024-03-17","event_subtype":null});
        assert_eq!(t.check_record(&ok), Ok(()));
        let unknown = serde_json::json!({"colour":"red"});
        assert!(matches!(
            t.check_record(&unknown),
            Err(RecordMismatch::UnknownKey { .. })
        ));
        let wrong = serde_json::json!({"created_at":"1"});
        assert!(matches!(
            t.check_record(&wrong),
            Err(RecordMismatch::TypeMismatch { .. })
        ));
        let frac = serde_json::json!({"created_at":1.5});
        assert!(matches!(
            t.check_record(&frac),
            Err(RecordMismatch::TypeMismatch { .. })
        ));
    }

    #[test]
    fn identifiers_and_event_types() {
        assert!(is_hive_identifier("created_at"));
        assert!(is_hive_identifier("_x1"));
        assert!(!is_hive_identifier("1x"));
        assert!(!is_hive_identifier("Name"));
        assert!(is_event_type("payment"));
        assert!(is_event_type("3d-secure_v2"));
        assert!(!is_event_type("-x"));
        assert!(!is_event_type(&"a".repeat(65)));
        assert!(is_event_type(&"a".repeat(64)));
    }
}
