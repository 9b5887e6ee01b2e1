//! The volumes and bind mounts of a container as `cp` sees them: each one replaces the
//! directory (or file) at its destination while a path is resolved or a tree is archived,
//! as in the container's own mount namespace. Sources are opened once; everything below a
//! source is then opened beneath it, so a symlink never leads out of the source (or out of
//! the container root: absolute links restart at the rootfs, `..` at the top of a mount
//! goes back to the directory that holds the mount point).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys::openat::DirFd;

/// A volume or bind mount of a container, for `cp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyMount {
    /// Absolute destination in the container.
    pub destination: String,
    /// The host directory or file mounted there.
    pub source: PathBuf,
    /// Writable.
    pub rw: bool,
}

/// What is mounted.
#[derive(Debug)]
pub(crate) enum MountTarget {
    /// A directory.
    Dir(DirFd),
    /// A file: its directory on the host and its name there.
    File(DirFd, OsString),
}

/// One opened mount.
#[derive(Debug)]
pub(crate) struct OpenMount {
    /// The destination as the container sees it (symlinks of the rootfs resolved, as the
    /// runtime resolves them when it mounts).
    pub path: PathBuf,
    /// What is mounted.
    pub target: MountTarget,
    /// Writable.
    pub rw: bool,
}

/// The opened mounts of a container (none for `export`).
#[derive(Debug, Default)]
pub(crate) struct Mounts {
    list: Vec<OpenMount>,
}

/// A second descriptor on the same directory.
pub(crate) fn dup(d: &DirFd) -> io::Result<DirFd> {
    d.open_beneath(Path::new(""))
}

impl Mounts {
    /// Open the sources of `mounts`; a destination is resolved inside `root` (the rootfs).
    /// A source that no longer exists is left out (the container would fail to start).
    pub(crate) fn open(root: &DirFd, mounts: &[CopyMount]) -> Result<Mounts> {
        let mut list = Vec::new();
        for m in mounts {
            let path = match super::resolve::resolve_in_root(root, None, m.destination.as_bytes(), true) {
                Ok(r) => r.path,
                Err(_) => lexical(&m.destination),
            };
            let meta = match std::fs::metadata(&m.source) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&m.source, "stat mount source", e)),
            };
            let target = if meta.is_dir() {
                MountTarget::Dir(DirFd::open(&m.source).map_err(|e| Error::io(&m.source, "open mount source", e))?)
            } else {
                let (Some(dir), Some(name)) = (m.source.parent(), m.source.file_name()) else { continue };
                let d = DirFd::open(dir).map_err(|e| Error::io(dir, "open mount source directory", e))?;
                MountTarget::File(d, name.to_owned())
            };
            list.push(OpenMount { path, target, rw: m.rw });
        }
        Ok(Mounts { list })
    }

    /// A copy with descriptors of its own.
    pub(crate) fn try_clone(&self) -> io::Result<Mounts> {
        let mut list = Vec::with_capacity(self.list.len());
        for m in &self.list {
            let target = match &m.target {
                MountTarget::Dir(d) => MountTarget::Dir(dup(d)?),
                MountTarget::File(d, n) => MountTarget::File(dup(d)?, n.clone()),
            };
            list.push(OpenMount { path: m.path.clone(), target, rw: m.rw });
        }
        Ok(Mounts { list })
    }

    /// The mount whose destination is exactly `path` (the last one wins, as it is on top).
    pub(crate) fn at(&self, path: &Path) -> Option<&OpenMount> {
        self.list.iter().rev().find(|m| m.path == path)
    }

    /// The innermost mount holding `path` (its destination or below it).
    pub(crate) fn holding(&self, path: &Path) -> Option<&OpenMount> {
        self.list.iter().rev().filter(|m| path.starts_with(&m.path)).max_by_key(|m| m.path.components().count())
    }
}

/// `/a/./b/../c` → `/a/c` without looking at the filesystem.
fn lexical(p: &str) -> PathBuf {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    let mut pb = PathBuf::from("/");
    pb.extend(out);
    pb
}
