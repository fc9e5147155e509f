//! The partition writer: rows go straight into per-partition Arrow column builders; a
//! partition's Parquet file is written the way Firehose delivers them (when its buffer
//! reaches the S3 buffer size, and at the end), plus a bound on all buffers together (the
//! largest written first beyond it) so memory does not grow with the input.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    Int8Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use eventlake_glue_schema::Table;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::convert::{arrow_schema, Cell};
use crate::error::LakeError;
use crate::layout::{events_key, ObjectNames};
use crate::manifest::Manifest;
use crate::store::LakeStore;

/// The builder of one column.
enum ColumnBuilder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Int32(Int32Builder),
    Int16(Int16Builder),
    Int8(Int8Builder),
    Float64(Float64Builder),
    Float32(Float32Builder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Date32(Date32Builder),
}

impl ColumnBuilder {
    fn new(ty: &DataType) -> ColumnBuilder {
        match ty {
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
            DataType::Int32 => ColumnBuilder::Int32(Int32Builder::new()),
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::new()),
            DataType::Int8 => ColumnBuilder::Int8(Int8Builder::new()),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::new()),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::new()),
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
            DataType::Timestamp(_, _) => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            DataType::Date32 => ColumnBuilder::Date32(Date32Builder::new()),
            // `arrow_schema` makes no other type; strings are the rest.
            _ => ColumnBuilder::Utf8(StringBuilder::new()),
        }
    }

    /// Appends a cell made for this column's type ([`crate::convert`] only makes such cells;
    /// integers are already within the column's range).
    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (ColumnBuilder::Utf8(b), Cell::Str(s)) => b.append_value(s),
            (ColumnBuilder::Int64(b), Cell::Int(v)) => b.append_value(*v),
            (ColumnBuilder::Int32(b), Cell::Int(v)) => b.append_option(i32::try_from(*v).ok()),
            (ColumnBuilder::Int16(b), Cell::Int(v)) => b.append_option(i16::try_from(*v).ok()),
            (ColumnBuilder::Int8(b), Cell::Int(v)) => b.append_option(i8::try_from(*v).ok()),
            (ColumnBuilder::Float64(b), Cell::Float(v)) => b.append_value(*v),
            (ColumnBuilder::Float32(b), Cell::Float(v)) => b.append_value(*v as f32),
            (ColumnBuilder::Boolean(b), Cell::Bool(v)) => b.append_value(*v),
            (ColumnBuilder::Timestamp(b), Cell::Micros(v)) => b.append_value(*v),
            (ColumnBuilder::Date32(b), Cell::Days(v)) => b.append_value(*v),
            (builder, _) => builder.append_null(),
        }
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Utf8(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int8(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Date32(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::Date32(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows waiting for one partition's next file.
struct PartitionBuffer {
    columns: Vec<ColumnBuilder>,
    rows: usize,
    /// JSON bytes of the records in it (Firehose's buffer size counts these).
    bytes: usize,
}

/// What the writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteStats {
    /// Parquet files written.
    pub files: usize,
    /// Rows in them.
    pub rows: usize,
    /// Bytes of Parquet written.
    pub bytes: u64,
}

/// What goes to the encoder thread, in order: a partition's rows to write as one Parquet
/// object, or a replay's manifest to write once every file sent before it is written.
pub enum Output {
    /// The key and the rows.
    Parquet(String, RecordBatch),
    /// A checkpoint (its summary's bytes still without the encoder's).
    Manifest(Box<Manifest>),
}

/// Where finished partitions go: encoded and written at once, or handed to an encoder thread
/// (see [`encode_files`]), so that Parquet encoding runs beside the conversion.
pub enum FileOut {
    /// Encode and write in the calling thread.
    Inline,
    /// Send to an encoder thread.
    Thread(std::sync::mpsc::SyncSender<Output>),
}

/// The encoder thread's loop: encodes each batch as Parquet and writes it into `store`, and
/// writes each manifest after the files before it, until the senders are gone. Returns the
/// Parquet bytes written and the time spent encoding and writing.
pub fn encode_files(
    store: &LakeStore,
    files: std::sync::mpsc::Receiver<Output>,
) -> Result<(u64, std::time::Duration), LakeError> {
    let (mut bytes, mut busy) = (0, std::time::Duration::ZERO);
    for output in files {
        let started = std::time::Instant::now();
        match output {
            Output::Parquet(key, batch) => bytes += store.put(&key, parquet_bytes(&batch, &key)?)?,
            Output::Manifest(mut manifest) => {
                manifest.summary.written.bytes += bytes;
                manifest.write(store)?;
            }
        }
        busy += started.elapsed();
    }
    Ok((bytes, busy))
}

/// Buffers rows per partition (event type, then date) and writes each partition's Parquet
/// file when its buffer reaches `flush_bytes`, when all buffers together exceed
/// `memory_bytes` (the largest first), and at [`PartitionWriter::finish`].
pub struct PartitionWriter {
    schema: SchemaRef,
    table: Table,
    buffers: HashMap<String, HashMap<String, PartitionBuffer>>,
    buffered: usize,
    flush_bytes: usize,
    memory_bytes: usize,
    out: FileOut,
    /// Totals so far (bytes only of the files written inline).
    stats: WriteStats,
}

impl PartitionWriter {
    /// A writer of `table`'s rows.
    pub fn new(table: &Table, flush_bytes: usize, memory_bytes: usize) -> Result<PartitionWriter, LakeError> {
        Ok(PartitionWriter {
            schema: arrow_schema(table)?,
            table: table.clone(),
            buffers: HashMap::new(),
            buffered: 0,
            flush_bytes,
            memory_bytes,
            out: FileOut::Inline,
            stats: WriteStats::default(),
        })
    }

    /// Sends finished partitions to an encoder thread from now on.
    pub fn encode_on(&mut self, files: std::sync::mpsc::SyncSender<Output>) {
        self.out = FileOut::Thread(files);
    }

    /// Stops sending to the encoder thread (which then ends) and encodes inline again.
    pub fn encode_inline(&mut self) {
        self.out = FileOut::Inline;
    }

    /// Appends a row to the partition (`event_type`, `created_date`), with the size of its
    /// JSON record for the buffer bounds, writing files into `store` when a bound is reached.
    pub fn push(
        &mut self,
        event_type: &str,
        created_date: &str,
        row: &[Cell<'_>],
        record_bytes: usize,
        store: &LakeStore,
        names: &mut ObjectNames,
    ) -> Result<(), LakeError> {
        let of_type = match self.buffers.get_mut(event_type) {
            Some(m) => m,
            None => self.buffers.entry(event_type.to_string()).or_default(),
        };
        let buffer = match of_type.get_mut(created_date) {
            Some(b) => b,
            None => of_type
                .entry(created_date.to_string())
                .or_insert_with(|| PartitionBuffer {
                    columns: self
                        .schema
                        .fields()
                        .iter()
                        .map(|f| ColumnBuilder::new(f.data_type()))
                        .collect(),
                    rows: 0,
                    bytes: 0,
                }),
        };
        for (builder, cell) in buffer.columns.iter_mut().zip(row) {
            builder.append(cell);
        }
        buffer.rows += 1;
        buffer.bytes += record_bytes;
        self.buffered += record_bytes;
        if buffer.bytes >= self.flush_bytes {
            self.flush(event_type, created_date, store, names)?;
        }
        while self.buffered > self.memory_bytes {
            let largest = self
                .buffers
                .iter()
                .flat_map(|(t, m)| m.iter().map(move |(d, b)| (b.bytes, t, d)))
                .max()
                .map(|(_, t, d)| (t.clone(), d.clone()));
            let Some((t, d)) = largest else { break };
            self.flush(&t, &d, store, names)?;
        }
        Ok(())
    }

    /// Writes every buffered partition (by event type, then date) and returns the totals.
    pub fn finish(&mut self, store: &LakeStore, names: &mut ObjectNames) -> Result<WriteStats, LakeError> {
        self.flush_all(store, names)?;
        Ok(self.stats())
    }

    /// The totals so far (bytes only of the files written inline).
    pub fn stats(&self) -> WriteStats {
        self.stats.clone()
    }

    /// Writes `manifest` after every file written or sent so far: at once when encoding
    /// inline, through the encoder thread otherwise.
    pub fn commit(&mut self, manifest: Manifest, store: &LakeStore) -> Result<(), LakeError> {
        match &self.out {
            FileOut::Inline => manifest.write(store),
            FileOut::Thread(files) => files
                .send(Output::Manifest(Box::new(manifest)))
                .map_err(|_| LakeError::Stage("Parquet encoder")),
        }
    }

    /// Writes every buffered partition (by event type, then date).
    pub fn flush_all(&mut self, store: &LakeStore, names: &mut ObjectNames) -> Result<(), LakeError> {
        let mut keys: Vec<(String, String)> = self
            .buffers
            .iter()
            .flat_map(|(t, m)| m.keys().map(move |d| (t.clone(), d.clone())))
            .collect();
        keys.sort();
        for (t, d) in keys {
            self.flush(&t, &d, store, names)?;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        event_type: &str,
        created_date: &str,
        store: &LakeStore,
        names: &mut ObjectNames,
    ) -> Result<(), LakeError> {
        let Some(mut buffer) = self.buffers.get_mut(event_type).and_then(|m| m.remove(created_date)) else {
            return Ok(());
        };
        self.buffered -= buffer.bytes;
        if buffer.rows == 0 {
            return Ok(());
        }
        let key = events_key(&self.table.storage, event_type, created_date, &names.delivery_object());
        let columns: Vec<ArrayRef> = buffer.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| LakeError::Encode {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.stats.files += 1;
        self.stats.rows += buffer.rows;
        match &self.out {
            FileOut::Inline => self.stats.bytes += store.put(&key, parquet_bytes(&batch, &key)?)?,
            // A closed channel: the encoder thread stopped on an error, which it reports.
            FileOut::Thread(files) => files
                .send(Output::Parquet(key, batch))
                .map_err(|_| LakeError::Stage("Parquet encoder"))?,
        }
        Ok(())
    }
}

/// `batch` as a Parquet file (SNAPPY, the table's `storage.compression`), as Firehose's
/// conversion writes them. `key` is for the error message.
pub fn parquet_bytes(batch: &RecordBatch, key: &str) -> Result<Vec<u8>, LakeError> {
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let encode_error = |e: parquet::errors::ParquetError| LakeError::Encode {
        key: key.to_string(),
        message: e.to_string(),
    };
    let mut writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(encode_error)?;
    writer.write(batch).map_err(encode_error)?;
    writer.into_inner().map_err(encode_error)
}
