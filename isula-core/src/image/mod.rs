//! Image store and image operations: records by id, names, load/save, import (layers are
//! unpacked by [`crate::layer`] through the snapshotter).

pub(crate) mod archive;
pub(crate) mod filter;
pub(crate) mod manifest;
pub(crate) mod store;
pub(crate) mod types;

pub(crate) use store::ImageStore;
pub use types::*;
