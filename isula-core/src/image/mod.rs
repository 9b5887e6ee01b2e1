//! Image store and image operations: records by id, names, load/save, import, layer application.

pub(crate) mod archive;
pub(crate) mod filter;
pub(crate) mod layer;
pub(crate) mod manifest;
pub(crate) mod store;
pub(crate) mod types;

pub(crate) use store::ImageStore;
pub use types::*;
