//! Resolving a path inside a container's root filesystem as the container would see it:
//! symlinks are followed with the rootfs as `/` (absolute targets restart at the rootfs,
//! `..` stops at it), and every directory is opened beneath the one before it, so a path
//! swapped for a symlink while we walk cannot lead out of the rootfs.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::mounts::{dup, MountTarget, Mounts};
use crate::sys::openat::DirFd;

/// Where a container path leads: the directory holding it and its name there
/// (`.` when the path is a directory reached without a final name, e.g. `/`).
#[derive(Debug)]
pub(super) struct Resolved {
    /// The directory that holds the entry.
    pub parent: DirFd,
    /// The entry's name in `parent`; it may not exist.
    pub name: OsString,
    /// The absolute path of the entry as the container sees it, symlinks resolved (`/etc/passwd`).
    pub path: PathBuf,
}

fn container_path(names: &[OsString], last: Option<&OsStr>) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(names.iter().map(|n| n.as_os_str()));
    if let Some(l) = last {
        p.push(l);
    }
    p
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
    path.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".").map(|c| c.to_vec())
}

/// Resolve `path` inside the rootfs opened as `root`. Intermediate symlinks are always
/// followed (within the rootfs); the final one only when `follow_final`. A missing final
/// component is allowed (check `parent.lstat(name)`); a missing or non-directory
/// intermediate one is `ENOENT`/`ENOTDIR`; more than 40 links is `ELOOP`.
/// With `mounts`, a directory or file mounted in the container replaces what the rootfs
/// has at the mount's destination (see [`super::mounts`]).
pub(super) fn resolve_in_root(
    root: &DirFd,
    mounts: Option<&Mounts>,
    path: &[u8],
    follow_final: bool,
) -> io::Result<Resolved> {
    let mut pending: VecDeque<Vec<u8>> = components(path).collect();
    let mut stack: Vec<DirFd> = Vec::new();
    let mut names: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(comp) = pending.pop_front() {
        if comp == b".." {
            stack.pop();
            names.pop();
            continue;
        }
        let last = pending.is_empty();
        let cur = stack.last().unwrap_or(root);
        let name = OsStr::from_bytes(&comp);
        if let Some(m) = mounts.and_then(|m| m.at(&container_path(&names, Some(name)))) {
            let path = container_path(&names, Some(name));
            match &m.target {
                MountTarget::Dir(d) if last => {
                    return Ok(Resolved { parent: dup(d)?, name: OsString::from("."), path });
                }
                MountTarget::Dir(d) => {
                    stack.push(dup(d)?);
                    names.push(name.to_owned());
                    continue;
                }
                MountTarget::File(d, n) if last => return Ok(Resolved { parent: dup(d)?, name: n.clone(), path }),
                MountTarget::File(..) => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
            }
        }
        let st = match cur.lstat(name)? {
            None if last => {
                let path = container_path(&names, Some(name));
                return Ok(Resolved { parent: cur.open_beneath(Path::new(""))?, name: name.to_owned(), path });
            }
            None => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
            Some(st) => st,
        };
        if st.mode & libc::S_IFMT == libc::S_IFLNK && (!last || follow_final) {
            links += 1;
            if links > 40 {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = cur.read_link(name)?;
            if target.first() == Some(&b'/') {
                stack.clear();
                names.clear();
            }
            for c in components(&target).rev() {
                pending.push_front(c);
            }
            continue;
        }
        if last {
            let path = container_path(&names, Some(name));
            return Ok(Resolved { parent: cur.open_beneath(Path::new(""))?, name: name.to_owned(), path });
        }
        if !st.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        // One component beneath the current directory: the kernel refuses it if it
        // has become a symlink leading out since the lstat above.
        let next = cur.open_beneath(Path::new(name))?;
        stack.push(next);
        names.push(name.to_owned());
    }
    let cur = stack.last().unwrap_or(root);
    let path = container_path(&names, None);
    Ok(Resolved { parent: cur.open_beneath(Path::new(""))?, name: OsString::from_vec(b".".to_vec()), path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn ino(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(p).unwrap().ino()
    }

    fn target_ino(r: &Resolved) -> Option<u64> {
        r.parent.lstat(&r.name).unwrap().map(|s| s.ino)
    }

    #[test]
    fn resolves_like_the_container_sees_it() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc/sub")).unwrap();
        std::fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        symlink("/etc/passwd", r.join("etc/link")).unwrap();
        symlink("../../../../etc", r.join("etc/sub/up")).unwrap();
        symlink("/", r.join("rootlink")).unwrap();
        symlink("self", r.join("self")).unwrap();
        let root = DirFd::open(r).unwrap();
        let res = resolve_in_root(&root, None, b"/etc/link", true).unwrap();
        assert_eq!(target_ino(&res), Some(ino(&r.join("etc/passwd"))));
        assert_eq!(res.path, Path::new("/etc/passwd"));
        let res = resolve_in_root(&root, None, b"/etc/link", false).unwrap();
        assert_eq!(res.name, "link");
        assert_eq!(target_ino(&res), Some(ino(&r.join("etc/link"))));
        let res = resolve_in_root(&root, None, b"/etc/sub/up/passwd", false).unwrap();
        assert_eq!(target_ino(&res), Some(ino(&r.join("etc/passwd"))));
        assert_eq!(res.path, Path::new("/etc/passwd"));
        let res = resolve_in_root(&root, None, b"/../../rootlink/etc/../etc/passwd", false).unwrap();
        assert_eq!(target_ino(&res), Some(ino(&r.join("etc/passwd"))));
        let res = resolve_in_root(&root, None, b"/", false).unwrap();
        assert_eq!(res.name, ".");
        assert_eq!(res.path, Path::new("/"));
        assert_eq!(target_ino(&res), Some(ino(r)));
        let res = resolve_in_root(&root, None, b"/etc/missing", false).unwrap();
        assert_eq!(target_ino(&res), None);
        assert_eq!(resolve_in_root(&root, None, b"/nope/x", false).unwrap_err().raw_os_error(), Some(libc::ENOENT));
        assert_eq!(
            resolve_in_root(&root, None, b"/etc/passwd/x", false).unwrap_err().raw_os_error(),
            Some(libc::ENOTDIR)
        );
        assert_eq!(resolve_in_root(&root, None, b"/self/x", false).unwrap_err().raw_os_error(), Some(libc::ELOOP));
    }
}
