//! Containers: create options and the parsers of their string forms.

pub mod options;
pub mod parse;
pub mod types;
