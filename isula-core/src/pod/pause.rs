//! The read-only root filesystem of the engine's own infra process: `<graph>/pause/rootfs`
//! holding the `isula-pause` binary as `/pause` and empty mount points, made once (again
//! when the binary changes) and shared by every pod.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys;

/// File name of the pause program.
pub(crate) const PAUSE_BINARY: &str = "isula-pause";
/// Its path in the rootfs.
pub(crate) const PAUSE_IN_ROOTFS: &str = "/pause";

/// Directories and files the runtime mounts over (made empty so the rootfs is never written).
const MOUNT_DIRS: &[&str] = &["proc", "dev", "sys", "etc", "tmp"];
const MOUNT_FILES: &[&str] = &["etc/hosts", "etc/resolv.conf", "etc/hostname"];

/// The pause binary: `configured` (`pause-path`), else beside the current executable (or in
/// its parent directory), else in `PATH`. `NotFound` saying where it looked.
pub(crate) fn locate(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::not_found(format!("pause binary {} (pause-path) not found", p.display())))
        };
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            for d in [Some(dir), dir.parent()].into_iter().flatten() {
                let c = d.join(PAUSE_BINARY);
                if c.is_file() {
                    return Ok(c);
                }
            }
        }
    }
    crate::runtime::find_in_path(PAUSE_BINARY).ok_or_else(|| {
        Error::not_found(format!(
            "pause binary {PAUSE_BINARY} not found beside the executable or in PATH (set pause-path or pod-sandbox-image)"
        ))
    })
}

fn same_content(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) if ma.len() == mb.len() => match (std::fs::read(a), std::fs::read(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
        _ => false,
    }
}

fn build(dir: &Path, binary: &Path) -> Result<()> {
    sys::fs::ensure_dir(dir, 0o755)?;
    for d in MOUNT_DIRS {
        sys::fs::ensure_dir(&dir.join(d), 0o755)?;
    }
    for f in MOUNT_FILES {
        let p = dir.join(f);
        std::fs::write(&p, b"").map_err(|e| Error::io(&p, "create mount point", e))?;
    }
    let dst = dir.join(PAUSE_IN_ROOTFS.trim_start_matches('/'));
    std::fs::copy(binary, &dst).map_err(|e| Error::io(&dst, "copy the pause binary", e))?;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(&dst, "chmod", e))?;
    let paths: Vec<PathBuf> = std::iter::once(dst).chain(MOUNT_FILES.iter().map(|f| dir.join(f))).collect();
    sys::fs::sync_files(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>())
}

/// Makes sure `<base>/rootfs` holds a copy of `binary` (rebuilding it when it differs) and
/// returns the rootfs path. The caller serialises calls.
pub(crate) fn ensure_rootfs(base: &Path, binary: &Path) -> Result<PathBuf> {
    let rootfs = base.join("rootfs");
    if same_content(&rootfs.join(PAUSE_IN_ROOTFS.trim_start_matches('/')), binary) {
        return Ok(rootfs);
    }
    sys::fs::ensure_dir(base, 0o755)?;
    let tmp = sys::fs::temp_sibling(&rootfs);
    sys::fs::remove_dir_all_if_exists(&tmp)?;
    if let Err(e) = build(&tmp, binary) {
        let _ = sys::fs::remove_dir_all_if_exists(&tmp);
        return Err(e.context("make the pause rootfs"));
    }
    // A rootfs in use by running pods stays valid after it is moved aside and deleted
    // (their mounts hold it).
    let old = base.join(format!("old-{}", std::process::id()));
    if rootfs.exists() {
        sys::fs::remove_dir_all_if_exists(&old)?;
        std::fs::rename(&rootfs, &old).map_err(|e| Error::io(&rootfs, "move the old pause rootfs aside", e))?;
    }
    std::fs::rename(&tmp, &rootfs).map_err(|e| Error::io(&rootfs, "install the pause rootfs", e))?;
    sys::fsync_dir(base)?;
    if let Err(e) = sys::fs::remove_dir_all_if_exists(&old) {
        log::warn!("removing the old pause rootfs {}: {e}", old.display());
    }
    Ok(rootfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_made_once_and_remade_when_the_binary_changes() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("isula-pause");
        std::fs::write(&bin, b"one").unwrap();
        let base = d.path().join("pause");
        let r = ensure_rootfs(&base, &bin).unwrap();
        assert_eq!(std::fs::read(r.join("pause")).unwrap(), b"one");
        assert!(r.join("proc").is_dir() && r.join("etc/hosts").is_file());
        std::fs::write(&bin, b"two").unwrap();
        let r = ensure_rootfs(&base, &bin).unwrap();
        assert_eq!(std::fs::read(r.join("pause")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("rootfs")], "nothing else left");
        assert_eq!(locate(Some(&d.path().join("nope"))).unwrap_err().kind(), crate::ErrorKind::NotFound);
        assert_eq!(locate(Some(&bin)).unwrap(), bin);
    }
}
