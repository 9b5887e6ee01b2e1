//! Layer application: tar streams (plain, gzip, zstd, xz) unpacked into
//! overlay-ready directories, with whiteouts converted to overlayfs form and
//! every path kept inside the destination.
//!
//! Used by `image` (compression detection, archives) and `snapshot` (unpacking a
//! layer into its diff directory); it knows neither.

mod apply;
mod compression;
mod devnum;
mod limits;
mod path;
mod stream;
mod whiteout;

pub(crate) use apply::{apply_layer_with, AppliedLayer, ApplyOptions};
pub(crate) use compression::{decompress, detect_compression, Compression};
pub(crate) use devnum::device_numbers;
pub(crate) use limits::{ImageBudget, StorageLimits};

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
