//! `export` and `cp`: tar streams of a container's root filesystem.
//!
//! The container's rootfs is mounted on the host while the container exists (mounted again
//! here if needed), so these work on running and stopped containers alike. `cp` sees the
//! container's volumes and bind mounts where they are mounted (their host sources stand in
//! for the directories under the mount points, as Docker does); `export` does not (Docker's
//! behaviour: volume content is not part of the container's filesystem).

use std::io::{Read, Write};

use super::Engine;
use crate::container::archive::{self, CopyMount, CopyToOptions, PathStat};
use crate::container::state::Status;
use crate::container::store::{Container, ContainerRecord};
use crate::error::{Error, Result};
use crate::sys;

/// A path missing in the container ("Could not find the file /x in container") → "… in
/// container <name>" (Docker's wording); other errors get the container id as context.
fn name_container(e: Error, rec: &ContainerRecord) -> Error {
    if e.reason() == Some(crate::Reason::NoSuchPath) {
        return Error::not_found(format!("{} {}", e.message(), rec.name)).with_reason(crate::Reason::NoSuchPath);
    }
    e.context(format!("container {}", rec.id))
}

/// The volumes and bind mounts of a container, as `cp` sees them.
fn copy_mounts(rec: &ContainerRecord) -> Vec<CopyMount> {
    rec.mounts
        .iter()
        .filter(|m| matches!(m.kind.as_str(), "volume" | "bind") && m.source.starts_with('/'))
        .map(|m| CopyMount { destination: m.destination.clone(), source: m.source.clone().into(), rw: m.rw })
        .collect()
}

impl Engine {
    /// The record of `c` with its root filesystem mounted (it may have been unmounted by a
    /// restart of the host). The caller holds the operation lock.
    fn mounted_rootfs(&self, c: &Container) -> Result<ContainerRecord> {
        let rec = c.record();
        if matches!(rec.state.status, Status::Removing | Status::Dead) {
            return Err(Error::precondition(format!("container {} is being removed", rec.id)));
        }
        if !sys::mount::is_mountpoint(&rec.rootfs) {
            sys::fs::ensure_dir(&rec.rootfs, 0o755)?;
            self.inner.snapshots.mount(&rec.id, &rec.rootfs)?;
        }
        Ok(rec)
    }

    /// [`Containers::export`]: see there.
    pub(crate) fn export(&self, id: &str, w: &mut dyn Write) -> Result<()> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        archive::export_rootfs(&rec.rootfs, w).map_err(|e| e.context(format!("export container {}", rec.id)))?;
        self.emit_container("export", &rec, &[]);
        Ok(())
    }

    /// [`Containers::stat_path`]: see there.
    pub(crate) fn stat_container_path(&self, id: &str, path: &str) -> Result<PathStat> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        archive::stat_path_mounted(&rec.rootfs, &copy_mounts(&rec), path).map_err(|e| name_container(e, &rec))
    }

    /// [`Containers::copy_from`]: see there.
    pub(crate) fn copy_from_container(
        &self,
        id: &str,
        path: &str,
        follow_link: bool,
        w: &mut dyn Write,
    ) -> Result<PathStat> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        let st = archive::copy_from_mounted(&rec.rootfs, &copy_mounts(&rec), path, follow_link, w)
            .map_err(|e| name_container(e, &rec))?;
        self.emit_container("archive-path", &rec, &[("path", path.to_string())]);
        Ok(st)
    }

    /// [`Containers::copy_to`]: see there.
    pub(crate) fn copy_to_container(&self, id: &str, dir: &str, r: &mut dyn Read, opts: &CopyToOptions) -> Result<()> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        archive::copy_to_mounted(&rec.rootfs, &copy_mounts(&rec), rec.host_config.read_only, dir, r, opts)
            .map_err(|e| name_container(e, &rec))?;
        self.emit_container("extract-to-dir", &rec, &[("path", dir.to_string())]);
        Ok(())
    }
}
