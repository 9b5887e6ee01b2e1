//! Overlay snapshotter: image layers by chain id and a read-write layer per container.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::sys;

/// The overlay snapshotter of one root.
#[derive(Debug)]
pub struct Snapshotter {
    dir: PathBuf,
}

impl Snapshotter {
    /// Open (creating if needed) the snapshotter at `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        sys::fs::ensure_dir(dir, 0o700)?;
        Ok(Snapshotter { dir: dir.to_path_buf() })
    }

    /// The snapshotter's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
