//! The local lake: Firehose's delivery emulated on one machine and the lake it writes, on a
//! directory or S3 alike.
//!
//! - [`layout`]: every key and prefix of the lake (contract §2);
//! - [`store`]: the lake's root over `object_store` (reads and writes);
//! - [`convert`]: the record-format conversion (OpenX JSON → the Glue table's columns);
//! - [`writer`]: partition buffers of Arrow column builders, Parquet files;
//! - [`firehose`]: the emulated delivery stream (batcher, the Lambda's handler, delivery,
//!   error objects);
//! - [`manifest`]: a replay's committed progress, for resuming an interrupted one;
//! - [`replay`]: raw events into a lake, and re-drive of error objects;
//! - [`compact`]: the curated table.
#![warn(missing_docs)]

pub mod compact;
pub mod convert;
pub mod error;
pub mod firehose;
pub mod layout;
pub mod manifest;
pub mod replay;
pub mod store;
pub mod writer;

pub use compact::{compact, compact_typed, CompactOptions, CompactSummary, TypedColumns};
pub use error::LakeError;
pub use firehose::{DeliveryOptions, DeliverySummary};
pub use layout::ErrorKind;
pub use manifest::{Committed, Manifest, RedriveManifest};
pub use replay::{committed, redrive, redrive_committed, replay, Redriven, ReplayOptions, ReplayState, Replayed};
pub use store::LakeStore;
pub use writer::WriteStats;
