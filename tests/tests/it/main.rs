//! Cross-crate tests, one binary.

mod compat;
mod fixtures;
mod properties;
