//! The eventlake transform: the pure record logic ([`enrich`], [`partition_keys`]), the
//! Firehose batch adapter ([`transform`]) and the Lambda handler ([`handler`]) that the
//! `eventlake-transform` binary runs and `eventlake invoke` calls locally.
#![warn(missing_docs)]

pub mod drift;
pub mod error;
pub mod event;
pub mod firehose;
pub mod handler;
pub mod json;
pub mod runtime;
pub mod telemetry;

pub use error::{InvocationError, RecordError, RequiredField};
pub use event::{enrich, partition_keys, Enricher, EventFacts, EventInfo, EventKey, EventType, PartitionKeys};
pub use firehose::{
    embedded_lake_days, parse_invocation, transform, BatchReport, InputRecord, Invocation, RecordResult, Rejection,
    Response, ResponseRecord, Transformed, Transformer, RESPONSE_LIMIT_BYTES,
};
