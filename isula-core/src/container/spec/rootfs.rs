//! Safe path handling inside a container root filesystem, and the working directory helper.

use std::collections::VecDeque;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Joins `path` onto `root`, resolving symlinks component by component as if `root`
/// were `/`, so the result never escapes `root` (absolute links restart at `root`,
/// `..` stops at it). Missing components are kept literally.
pub(crate) fn secure_join(root: &Path, path: &str) -> Result<PathBuf> {
    let mut pending: VecDeque<String> = split(path);
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.iter().fold(root.to_path_buf(), |p, c| p.join(c)).join(&c);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(Error::invalid(format!("too many symlinks resolving {path:?} in {}", root.display())));
                }
                let target = std::fs::read_link(&candidate).map_err(|e| Error::io(&candidate, "read link", e))?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for t in split(&target).into_iter().rev() {
                    pending.push_front(t);
                }
            }
            _ => resolved.push(c),
        }
    }
    Ok(resolved.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

fn split(path: &str) -> VecDeque<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

/// Creates the working directory `workdir` inside `rootfs` (without following symlinks
/// out of it); directories it creates are mode 0755 and owned by `uid:gid`.
/// An existing non-directory is an InvalidArgument error.
pub(crate) fn ensure_workdir(rootfs: &Path, workdir: &str, uid: u32, gid: u32) -> Result<PathBuf> {
    if !workdir.starts_with('/') {
        return Err(Error::invalid(format!("invalid working directory {workdir:?}: not an absolute path")));
    }
    let mut prefix = String::new();
    let mut last = rootfs.to_path_buf();
    for comp in split(workdir) {
        prefix.push('/');
        prefix.push_str(&comp);
        let p = secure_join(rootfs, &prefix)?;
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::invalid(format!("working directory {workdir:?}: {prefix} is not a directory")));
            }
            Err(_) => {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new().mode(0o755).create(&p).map_err(|e| Error::io(&p, "create workdir", e))?;
                std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).map_err(|e| Error::io(&p, "chown workdir", e))?;
            }
        }
        last = p;
    }
    Ok(last)
}

/// Reads a file inside `rootfs` through [`secure_join`]; a missing file reads as `None`.
pub(crate) fn read_in_rootfs(rootfs: &Path, path: &str) -> Result<Option<String>> {
    let p = secure_join(rootfs, path)?;
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&p, "read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    #[test]
    fn secure_join_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../..", r.join("a/up")).unwrap();
        symlink("b", r.join("a/rel")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        assert_eq!(secure_join(r, "/abs/passwd").unwrap(), r.join("etc/passwd"));
        assert_eq!(secure_join(r, "/a/up/etc").unwrap(), r.join("etc"));
        assert_eq!(secure_join(r, "/a/rel/x").unwrap(), r.join("a/b/x"));
        assert_eq!(secure_join(r, "../../x").unwrap(), r.join("x"));
        assert!(secure_join(r, "/loop1").is_err());
    }

    #[test]
    fn workdir_created_inside_rootfs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        symlink("/", r.join("escape")).unwrap();
        let p = ensure_workdir(r, "/escape/srv/app", 1000, 1000).unwrap();
        assert_eq!(p, r.join("srv/app"));
        let m = std::fs::metadata(&p).unwrap();
        assert!(m.is_dir());
        assert_eq!((m.uid(), m.gid()), (1000, 1000));
        // existing directories keep their owner
        ensure_workdir(r, "/srv", 5, 5).unwrap();
        assert_eq!(std::fs::metadata(r.join("srv")).unwrap().uid(), 1000);
        std::fs::write(r.join("file"), "x").unwrap();
        assert_eq!(ensure_workdir(r, "/file/sub", 0, 0).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
        assert!(ensure_workdir(r, "rel", 0, 0).is_err());
    }
}
