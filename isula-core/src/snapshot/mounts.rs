//! Mounting snapshots with overlayfs.

use std::path::Path;

use super::{Snapshotter, EMPTY_DIR};
use crate::error::{Error, Result};
use crate::sys;

/// The kernel copies at most one page of mount options.
const MAX_OPTIONS: usize = 4095;

impl Snapshotter {
    /// The overlay option string for snapshot `key` (`lowerdir=l/..:..,upperdir=..,workdir=..`).
    /// Its paths are relative to [`Snapshotter::dir`]: mount with that as working directory,
    /// as [`Snapshotter::mount`] does. `InvalidArgument` when the chain is too long for one page.
    pub(crate) fn mount_options(&self, key: &str) -> Result<String> {
        let meta = self.snapshot_meta(key)?;
        let lowers = match &meta.parent {
            None => vec![EMPTY_DIR.to_string()],
            Some(p) => self.layer_meta(p).map_err(|e| e.context(format!("mount snapshot {key}")))?.lowerdirs(),
        };
        let opts = format!("lowerdir={},upperdir=snapshots/{key}/upper,workdir=snapshots/{key}/work", lowers.join(":"));
        if opts.len() > MAX_OPTIONS {
            return Err(Error::invalid(format!(
                "mount snapshot {key}: {} layers need {} bytes of mount options, more than the kernel's {MAX_OPTIONS}",
                lowers.len(),
                opts.len()
            )));
        }
        Ok(opts)
    }

    /// Mount snapshot `key` (overlayfs) on the existing directory `target`.
    /// The mount itself runs without the metadata lock (the snapshot's layers cannot go
    /// while the snapshot exists); only the update of its recorded mounts takes it.
    pub(crate) fn mount(&self, key: &str, target: &Path) -> Result<()> {
        let opts = self.mount_options(key)?;
        let target = target.canonicalize().map_err(|e| Error::io(target, "resolve mount target", e))?;
        sys::mount::mount_overlay(&target, &opts, Some(&self.dir))
            .map_err(|e| e.context(format!("mount snapshot {key}")))?;
        let _meta_lock = match self.meta_lock() {
            Ok(l) => l,
            Err(e) => {
                let _ = sys::mount::unmount(&target, true);
                return Err(e);
            }
        };
        let mut meta = match self.snapshot_meta(key) {
            Ok(m) => m,
            Err(e) => {
                let _ = sys::mount::unmount(&target, true);
                return Err(e);
            }
        };
        if !meta.mounts.contains(&target) {
            meta.mounts.push(target.clone());
            if let Err(e) = self.write_snapshot_meta(&meta) {
                let _ = sys::mount::unmount(&target, true);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Unmount snapshot `key` from `target`; a target that is not mounted is not an error.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn unmount(&self, key: &str, target: &Path) -> Result<()> {
        let _meta_lock = self.meta_lock()?;
        let mut meta = self.snapshot_meta(key)?;
        let target = target.canonicalize().unwrap_or_else(|_| target.to_path_buf());
        if sys::mount::is_mountpoint(&target) {
            sys::mount::unmount(&target, false).map_err(|e| e.context(format!("unmount snapshot {key}")))?;
        }
        if let Some(i) = meta.mounts.iter().position(|m| *m == target) {
            if !sys::mount::is_mountpoint(&target) {
                meta.mounts.remove(i);
                self.write_snapshot_meta(&meta)?;
            }
        }
        Ok(())
    }
}
