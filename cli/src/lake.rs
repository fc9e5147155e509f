//! The local lake: Firehose's record-format conversion (OpenX JSON → Parquet against the
//! Glue table), partition buffers, file naming and the error objects, on a directory.
//!
//! Layout (contract §2):
//! `<lake>/events/event_type=<t>/created_date=<d>/<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.parquet`
//! and `<lake>/errors/<processing-failed|format-conversion-failed>/<yyyy>/<MM>/<dd>/<HH>/<stream>-1-<…>-<uuid>`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, Int8Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};
use eventlake_glue_schema::{Column, HiveType, Table};
use eventlake_transform::PartitionKeys;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::generate::Rng;
use crate::store::LakeStore;
use crate::CliError;

/// Firehose's names for the error outputs (`!{firehose:error-output-type}`).
pub const PROCESSING_FAILED: &str = "processing-failed";
/// See [`PROCESSING_FAILED`].
pub const FORMAT_CONVERSION_FAILED: &str = "format-conversion-failed";

/// The Arrow type a Hive column becomes in Parquet, as Athena reads it.
pub fn arrow_type(ty: &HiveType) -> Result<DataType, String> {
    Ok(match ty {
        HiveType::String => DataType::Utf8,
        HiveType::BigInt => DataType::Int64,
        HiveType::Int => DataType::Int32,
        HiveType::SmallInt => DataType::Int16,
        HiveType::TinyInt => DataType::Int8,
        HiveType::Double => DataType::Float64,
        HiveType::Float => DataType::Float32,
        HiveType::Boolean => DataType::Boolean,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        HiveType::Date => DataType::Date32,
        other => return Err(format!("the local lake does not write {} columns yet", other.name())),
    })
}

/// The Arrow schema of the table's data columns (partition columns live in the path).
pub fn arrow_schema(table: &Table) -> Result<Arc<Schema>, CliError> {
    let fields = table
        .columns
        .iter()
        .map(|c| arrow_type(&c.hive_type()).map(|t| Field::new(&c.name, t, true)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::Lake)?;
    Ok(Arc::new(Schema::new(fields)))
}

/// One converted value, ready for its column builder.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Micros(i64),
    Days(i32),
}

/// Converts a JSON value to a column's type under the OpenX JSON deserializer's rules as
/// eventlake relies on them: `null` → NULL; numbers must fit; timestamps are
/// `yyyy-MM-ddTHH:mm:ss[.f]Z`, `yyyy-MM-dd HH:mm:ss[.f]` or epoch milliseconds; a value of
/// another JSON kind is a conversion failure (Firehose's `format-conversion-failed`).
fn convert(column: &Column, ty: &HiveType, value: &Value) -> Result<Cell, String> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let mismatch = || format!("value {value} of column {} is not a valid {}", column.name, ty.name());
    if !ty.accepts(value) {
        return Err(mismatch());
    }
    Ok(match (ty, value) {
        (HiveType::String, Value::String(s)) => Cell::Str(s.clone()),
        (HiveType::BigInt | HiveType::Int | HiveType::SmallInt | HiveType::TinyInt, Value::Number(n)) => {
            Cell::Int(n.as_i64().ok_or_else(mismatch)?)
        }
        (HiveType::Double | HiveType::Float, Value::Number(n)) => Cell::Float(n.as_f64().ok_or_else(mismatch)?),
        (HiveType::Boolean, Value::Bool(b)) => Cell::Bool(*b),
        (HiveType::Timestamp, Value::Number(n)) => Cell::Micros(n.as_i64().ok_or_else(mismatch)?.saturating_mul(1000)),
        (HiveType::Timestamp, Value::String(s)) => {
            let text = s.trim_end_matches('Z').replace('T', " ");
            let t = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| mismatch())?;
            Cell::Micros(t.and_utc().timestamp_micros())
        }
        (HiveType::Date, Value::String(s)) => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| mismatch())?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            Cell::Days(i32::try_from((d - epoch).num_days()).map_err(|_| mismatch())?)
        }
        _ => return Err(mismatch()),
    })
}

/// One row per `Ok` record: the table's data columns, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(Vec<Cell>);

/// Converts one transformed record (its JSON text) into a row of the table: keys that are
/// not data columns (the partition keys among them) are ignored, as OpenX does.
pub fn convert_record(table: &Table, record: &[u8]) -> Result<Row, String> {
    let value: Value = serde_json::from_slice(record).map_err(|e| format!("the record is not valid JSON: {e}"))?;
    let obj = value.as_object().ok_or("the record is not a JSON object")?;
    let cells = table
        .columns
        .iter()
        .map(|c| convert(c, &c.hive_type(), obj.get(&c.name).unwrap_or(&Value::Null)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Row(cells))
}

/// Record-format conversion for one table: [`convert_record`]'s rules, faster. The column
/// types are parsed once; a record's members are borrowed as raw JSON text and each value is
/// parsed only as far as its column needs (a string column's string, a bigint's digits, a
/// `yyyy-MM-ddTHH:mm:ssZ` timestamp). Anything else — escaped keys, other value shapes,
/// invalid input — takes [`convert_record`]'s path, so results and messages are the same.
pub struct Converter {
    table: Table,
    types: Vec<HiveType>,
}

impl Converter {
    /// A converter for `table`'s data columns.
    pub fn new(table: &Table) -> Converter {
        Converter {
            types: table.columns.iter().map(Column::hive_type).collect(),
            table: table.clone(),
        }
    }

    /// The row of `record`, or why it fails conversion.
    pub fn convert(&self, record: &[u8]) -> Result<Row, String> {
        let Ok(members) = serde_json::from_slice::<HashMap<&str, &RawValue>>(record) else {
            return convert_record(&self.table, record);
        };
        let mut cells = Vec::with_capacity(self.types.len());
        for (column, ty) in self.table.columns.iter().zip(&self.types) {
            let cell = match members.get(column.name.as_str()) {
                None => Cell::Null,
                Some(raw) => match fast_cell(ty, raw.get()) {
                    Some(cell) => cell,
                    None => {
                        let value: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
                        convert(column, ty, &value)?
                    }
                },
            };
            cells.push(cell);
        }
        Ok(Row(cells))
    }
}

/// The cell for the common shapes, or `None` to take the general path.
fn fast_cell(ty: &HiveType, raw: &str) -> Option<Cell> {
    let b = raw.as_bytes();
    if raw == "null" {
        return Some(Cell::Null);
    }
    match ty {
        HiveType::String if b.first() == Some(&b'"') => serde_json::from_str::<String>(raw).ok().map(Cell::Str),
        HiveType::BigInt if b.iter().all(|c| c.is_ascii_digit() || *c == b'-') => raw.parse().ok().map(Cell::Int),
        HiveType::Timestamp if b.len() == 22 && b[0] == b'"' && b[21] == b'"' => {
            let t = &b[1..21];
            let shape = b"dddd-dd-ddTdd:dd:ddZ";
            if !t
                .iter()
                .zip(shape)
                .all(|(c, s)| if *s == b'd' { c.is_ascii_digit() } else { c == s })
            {
                return None;
            }
            let n = |r: std::ops::Range<usize>| t[r].iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
            let date = NaiveDate::from_ymd_opt(i32::try_from(n(0..4)).ok()?, n(5..7), n(8..10))?;
            let time = date.and_hms_opt(n(11..13), n(14..16), n(17..19))?;
            Some(Cell::Micros(time.and_utc().timestamp_micros()))
        }
        _ => None,
    }
}

/// Rows waiting for one partition's next file.
struct PartitionBuffer {
    rows: Vec<Row>,
    bytes: usize,
}

/// What the writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Parquet files written.
    pub files: usize,
    /// Rows in them.
    pub rows: usize,
    /// Bytes of Parquet written.
    pub bytes: u64,
}

/// Buffers rows per partition and writes Parquet files the way Firehose delivers them:
/// a file per partition when its buffer reaches `flush_bytes`, when all buffers together
/// exceed `memory_bytes` (the largest first: a bound Firehose does not need, kept so that
/// replay's memory does not grow with the input), and at the end.
pub struct LakeWriter {
    store: LakeStore,
    stream: String,
    schema: Arc<Schema>,
    table: Table,
    buffers: HashMap<PartitionKeys, PartitionBuffer>,
    buffered: usize,
    flush_bytes: usize,
    memory_bytes: usize,
    rng: Rng,
    /// Totals so far.
    pub stats: WriteStats,
}

impl LakeWriter {
    /// A writer into `store` for `table`.
    pub fn new(
        store: LakeStore,
        table: Table,
        stream: &str,
        flush_bytes: usize,
        memory_bytes: usize,
    ) -> Result<LakeWriter, CliError> {
        let schema = arrow_schema(&table)?;
        let seed = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64 ^ u64::from(std::process::id());
        Ok(LakeWriter {
            store,
            stream: stream.to_string(),
            schema,
            table,
            buffers: HashMap::new(),
            buffered: 0,
            flush_bytes,
            memory_bytes,
            rng: Rng::new(seed),
            stats: WriteStats::default(),
        })
    }

    /// Adds a row (with the size of its JSON record, for the buffer hints).
    pub fn push(&mut self, keys: &PartitionKeys, row: Row, record_bytes: usize) -> Result<(), CliError> {
        let buffer = self.buffers.entry(keys.clone()).or_insert_with(|| PartitionBuffer {
            rows: Vec::new(),
            bytes: 0,
        });
        buffer.rows.push(row);
        buffer.bytes += record_bytes;
        self.buffered += record_bytes;
        if buffer.bytes >= self.flush_bytes {
            self.flush(&keys.clone())?;
        }
        while self.buffered > self.memory_bytes {
            let Some(largest) = self.buffers.iter().max_by_key(|(_, b)| b.bytes).map(|(k, _)| k.clone()) else {
                break;
            };
            self.flush(&largest)?;
        }
        Ok(())
    }

    /// The lake it writes to.
    pub fn store(&self) -> &LakeStore {
        &self.store
    }

    /// Writes every buffered partition.
    pub fn finish(&mut self) -> Result<WriteStats, CliError> {
        let mut keys: Vec<PartitionKeys> = self.buffers.keys().cloned().collect();
        keys.sort_by(|a, b| (&a.event_type, &a.created_date).cmp(&(&b.event_type, &b.created_date)));
        for k in keys {
            self.flush(&k)?;
        }
        Ok(self.stats.clone())
    }

    /// The table it writes.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// An object name as Firehose makes them: `<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>`.
    pub fn object_name(&mut self) -> String {
        let now = chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S");
        format!("{}-1-{now}-{}", self.stream, self.rng.uuid())
    }

    fn flush(&mut self, keys: &PartitionKeys) -> Result<(), CliError> {
        let Some(buffer) = self.buffers.remove(keys) else {
            return Ok(());
        };
        self.buffered -= buffer.bytes;
        if buffer.rows.is_empty() {
            return Ok(());
        }
        let name = self.object_name();
        let key = format!(
            "{}event_type={}/created_date={}/{name}.parquet",
            self.table.storage.events_prefix, keys.event_type, keys.created_date
        );
        let batch = self.record_batch(&buffer.rows)?;
        let bytes = self.store.put(&key, parquet_bytes(&batch, &key)?)?;
        self.stats.files += 1;
        self.stats.rows += buffer.rows.len();
        self.stats.bytes += bytes;
        Ok(())
    }

    fn record_batch(&self, rows: &[Row]) -> Result<RecordBatch, CliError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (i, field) in self.schema.fields().iter().enumerate() {
            let cells = rows.iter().map(|r| &r.0[i]);
            let array: ArrayRef = match field.data_type() {
                DataType::Utf8 => {
                    let mut b = StringBuilder::new();
                    cells.for_each(|c| b.append_option(if let Cell::Str(s) = c { Some(s.as_str()) } else { None }));
                    Arc::new(b.finish())
                }
                DataType::Int64 => ints(cells, Int64Builder::new(), |b, v| b.append_option(v)),
                DataType::Int32 => ints(cells, Int32Builder::new(), |b, v| {
                    b.append_option(v.and_then(|v| i32::try_from(v).ok()))
                }),
                DataType::Int16 => ints(cells, Int16Builder::new(), |b, v| {
                    b.append_option(v.and_then(|v| i16::try_from(v).ok()))
                }),
                DataType::Int8 => ints(cells, Int8Builder::new(), |b, v| {
                    b.append_option(v.and_then(|v| i8::try_from(v).ok()))
                }),
                DataType::Float64 => {
                    let mut b = Float64Builder::new();
                    cells.for_each(|c| b.append_option(if let Cell::Float(v) = c { Some(*v) } else { None }));
                    Arc::new(b.finish())
                }
                DataType::Float32 => {
                    let mut b = Float32Builder::new();
                    cells.for_each(|c| b.append_option(if let Cell::Float(v) = c { Some(*v as f32) } else { None }));
                    Arc::new(b.finish())
                }
                DataType::Boolean => {
                    let mut b = BooleanBuilder::new();
                    cells.for_each(|c| b.append_option(if let Cell::Bool(v) = c { Some(*v) } else { None }));
                    Arc::new(b.finish())
                }
                DataType::Timestamp(_, _) => {
                    let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
                    cells.for_each(|c| b.append_option(if let Cell::Micros(v) = c { Some(*v) } else { None }));
                    Arc::new(b.finish())
                }
                DataType::Date32 => {
                    let mut b = Date32Builder::new();
                    cells.for_each(|c| b.append_option(if let Cell::Days(v) = c { Some(*v) } else { None }));
                    Arc::new(b.finish())
                }
                other => return Err(CliError::Lake(format!("unexpected column type {other}"))),
            };
            columns.push(array);
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| CliError::Lake(e.to_string()))
    }
}

/// `batch` as a Parquet file (SNAPPY), as Firehose's conversion writes them. `name` is for
/// the error message.
pub fn parquet_bytes(batch: &RecordBatch, name: &str) -> Result<Vec<u8>, CliError> {
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let parquet_error = |e: parquet::errors::ParquetError| CliError::Lake(format!("cannot encode {name}: {e}"));
    let mut writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    writer.into_inner().map_err(parquet_error)
}

fn ints<'a, B: ArrayBuilder>(
    cells: impl Iterator<Item = &'a Cell>,
    mut builder: B,
    mut append: impl FnMut(&mut B, Option<i64>),
) -> ArrayRef {
    cells.for_each(|c| append(&mut builder, if let Cell::Int(v) = c { Some(*v) } else { None }));
    builder.finish()
}

/// Writes `dir/name` through a temporary name and a rename, so an interrupted run leaves
/// only complete files. Returns the file's size.
pub fn write_atomically(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<u64, CliError> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        std::fs::create_dir_all(dir)?;
        let mut file = std::fs::File::create(&tmp)?;
        write(&mut file)?;
        file.sync_data()?;
        let size = file.metadata()?.len();
        std::fs::rename(&tmp, &target)?;
        Ok(size)
    })();
    result.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        CliError::WriteFile { path: target, source }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> &'static Table {
        Table::embedded()
    }

    #[test]
    fn converts_an_ok_record_and_drops_keys_that_are_not_columns() {
        let record = br#"{"event_uuid":"u","event_name":"a:b","created_at":1710670500,"created_datetime":"2024-03-17T10:15:00Z","event_type":"a","event_subtype":"b","payload":"{}"}"#;
        let row = convert_record(table(), record).unwrap();
        assert_eq!(row.0[2], Cell::Int(1_710_670_500));
        assert_eq!(row.0[3], Cell::Micros(1_710_670_500_000_000));
        assert_eq!(row.0.len(), table().columns.len());
    }

    #[test]
    fn the_converter_agrees_with_the_general_rules() {
        let converter = Converter::new(table());
        let records: &[&str] = &[
            r#"{"event_uuid":"u","event_name":"a:b","created_at":1710670500,"created_datetime":"2024-03-17T10:15:00Z","event_type":"a","event_subtype":"b","payload":"{\"k\":\"v\\n\"}"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":-5,"created_datetime":"2024-02-29 10:15:00.25","event_subtype":null,"payload":"{}"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":9223372036854775808,"created_datetime":"2024-03-17T10:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1.5,"created_datetime":"2024-03-17T10:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":"2023-02-29T10:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":"2024-03-17T24:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":1710670500000}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":"2024-03-17T10:15:00+00:00"}"#,
            r#"{"event_uuid":7,"event_name":"a","created_at":1}"#,
            r#"{"event_uuid":"\u0075","event_name":"a","created_at":"1"}"#,
            r#"{"event_\u0075uid":"x","event_name":"a","created_at":1,"created_at":2}"#,
            r#"{"event_uuid":"u","created_at":1,"created_at":2}"#,
            r#"[1,2]"#,
            r#"{"event_uuid":"u""#,
            "",
        ];
        for record in records {
            assert_eq!(
                converter.convert(record.as_bytes()),
                convert_record(table(), record.as_bytes()),
                "{record}"
            );
        }
    }

    #[test]
    fn a_type_mismatch_is_a_conversion_failure() {
        let record = br#"{"event_uuid":"u","event_name":"a","created_at":"soon","created_datetime":"2024-03-17T10:15:00Z","payload":"{}"}"#;
        let err = convert_record(table(), record).unwrap_err();
        assert!(err.contains("created_at"), "{err}");
        let offset = br#"{"created_datetime":"2024-03-17T10:15:00+00:00"}"#;
        assert!(convert_record(table(), offset)
            .unwrap_err()
            .contains("created_datetime"));
    }
}
