//! Tar streams of a container's filesystem: `export` (the whole rootfs) and `cp` in both
//! directions (a path resolved inside the rootfs as the container sees it).
//!
//! Callers pass the container's mounted root filesystem. Paths are always resolved with
//! the rootfs as `/`: absolute symlinks restart at the rootfs, `..` stops at it, and every
//! directory is opened beneath its parent, so nothing outside the rootfs is ever read or written.

mod extract;
mod mounts;
mod resolve;
mod write;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::sys::openat::DirFd;
pub(crate) use mounts::CopyMount;
use mounts::Mounts;
use resolve::{resolve_in_root, Resolved};
use write::{fd_path, TarWriter};

pub use isula_types::container::types::PathStat;

/// Options of [`copy_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyToOptions {
    /// Owner given to every extracted entry; `None` keeps the owners in the tar (`cp -a`).
    pub owner: Option<(u32, u32)>,
    /// Refuse to replace a directory with a non-directory or the reverse (Docker's default).
    pub no_overwrite_dir_non_dir: bool,
}

impl Default for CopyToOptions {
    fn default() -> Self {
        CopyToOptions { owner: None, no_overwrite_dir_non_dir: true }
    }
}

fn open_rootfs(rootfs: &Path) -> Result<DirFd> {
    DirFd::open(rootfs).map_err(|e| Error::io(rootfs, "open container root filesystem", e))
}

fn not_found(path: &str) -> Error {
    Error::not_found(format!("Could not find the file {path} in container")).with_reason(crate::Reason::NoSuchPath)
}

/// Resolve `path` in the rootfs; the entry must exist.
fn resolve_existing(
    root: &DirFd,
    mounts: &Mounts,
    path: &str,
    follow_final: bool,
) -> Result<(Resolved, std::fs::Metadata)> {
    let map = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::ENOENT) => not_found(path),
        Some(libc::ENOTDIR) => Error::invalid(format!("{path}: a component of the path is not a directory")),
        Some(libc::ELOOP) => Error::invalid(format!("{path}: too many levels of symbolic links")),
        _ => Error::io(path, "resolve in container", e),
    };
    let r = resolve_in_root(root, Some(mounts), path.as_bytes(), follow_final).map_err(map)?;
    let m = std::fs::symlink_metadata(fd_path(&r.parent, &r.name)).map_err(map)?;
    if path.ends_with('/') && !m.is_dir() {
        return Err(Error::invalid(format!("{path}: not a directory")));
    }
    Ok((r, m))
}

fn base_name(path: &str, r: &Resolved) -> String {
    // The name asked for (`link` for `cp -L ctr:/etc/link`), else the resolved one.
    if let Some(n) = Path::new(path).file_name() {
        return n.to_string_lossy().into_owned();
    }
    if r.name != "." {
        return String::from_utf8_lossy(r.name.as_bytes()).into_owned();
    }
    ".".into()
}

/// The in-container path a symlink resolves to (empty for other entries).
fn link_target(root: &DirFd, mounts: &Mounts, path: &str, m: &std::fs::Metadata) -> Result<String> {
    if !m.file_type().is_symlink() {
        return Ok(String::new());
    }
    // A link that loops or leads through a non-directory has no target to offer.
    Ok(resolve_in_root(root, Some(mounts), path.as_bytes(), true)
        .map(|r| r.path.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// Write the whole root filesystem at `rootfs` as a tar stream (`docker export`): modes,
/// owners, times, symlinks, hard links, device nodes, fifos and extended attributes are
/// kept; sockets cannot be archived and are left out. Entry names are relative (`bin/sh`).
pub(crate) fn export_rootfs(rootfs: &Path, w: &mut dyn Write) -> Result<()> {
    let root = open_rootfs(rootfs)?;
    let mut t = TarWriter::new(w);
    t.add_children(&root, Path::new(""))?;
    t.finish()
}

/// Stat `path` inside the container rootfs (a final symlink is not followed).
#[cfg(test)]
pub(crate) fn stat_path(rootfs: &Path, path: &str) -> Result<PathStat> {
    stat_path_mounted(rootfs, &[], path)
}

/// [`stat_path`] with the container's volumes and bind mounts in place.
pub(crate) fn stat_path_mounted(rootfs: &Path, mounts: &[CopyMount], path: &str) -> Result<PathStat> {
    let root = open_rootfs(rootfs)?;
    let mounts = Mounts::open(&root, mounts)?;
    let (r, m) = resolve_existing(&root, &mounts, path, false)?;
    let link_target = link_target(&root, &mounts, path, &m)?;
    Ok(PathStat { name: base_name(path, &r), size: m.len(), mode: m.mode(), mtime: m.mtime(), link_target })
}

/// `docker cp CONTAINER:path -`: write `path` (resolved inside the rootfs) as a tar stream.
/// A file gives one entry named by its base name; a directory gives the directory and its
/// tree under its base name. A final symlink is archived as the link itself unless
/// `follow_link` (`cp -L`). A missing path is NotFound ("Could not find the file … in container").
/// Returns the stat of what was copied.
#[cfg(test)]
pub(crate) fn copy_from(rootfs: &Path, path: &str, follow_link: bool, w: &mut dyn Write) -> Result<PathStat> {
    copy_from_mounted(rootfs, &[], path, follow_link, w)
}

/// [`copy_from`] with the container's volumes and bind mounts in place: their content is
/// archived where they are mounted, as the container sees it.
pub(crate) fn copy_from_mounted(
    rootfs: &Path,
    mounts: &[CopyMount],
    path: &str,
    follow_link: bool,
    w: &mut dyn Write,
) -> Result<PathStat> {
    let root = open_rootfs(rootfs)?;
    let mounts = Mounts::open(&root, mounts)?;
    let (r, m) = resolve_existing(&root, &mounts, path, follow_link || path.ends_with('/'))?;
    let name = base_name(path, &r);
    let mut t = TarWriter::new(w);
    t.set_mounts(&mounts, Path::new(&name), &r.path)?;
    if r.name == "." {
        // The path is a directory reached without a final name (`/`, `/etc/..`): archive it
        // through its own descriptor.
        let mut h = write::header(&m);
        h.set_entry_type(tar::EntryType::Directory);
        t.add_dir_header(&mut h, Path::new(&name))?;
        t.add_children(&r.parent, Path::new(&name))?;
    } else {
        t.add(&r.parent, &r.name, Path::new(OsStr::new(&name)))?;
    }
    t.finish()?;
    let link_target = link_target(&root, &mounts, path, &m)?;
    Ok(PathStat { name, size: m.len(), mode: m.mode(), mtime: m.mtime(), link_target })
}

/// `docker cp - CONTAINER:dir`: extract the tar stream `r` into the directory `dir` of the
/// container (resolved inside the rootfs, symlinks followed within it). `dir` must exist
/// (NotFound) and be a directory (InvalidArgument). Entries with absolute names, `..`
/// leaving `dir`, symlinks in the tar pointing above `dir`, or paths that lead out of
/// `dir` through a symlink are refused with InvalidArgument. Entries before a refused one
/// stay extracted, as with Docker.
#[cfg(test)]
pub(crate) fn copy_to(rootfs: &Path, dir: &str, r: &mut dyn Read, opts: &CopyToOptions) -> Result<()> {
    copy_to_mounted(rootfs, &[], false, dir, r, opts)
}

/// [`copy_to`] with the container's volumes and bind mounts in place: a destination in a
/// mount is written there. A read-only mount, or a read-only rootfs outside a writable
/// mount, is FailedPrecondition. (Mounts nested below the destination are not entered:
/// entries for them go to the directory under the mount point.)
pub(crate) fn copy_to_mounted(
    rootfs: &Path,
    mounts: &[CopyMount],
    read_only_rootfs: bool,
    dir: &str,
    r: &mut dyn Read,
    opts: &CopyToOptions,
) -> Result<()> {
    let root = open_rootfs(rootfs)?;
    let mounts = Mounts::open(&root, mounts)?;
    let (res, m) = resolve_existing(&root, &mounts, dir, true)?;
    if !m.is_dir() {
        return Err(Error::invalid(format!("destination {dir} in the container is not a directory")));
    }
    match mounts.holding(&res.path) {
        Some(mp) if !mp.rw => {
            return Err(Error::precondition(format!(
                "mounted volume is marked read-only: cannot copy into {}",
                mp.path.display()
            )))
        }
        None if read_only_rootfs => {
            return Err(Error::precondition("container rootfs is marked read-only: cannot copy into it"))
        }
        _ => {}
    }
    let dest = res
        .parent
        .open_beneath(Path::new(&res.name))
        .map_err(|e| Error::io(dir, "open destination directory in container", e))?;
    extract::Extractor::new(dest, dir, opts).run(r)
}

#[cfg(test)]
mod tests;
