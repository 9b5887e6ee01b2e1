//! Image store and image operations: records by id, names, load/save, import, layer application.

pub mod layer;

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::sys;

/// The image store: one record per image, names and tags indexed.
#[derive(Debug)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// Open (creating if needed) the store at `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        sys::fs::ensure_dir(dir, 0o700)?;
        Ok(ImageStore { dir: dir.to_path_buf() })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
