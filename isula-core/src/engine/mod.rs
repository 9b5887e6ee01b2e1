//! The [`Engine`] facade: open a root, then one blocking method per user operation.
//!
//! Methods are grouped by subject in sibling files (`images.rs`, …); this file
//! holds opening, locking and the parts every group shares.

mod images;
mod network;

use std::path::{Path, PathBuf};

use crate::config::EngineConfig;
use crate::content::ContentStore;
use crate::error::{Error, Result};
use crate::image::ImageStore;
use crate::network::{NetworkStore, NetworkStoreConfig};
use crate::snapshot::Snapshotter;
use crate::sys::{self, FileLock};

pub use images::*;
pub use network::*;

/// A container engine bound to one root directory. `Send + Sync`: share it
/// between threads (e.g. in an `Arc`) and call it concurrently.
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) content: ContentStore,
    pub(crate) snapshots: Snapshotter,
    pub(crate) images: ImageStore,
    pub(crate) networks: NetworkStore,
    _root_lock: FileLock,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("root", &self.config.graph).field("state", &self.config.state).finish()
    }
}

/// Name of the lock file that marks a root as owned by one engine.
const ROOT_LOCK: &str = "engine.lock";

impl Engine {
    /// Open (creating if needed) the root `config.graph` and state dir `config.state`.
    ///
    /// Only one engine may own a root at a time: a second `open` of the same root,
    /// in this process or another, fails with `Unavailable` naming the root.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        config.validate()?;
        let root = config.graph.clone();
        sys::fs::ensure_dir(&root, 0o700)?;
        sys::fs::ensure_dir(&config.state, 0o700)?;
        let lock = FileLock::try_lock(&root.join(ROOT_LOCK))?.ok_or_else(|| {
            Error::unavailable(format!(
                "root {} is in use by another engine (is isulad already running?)",
                root.display()
            ))
        })?;
        let content = ContentStore::open(&root.join("content"))?;
        let snapshots = Snapshotter::open(&root.join("snapshots"))?;
        let images = ImageStore::open(&root.join("images"))?;
        let networks = NetworkStore::open(NetworkStoreConfig::from_engine(&config))?;
        let engine = Engine { config, content, snapshots, images, networks, _root_lock: lock };
        engine.repair()?;
        Ok(engine)
    }

    /// The configuration this engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The root directory (`graph`).
    pub fn root(&self) -> &Path {
        &self.config.graph
    }

    /// The state directory (`state`).
    pub fn state_dir(&self) -> &Path {
        &self.config.state
    }

    /// The content store (blobs by digest).
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// Directory for scratch files that must live on the root's filesystem.
    pub(crate) fn tmp_dir(&self) -> Result<PathBuf> {
        let dir = self.config.graph.join("tmp");
        sys::fs::ensure_dir(&dir, 0o700)?;
        Ok(dir)
    }

    /// Start-up repair after a crash: drop scratch files and half-made state.
    fn repair(&self) -> Result<()> {
        sys::fs::remove_dir_all_if_exists(&self.config.graph.join("tmp"))?;
        self.repair_images()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn second_open_of_a_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        let first = Engine::open(cfg.clone()).unwrap();
        let err = Engine::open(cfg.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains(&dir.path().join("root").display().to_string()), "{err}");
        drop(first);
        Engine::open(cfg).unwrap();
    }
}
