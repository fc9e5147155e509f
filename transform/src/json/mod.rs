//! A validating scanner for one JSON object that reports where each top-level member's key
//! and value stand in the input, so members can be copied byte-for-byte.
//!
//! It checks the whole text against RFC 8259 (strings, escapes, surrogate pairs, numbers,
//! literals, nesting) without building a tree and without recursion. The input is already
//! known to be UTF-8 (`str`), so bytes at or above 0x80 need no further checks.
//!
//! [`scan`] reads (the scanner, [`scan_object`], [`decode_string`]); [`escape`] writes
//! (string escaping, [`write_string`], [`string_token_len`]).

mod escape;
mod scan;
#[cfg(test)]
mod tests;

pub use escape::*;
pub use scan::*;
