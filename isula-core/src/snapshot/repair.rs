//! Start-up repair: whatever a crash left half-made is removed.

use super::{links, Snapshotter};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::sys;

impl Snapshotter {
    /// Remove staging and trash directories, layers and snapshots without
    /// metadata, dangling short links and creation locks of absent layers, and
    /// forget recorded mounts that are gone.
    /// Call it when no other user of this snapshotter is active (at engine start).
    pub(crate) fn repair(&self) -> Result<()> {
        let _meta_lock = self.meta_lock()?;
        let tmp = self.tmp_dir();
        for ent in std::fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, "read", e))? {
            let path = ent.map_err(|e| Error::io(&tmp, "read", e))?.path();
            log::info!("snapshotter repair: removing leftover {}", path.display());
            remove_any(&path)?;
        }
        let root = self.layers_root();
        for ent in std::fs::read_dir(&root).map_err(|e| Error::io(&root, "read", e))? {
            let path = ent.map_err(|e| Error::io(&root, "read", e))?.path();
            let valid = path.file_name().and_then(|n| n.to_str()).and_then(|h| Digest::from_hex(h).ok()).is_some();
            if !valid || !path.join("meta.json").is_file() {
                log::info!("snapshotter repair: removing half-made layer {}", path.display());
                remove_any(&path)?;
            }
        }
        let root = self.snapshots_root();
        for ent in std::fs::read_dir(&root).map_err(|e| Error::io(&root, "read", e))? {
            let path = ent.map_err(|e| Error::io(&root, "read", e))?.path();
            if !path.join("meta.json").is_file() {
                log::info!("snapshotter repair: removing half-made snapshot {}", path.display());
                remove_any(&path)?;
            }
        }
        for mut meta in self.snapshot_metas()? {
            let before = meta.mounts.len();
            meta.mounts.retain(|m| sys::mount::is_mountpoint(m));
            if meta.mounts.len() != before {
                self.write_snapshot_meta(&meta)?;
            }
        }
        let locks = self.locks_dir();
        for ent in std::fs::read_dir(&locks).map_err(|e| Error::io(&locks, "read", e))? {
            let path = ent.map_err(|e| Error::io(&locks, "read", e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let chain = name.strip_suffix(".lock").and_then(|h| Digest::from_hex(h).ok());
            if chain.is_some_and(|c| !self.has_layer(&c)) {
                remove_any(&path)?;
            }
        }
        for path in links::dangling(&self.links_dir())? {
            log::info!("snapshotter repair: removing dangling link {}", path.display());
            remove_any(&path)?;
        }
        Ok(())
    }
}

fn remove_any(path: &std::path::Path) -> Result<()> {
    let res = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    res.map_err(|e| Error::io(path, "remove", e))
}
