//! isula-types: the plain data of isula's API, shared by `isula-core`, `isulad`, the `isula`
//! CLI and the C ABI, so that every front end reads and writes one typed contract in
//! Docker's JSON shapes (PascalCase keys).
//!
//! Nothing here does I/O: these are values and the pure parsers of their string forms.

pub mod container;
pub mod digest;
pub mod error;
pub mod event;
pub mod image;
pub mod info;
pub mod network;
pub mod pod;
pub mod progress;
pub mod reason;
pub mod stats;
pub mod time;
pub mod volume;

pub use error::{Error, Result};
