//! Containers: create options and the parsers of their string forms, the operation types
//! and `inspect`.

pub mod inspect;
pub mod options;
pub mod parse;
pub mod types;
