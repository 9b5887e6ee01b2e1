//! `export` and `cp`: tar streams of a container's root filesystem.
//!
//! The container's rootfs is mounted on the host while the container exists (mounted again
//! here if needed), so these work on running and stopped containers alike. Volumes and bind
//! mounts live only in the container's mount namespace and are not part of these streams.

use std::io::{Read, Write};

use super::Engine;
use crate::container::archive::{self, CopyToOptions, PathStat};
use crate::container::state::Status;
use crate::container::store::{Container, ContainerRecord};
use crate::error::{Error, Result};
use crate::sys;

/// "Could not find the file /x in container" → "… in container <name>" (Docker's wording);
/// other errors get the container id as context.
fn name_container(e: Error, rec: &ContainerRecord) -> Error {
    if e.kind() == crate::ErrorKind::NotFound && e.message().ends_with(" in container") {
        return Error::not_found(format!("{} {}", e.message(), rec.name));
    }
    e.context(format!("container {}", rec.id))
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
            self.snapshots.mount(&rec.id, &rec.rootfs)?;
        }
        Ok(rec)
    }

    /// `docker export`: the container's whole root filesystem as a tar stream on `w`.
    pub fn export(&self, id: &str, w: &mut dyn Write) -> Result<()> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        archive::export_rootfs(&rec.rootfs, w).map_err(|e| e.context(format!("export container {}", rec.id)))?;
        self.emit_container("export", &rec, &[]);
        Ok(())
    }

    /// Stat `path` in the container (Docker's `HEAD /containers/{id}/archive`).
    pub fn stat_container_path(&self, id: &str, path: &str) -> Result<PathStat> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        archive::stat_path(&rec.rootfs, path).map_err(|e| name_container(e, &rec))
    }

    /// `docker cp CONTAINER:path -`: `path` (resolved inside the container's root) as a tar
    /// stream on `w`; a final symlink is copied as the link unless `follow_link`. NotFound
    /// when the path does not exist.
    pub fn copy_from_container(&self, id: &str, path: &str, follow_link: bool, w: &mut dyn Write) -> Result<PathStat> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        let st = archive::copy_from(&rec.rootfs, path, follow_link, w).map_err(|e| name_container(e, &rec))?;
        self.emit_container("archive-path", &rec, &[("path", path.to_string())]);
        Ok(st)
    }

    /// `docker cp - CONTAINER:dir`: extract the tar stream `r` into directory `dir` of the
    /// container. Escaping entries are refused (InvalidArgument); a read-only root
    /// filesystem is `FailedPrecondition`.
    pub fn copy_to_container(&self, id: &str, dir: &str, r: &mut dyn Read, opts: &CopyToOptions) -> Result<()> {
        let c = self.container(id)?;
        let rec = {
            let _op = c.lock_op();
            self.mounted_rootfs(&c)?
        };
        if rec.host_config.read_only {
            return Err(Error::precondition(format!(
                "container {} rootfs is marked read-only: cannot copy into it",
                rec.id
            )));
        }
        archive::copy_to(&rec.rootfs, dir, r, opts).map_err(|e| name_container(e, &rec))?;
        self.emit_container("extract-to-dir", &rec, &[("path", dir.to_string())]);
        Ok(())
    }
}
