//! The Firehose data-transformation adapter: the invocation and response wire types
//! ([`wire`]), the envelope reader ([`envelope`]), the batch loop around
//! [`Enricher`](crate::Enricher) ([`batch`]) and the response writers ([`writer`]), which
//! write the response text directly.
//!
//! Wire format: <https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html>.
//! The input types read `data` as text and decode it per record, so one record with bad
//! base64 fails alone instead of failing the whole invocation (as a typed `Base64Data` field
//! would). [`parse_invocation`] borrows their strings from the body; with serde they
//! deserialize owned (`Cow::Owned`), as lambda_runtime's own handler path needs. Tests check
//! that the types stay compatible with `aws_lambda_events`.

mod batch;
mod envelope;
mod wire;
mod writer;

pub use batch::{embedded_lake_days, is_known_event_type, transform, transform_with_limit, Transformed, Transformer};
pub use envelope::parse_invocation;
pub use wire::{
    BatchReport, InputRecord, Invocation, RecordResult, Rejection, Response, ResponseMetadata, ResponseRecord,
};

/// Lambda's limit on a synchronous response payload (6 MB).
pub const RESPONSE_LIMIT_BYTES: usize = 6 * 1024 * 1024;

/// The delivery stream's name from its ARN (`…:deliverystream/NAME`), for metric dimensions.
pub fn delivery_stream_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}
