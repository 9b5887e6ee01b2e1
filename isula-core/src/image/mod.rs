//! Image store and image operations: records by id, names, load/save, import, layer application.

pub mod archive;
pub mod filter;
pub mod layer;
pub mod manifest;
pub mod store;
pub mod types;

pub use store::ImageStore;
pub use types::*;
