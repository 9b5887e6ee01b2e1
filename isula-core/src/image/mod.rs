//! Image store and image operations: records by id, names, load/save, import (layers are
//! unpacked by [`crate::layer`] through the snapshotter).

pub mod archive;
pub mod filter;
pub mod manifest;
pub mod store;
pub mod types;

pub use store::{BlobPins, ImageRecord, ImageStore};
pub use types::*;
