//! Mounting and unmounting filesystems.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result};

/// Mount an overlay filesystem at `target` with the given option string
/// (`lowerdir=...,upperdir=...,workdir=...`). Relative lowerdir paths are
/// resolved against `cwd` when given: the caller passes the short-link directory
/// so the option string stays below the page-size limit.
pub(crate) fn mount_overlay(target: &Path, options: &str, cwd: Option<&Path>) -> Result<()> {
    let run = || {
        nix::mount::mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(options))
            .map_err(|e| Error::io(target, &format!("mount overlay ({options}) on"), std::io::Error::from(e)))
    };
    match cwd {
        None => run(),
        Some(dir) => with_cwd(dir, run),
    }
}

/// Run `f` with the process working directory set to `dir`, restoring it after.
/// Serialised by a process-wide mutex because the working directory is shared by all threads.
fn with_cwd<T>(dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    static CWD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CWD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let old = std::env::current_dir().map_err(|e| Error::io(".", "get current directory", e))?;
    std::env::set_current_dir(dir).map_err(|e| Error::io(dir, "chdir to", e))?;
    let res = f();
    let _ = std::env::set_current_dir(&old);
    res
}

/// Bind-mount `source` onto `target`.
pub fn bind(source: &Path, target: &Path, recursive: bool) -> Result<()> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    nix::mount::mount(Some(source), target, None::<&str>, flags, None::<&str>)
        .map_err(|e| Error::io(target, &format!("bind {} on", source.display()), std::io::Error::from(e)))
}

/// Mount a tmpfs with `data` options (e.g. `mode=1777,size=67108864`) on `target`, without
/// setuid, devices or execution.
pub(crate) fn mount_tmpfs(target: &Path, data: &str) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    nix::mount::mount(Some("shm"), target, Some("tmpfs"), flags, Some(data))
        .map_err(|e| Error::io(target, "mount tmpfs on", std::io::Error::from(e)))
}

/// Unmount `target` (lazily when `detach`); an unmounted or missing target is not an error.
pub fn unmount(target: &Path, detach: bool) -> Result<()> {
    let flags = if detach { MntFlags::MNT_DETACH } else { MntFlags::empty() };
    match nix::mount::umount2(target, flags) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io(target, "unmount", std::io::Error::from(e))),
    }
}

/// True when `path` is a mount point. Asks `statx` for the mount-root attribute (one syscall,
/// kernel 5.8 and later); older kernels fall back to a search of /proc/self/mountinfo, whose
/// cost grows with the number of mounts on the host.
pub(crate) fn is_mountpoint(path: &Path) -> bool {
    mount_root_attribute(path).unwrap_or_else(|| listed_in_mountinfo(path))
}

/// `Some(true|false)` from statx's STATX_ATTR_MOUNT_ROOT; `Some(false)` for a missing path;
/// `None` when the kernel cannot tell (no statx, or the attribute is not supported).
fn mount_root_attribute(path: &Path) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: a NUL-terminated path and a buffer of the size statx writes.
    let rc = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), libc::AT_SYMLINK_NOFOLLOW, 0, stx.as_mut_ptr()) };
    if rc != 0 {
        let e = std::io::Error::last_os_error().raw_os_error();
        return matches!(e, Some(libc::ENOENT) | Some(libc::ENOTDIR)).then_some(false);
    }
    // SAFETY: statx succeeded and filled the buffer.
    let stx = unsafe { stx.assume_init() };
    let bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    (stx.stx_attributes_mask & bit != 0).then_some(stx.stx_attributes & bit != 0)
}

/// True when /proc/self/mountinfo lists `path` as a mount point.
fn listed_in_mountinfo(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let want = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4).map(unescape_mountinfo).as_deref() == Some(&*want))
}

/// Mount points at or below `prefix`, deepest first (so they can be unmounted in order).
pub fn mounts_under(prefix: &Path) -> Vec<std::path::PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    let mut out: Vec<std::path::PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| std::path::PathBuf::from(unescape_mountinfo(m)))
        .filter(|p| p.starts_with(prefix))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Undo mountinfo's octal escapes: it writes space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // `\ooo` with a first digit of at most 3 fits a byte.
        if b[i] == b'\\'
            && i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unmounts the target when dropped, so a failed assertion leaves no mount behind.
    struct Mounted<'a>(&'a Path);

    impl Drop for Mounted<'_> {
        fn drop(&mut self) {
            let _ = unmount(self.0, true);
        }
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/x\\134y\\011z\\012"), "/x\\y\tz\n");
        // Not an escape: left as it is (no panic on a value above a byte, or a short tail).
        assert_eq!(unescape_mountinfo("/a\\777b"), "/a\\777b");
        assert_eq!(unescape_mountinfo("/a\\04"), "/a\\04");
        assert_eq!(unescape_mountinfo("/é\\040"), "/é ");
    }

    #[test]
    fn mount_points_are_told_apart_from_plain_dirs_and_missing_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let (plain, bound) = (tmp.path().join("plain"), tmp.path().join("bound"));
        std::fs::create_dir(&plain).unwrap();
        std::fs::create_dir(&bound).unwrap();
        // A bind mount of a directory onto itself: same device, so only the mount table or
        // statx's mount-root attribute can tell.
        bind(&bound, &bound, false).unwrap();
        let _guard = Mounted(&bound);
        for (path, want) in [(&bound, true), (&plain, false), (&tmp.path().join("missing"), false)] {
            assert_eq!(is_mountpoint(path), want, "{}", path.display());
            assert_eq!(listed_in_mountinfo(path), want, "{}", path.display());
        }
        assert!(is_mountpoint(Path::new("/")));
    }
}
