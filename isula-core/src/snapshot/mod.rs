//! Overlay snapshotter: image layers by chain id and a read-write layer per container.
//!
//! On-disk layout below the snapshotter directory:
//!
//! ```text
//! layers/<chain-hex>/diff/        the layer's content in overlay form (whiteouts as 0/0 char devices)
//! layers/<chain-hex>/meta.json    LayerInfo + the short links of all its ancestors (nearest first)
//! l/<26 chars>  -> ../layers/<chain-hex>/diff     short links, so 100+ lower dirs fit in one mount option page
//! snapshots/<key>/upper/          the container's read-write layer
//! snapshots/<key>/work/           overlayfs work dir
//! snapshots/<key>/meta.json       parent chain id, image id, recorded mount targets
//! empty/                          the lower dir of snapshots without a parent
//! tmp/                            staging: layers are unpacked and snapshots built here, then renamed in
//! locks/<chain-hex>.lock, locks/meta.lock    per-layer creation locks and the metadata lock
//! ```
//!
//! Overlay mounts use relative paths (`lowerdir=l/A:l/B,upperdir=snapshots/<key>/upper,...`)
//! resolved with the snapshotter directory as working directory.
//!
//! Lock order: a layer's creation lock before the metadata lock, never the reverse.

mod layers;
mod links;
mod mounts;
// Start-up repair of the snapshotter (`Engine::open`).
mod repair;
mod snapshots;

pub(crate) use layers::StagedLayer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::sys;

/// The overlay snapshotter of one root.
#[derive(Debug)]
pub(crate) struct Snapshotter {
    dir: PathBuf,
    limits: crate::layer::StorageLimits,
}

impl Snapshotter {
    /// Open (creating if needed) the snapshotter at `dir`, with no size limits beyond the
    /// built-in ones.
    #[cfg(test)]
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        Self::open_limited(dir, crate::layer::StorageLimits::default())
    }

    /// Open (creating if needed) the snapshotter at `dir`; layers it unpacks are held to `limits`.
    pub(crate) fn open_limited(dir: &Path, limits: crate::layer::StorageLimits) -> Result<Self> {
        sys::fs::ensure_dir(dir, 0o700)?;
        let s = Snapshotter { dir: dir.to_path_buf(), limits };
        for sub in [s.layers_root(), s.links_dir(), s.snapshots_root(), s.tmp_dir(), s.locks_dir(), s.empty_dir()] {
            sys::fs::ensure_dir(&sub, 0o700)?;
        }
        Ok(s)
    }

    /// A fresh budget for the layers one image operation unpacks (`None`: no image limit).
    pub(crate) fn image_budget(&self) -> Option<std::sync::Arc<crate::layer::ImageBudget>> {
        self.limits.image_budget()
    }

    /// The snapshotter's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The layer's diff dir (its content in overlay form).
    #[cfg(test)]
    pub(crate) fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_home(chain_id).join("diff")
    }

    /// The read-write layer of snapshot `key`.
    #[cfg(test)]
    pub(crate) fn upper_dir(&self, key: &str) -> PathBuf {
        self.snapshot_home(key).join("upper")
    }

    fn layers_root(&self) -> PathBuf {
        self.dir.join("layers")
    }
    fn layer_home(&self, chain_id: &Digest) -> PathBuf {
        self.layers_root().join(chain_id.hex())
    }
    fn links_dir(&self) -> PathBuf {
        self.dir.join(links::LINK_DIR)
    }
    fn snapshots_root(&self) -> PathBuf {
        self.dir.join("snapshots")
    }
    fn snapshot_home(&self, key: &str) -> PathBuf {
        self.snapshots_root().join(key)
    }
    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }
    fn locks_dir(&self) -> PathBuf {
        self.dir.join("locks")
    }
    fn empty_dir(&self) -> PathBuf {
        self.dir.join(EMPTY_DIR)
    }

    /// The metadata lock: held while committing or removing layers and snapshots.
    fn meta_lock(&self) -> Result<sys::FileLock> {
        sys::FileLock::lock(&self.locks_dir().join("meta.lock"))
    }

    /// Remove everything in the staging area (layers being unpacked, trash being deleted)
    /// that a killed process left. Only when no other user of the snapshotter is active
    /// (engine start-up, with the root locked).
    pub(crate) fn clean_staging(&self) -> Result<usize> {
        let tmp = self.tmp_dir();
        let mut n = 0;
        for ent in std::fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, "read", e))? {
            let path = ent.map_err(|e| Error::io(&tmp, "read", e))?.path();
            let res = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
                Ok(_) => std::fs::remove_file(&path),
                Err(e) => Err(e),
            };
            match res {
                Ok(()) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, "remove", e)),
            }
        }
        Ok(n)
    }

    /// A fresh staging path in `tmp/` (not created).
    fn staging(&self, what: &str) -> PathBuf {
        sys::fs::temp_sibling(&self.tmp_dir().join(what))
    }

    /// Move `path` into `tmp/` and delete it there, so a crash never leaves a half-deleted
    /// directory at its real name.
    fn discard(&self, path: &Path, what: &str) -> Result<()> {
        let trash = self.move_to_trash(path, what)?;
        self.purge(path, &trash)
    }

    /// First half of [`Self::discard`] (the part that needs the metadata lock): move `path`
    /// into `tmp/`; returns where it went.
    fn move_to_trash(&self, path: &Path, what: &str) -> Result<PathBuf> {
        let trash = self.staging(&format!("rm-{what}"));
        std::fs::rename(path, &trash).map_err(|e| Error::io(path, "move to trash", e))?;
        Ok(trash)
    }

    /// Second half of [`Self::discard`]: make the move of `path` durable and delete `trash`.
    fn purge(&self, path: &Path, trash: &Path) -> Result<()> {
        sys::fs::fsync_dir(path.parent().unwrap_or(&self.dir))?;
        sys::fs::remove_dir_all_if_exists(trash)
    }
}

const EMPTY_DIR: &str = "empty";

/// Removes a staging directory when dropped, unless disarmed.
#[derive(Debug)]
struct StagingGuard(Option<PathBuf>);

impl StagingGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}
