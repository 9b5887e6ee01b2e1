//! Read-write snapshots: one upper/work pair per container over a layer chain.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Snapshotter, StagingGuard};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::sys;

/// A read-write snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotInfo {
    /// The snapshot key (a container id).
    pub key: String,
    /// Chain id of the top layer below it (`None`: an empty rootfs).
    pub parent: Option<Digest>,
    /// The image id it was prepared from, if any.
    pub image: Option<String>,
    /// True while it is mounted somewhere.
    pub mounted: bool,
}

/// What `snapshots/<key>/meta.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SnapshotMeta {
    pub key: String,
    pub parent: Option<Digest>,
    pub image: Option<String>,
    /// Where it was mounted (absolute, canonical), as recorded by `mount`.
    #[serde(default)]
    pub mounts: Vec<PathBuf>,
}

impl SnapshotMeta {
    pub(super) fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            key: self.key.clone(),
            parent: self.parent.clone(),
            image: self.image.clone(),
            mounted: self.mounts.iter().any(|m| sys::mount::is_mountpoint(m)),
        }
    }
}

/// A key must be a plain file name: 1–128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
pub(super) fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with(['.', '-'])
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid snapshot key {key:?}")))
    }
}

impl Snapshotter {
    pub(super) fn snapshot_meta(&self, key: &str) -> Result<SnapshotMeta> {
        validate_key(key)?;
        match sys::read_json(&self.snapshot_home(key).join("meta.json")) {
            Ok(m) => Ok(m),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!("snapshot {key} not found"))),
            Err(e) => Err(e),
        }
    }

    /// Rewrite a snapshot's metadata after a mount or unmount. Atomic but not flushed: the
    /// recorded mounts do not outlive a reboot anyway, and the rest of the metadata does not
    /// change after [`Snapshotter::prepare`] flushed it.
    pub(super) fn write_snapshot_meta(&self, meta: &SnapshotMeta) -> Result<()> {
        sys::fs::replace_file_json(&self.snapshot_home(&meta.key).join("meta.json"), meta)
    }

    pub(super) fn snapshot_metas(&self) -> Result<Vec<SnapshotMeta>> {
        let root = self.snapshots_root();
        let mut out = Vec::new();
        for ent in std::fs::read_dir(&root).map_err(|e| Error::io(&root, "read", e))? {
            let ent = ent.map_err(|e| Error::io(&root, "read", e))?;
            let Some(key) = ent.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if validate_key(&key).is_err() {
                continue;
            }
            match self.snapshot_meta(&key) {
                Ok(m) => out.push(m),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// All snapshots, ordered by key.
    pub(crate) fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        Ok(self.snapshot_metas()?.iter().map(SnapshotMeta::info).collect())
    }

    /// Create the read-write snapshot `key` over the layer chain ending at `parent`
    /// (`None`: an empty rootfs), recording `image`. `AlreadyExists` if `key` exists,
    /// `NotFound` if the parent layer does not.
    pub(crate) fn prepare(&self, key: &str, parent: Option<&Digest>, image: Option<&str>) -> Result<SnapshotInfo> {
        validate_key(key)?;
        let home = self.snapshot_home(key);
        if home.exists() {
            return Err(Error::already_exists(format!("snapshot {key} already exists")));
        }
        // Build and flush the snapshot in a private staging dir without the metadata lock, so
        // parallel creates do not queue behind each other's fsyncs; only the parent check and
        // the commit (rename) take the lock.
        let staging = self.staging(&format!("snap-{key}"));
        let guard = StagingGuard(Some(staging.clone()));
        sys::fs::ensure_dir(&staging, 0o700)?;
        sys::fs::ensure_dir(&staging.join("upper"), 0o755)?;
        sys::fs::ensure_dir(&staging.join("work"), 0o700)?;
        let meta = SnapshotMeta {
            key: key.to_string(),
            parent: parent.cloned(),
            image: image.map(str::to_string),
            mounts: Vec::new(),
        };
        let meta_path = staging.join("meta.json");
        sys::fs::replace_file_json(&meta_path, &meta)?;
        sys::fs::sync_files(&[&meta_path])?;
        {
            let _meta_lock = self.meta_lock()?;
            if home.exists() {
                return Err(Error::already_exists(format!("snapshot {key} already exists")));
            }
            if let Some(p) = parent {
                self.layer_meta(p).map_err(|e| e.context(format!("prepare snapshot {key}")))?;
            }
            std::fs::rename(&staging, &home).map_err(|e| Error::io(&home, "commit snapshot", e))?;
        }
        guard.disarm();
        sys::fsync_dir(&self.snapshots_root())?;
        Ok(meta.info())
    }

    /// Delete snapshot `key` and its read-write layer, unmounting it first where it
    /// is still mounted. `NotFound` if it does not exist.
    ///
    /// Only the move of the snapshot out of `snapshots/` holds the metadata lock; unmounting
    /// and deleting its files do not, so parallel removals do not queue behind each other.
    pub(crate) fn remove(&self, key: &str) -> Result<()> {
        let meta = self.snapshot_meta(key)?;
        for target in &meta.mounts {
            // Stacked mounts on one target need one unmount each; bounded in case of a bug.
            for _ in 0..16 {
                if !sys::mount::is_mountpoint(target) {
                    break;
                }
                sys::mount::unmount(target, true).map_err(|e| e.context(format!("remove snapshot {key}")))?;
            }
        }
        let home = self.snapshot_home(key);
        let trash = {
            let _meta_lock = self.meta_lock()?;
            self.snapshot_meta(key)?;
            self.move_to_trash(&home, &format!("snap-{key}"))?
        };
        self.purge(&home, &trash)
    }
}
