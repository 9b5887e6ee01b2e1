//! Directory handles and `*at` operations relative to them, with resolution
//! confined beneath a root (openat2 `RESOLVE_BENEATH`).
//!
//! Layer application uses these so that no tar entry, however crafted, can make
//! the engine write outside the layer directory: every parent directory is
//! opened relative to the root with symlinks that escape it refused by the kernel.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains NUL"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The status of a directory entry (`lstat` semantics).
// A whole stat record: not every caller reads every field.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Inode number.
    pub ino: u64,
    /// Device of the filesystem holding the entry.
    pub dev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Number of hard links.
    pub nlink: u64,
}

impl Stat {
    /// True for a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// An open directory used as the base of `*at` calls.
#[derive(Debug)]
pub(crate) struct DirFd(OwnedFd);

impl AsFd for DirFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl DirFd {
    /// Open the directory at `path` (following symlinks, as an ordinary open).
    pub(crate) fn open(path: &Path) -> io::Result<DirFd> {
        let p = cstr(path.as_os_str().as_bytes())?;
        // SAFETY: valid NUL-terminated path; the returned descriptor is checked and owned.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(DirFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Open the directory `rel` below this one. Resolution stays beneath this
    /// directory: absolute paths, `..` above it, symlinks leading out of it and
    /// magic links fail with `EXDEV`/`ELOOP`. An empty `rel` reopens this directory.
    pub(crate) fn open_beneath(&self, rel: &Path) -> io::Result<DirFd> {
        let bytes = rel.as_os_str().as_bytes();
        let p = cstr(if bytes.is_empty() { b"." } else { bytes })?;
        // SAFETY: open_how is plain data; all-zero is its documented initial state.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
        // SAFETY: openat2 with a valid dirfd, NUL-terminated path and a fully initialised
        // open_how of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.raw(),
                p.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOSYS) {
                // Kernels before 5.6 (and valgrind) lack openat2: resolve in userspace.
                return self.open_beneath_walk(rel);
            }
            return Err(err);
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(DirFd(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// [`open_beneath`](Self::open_beneath) without openat2: walk `rel` one component
    /// at a time with `O_NOFOLLOW`, expanding relative symlinks ourselves and keeping a
    /// stack of opened directories so `..` can never climb above this one. Absolute
    /// paths or symlinks fail with `EXDEV`, as `RESOLVE_BENEATH` does.
    fn open_beneath_walk(&self, rel: &Path) -> io::Result<DirFd> {
        use std::collections::VecDeque;
        use std::path::Component;
        let exdev = || io::Error::from_raw_os_error(libc::EXDEV);
        let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
        let push_path = |pending: &mut VecDeque<Vec<u8>>, p: &Path, front: bool| -> io::Result<()> {
            let mut comps = Vec::new();
            for c in p.components() {
                match c {
                    Component::RootDir | Component::Prefix(_) => return Err(exdev()),
                    Component::CurDir => {}
                    Component::ParentDir => comps.push(b"..".to_vec()),
                    Component::Normal(n) => comps.push(n.as_bytes().to_vec()),
                }
            }
            if front {
                for c in comps.into_iter().rev() {
                    pending.push_front(c);
                }
            } else {
                pending.extend(comps);
            }
            Ok(())
        };
        push_path(&mut pending, rel, false)?;
        let mut stack: Vec<DirFd> = Vec::new();
        let mut links = 0;
        while let Some(comp) = pending.pop_front() {
            if comp == b".." {
                stack.pop().ok_or_else(exdev)?;
                continue;
            }
            let cur = stack.last().unwrap_or(self);
            let name = OsStr::from_bytes(&comp);
            let st = cur.lstat(name)?.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
            if st.mode & libc::S_IFMT == libc::S_IFLNK {
                links += 1;
                if links > 40 {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = cur.read_link(name)?;
                push_path(&mut pending, Path::new(OsStr::from_bytes(&target)), true)?;
                continue;
            }
            let n = cstr(&comp)?;
            // SAFETY: valid dirfd and NUL-terminated name; the result is checked and owned.
            let fd = unsafe {
                libc::openat(
                    cur.raw(),
                    n.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: fd is a fresh descriptor we own.
            stack.push(DirFd(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        match stack.pop() {
            Some(d) => Ok(d),
            None => {
                let dot = cstr(b".")?;
                // SAFETY: reopen of this directory; the result is checked and owned.
                let fd = unsafe {
                    libc::openat(self.raw(), dot.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
                };
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: fd is a fresh descriptor we own.
                Ok(DirFd(unsafe { OwnedFd::from_raw_fd(fd) }))
            }
        }
    }

    /// The target of the symlink `name` in this directory.
    pub(crate) fn read_link(&self, name: &OsStr) -> io::Result<Vec<u8>> {
        let n = cstr(name.as_bytes())?;
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: valid dirfd, NUL-terminated name, and a buffer of the length passed.
        let len = unsafe { libc::readlinkat(self.raw(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(len as usize);
        Ok(buf)
    }

    /// `lstat` of the entry `name` in this directory; `Ok(None)` when it does not exist.
    pub(crate) fn lstat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        let n = cstr(name.as_bytes())?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: valid dirfd and name; st is written by the kernel on success.
        let rc = unsafe { libc::fstatat(self.raw(), n.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::ENOENT) { Ok(None) } else { Err(e) };
        }
        // SAFETY: fstatat succeeded, so st is initialised.
        let st = unsafe { st.assume_init() };
        Ok(Some(Stat { mode: st.st_mode, ino: st.st_ino, dev: st.st_dev, size: st.st_size as u64, nlink: st.st_nlink }))
    }

    /// Create directory `name` with `mode` (subject to the umask).
    pub(crate) fn mkdir(&self, name: &OsStr, mode: u32) -> io::Result<()> {
        let n = cstr(name.as_bytes())?;
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::mkdirat(self.raw(), n.as_ptr(), mode as libc::mode_t) })
    }

    /// Create a device node or fifo: `mode` includes the file type bits (`S_IFCHR`, …).
    pub(crate) fn mknod(&self, name: &OsStr, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        let n = cstr(name.as_bytes())?;
        let dev = libc::makedev(major, minor);
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::mknodat(self.raw(), n.as_ptr(), mode as libc::mode_t, dev) })
    }

    /// Create symlink `name` pointing at `target` (stored verbatim).
    pub(crate) fn symlink(&self, target: &[u8], name: &OsStr) -> io::Result<()> {
        let t = cstr(target)?;
        let n = cstr(name.as_bytes())?;
        // SAFETY: valid strings and dirfd.
        check(unsafe { libc::symlinkat(t.as_ptr(), self.raw(), n.as_ptr()) })
    }

    /// Hard-link `src_dir/src_name` (not following a final symlink) as `name` here.
    pub(crate) fn link_from(&self, src_dir: &DirFd, src_name: &OsStr, name: &OsStr) -> io::Result<()> {
        let s = cstr(src_name.as_bytes())?;
        let n = cstr(name.as_bytes())?;
        // SAFETY: valid dirfds and NUL-terminated names.
        check(unsafe { libc::linkat(src_dir.raw(), s.as_ptr(), self.raw(), n.as_ptr(), 0) })
    }

    /// Create a new regular file `name` for writing (fails if it exists; never follows symlinks).
    pub(crate) fn create_file(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let n = cstr(name.as_bytes())?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: valid dirfd and NUL-terminated name; the descriptor is checked and owned.
        let fd = unsafe { libc::openat(self.raw(), n.as_ptr(), flags, mode as libc::c_uint) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Remove the entry `name` (a directory when `dir`; it must then be empty).
    pub(crate) fn unlink(&self, name: &OsStr, dir: bool) -> io::Result<()> {
        let n = cstr(name.as_bytes())?;
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::unlinkat(self.raw(), n.as_ptr(), flags) })
    }

    /// Remove the entry `name` whatever it is; directories are removed recursively
    /// without following any symlink inside them.
    pub(crate) fn remove_all(&self, name: &OsStr) -> io::Result<()> {
        match self.lstat(name)? {
            None => Ok(()),
            Some(st) if st.is_dir() => {
                // std's remove_dir_all never follows symlinks below the top; the top is
                // reached through our own descriptor, so nothing outside can be touched.
                std::fs::remove_dir_all(self.proc_path(name))
            }
            Some(_) => self.unlink(name, false),
        }
    }

    /// Change the owner of `name` without following a symlink.
    pub(crate) fn chown(&self, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
        let n = cstr(name.as_bytes())?;
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::fchownat(self.raw(), n.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
    }

    /// Change the permission bits (incl. setuid/setgid/sticky) of `name`; not for symlinks.
    pub(crate) fn chmod(&self, name: &OsStr, mode: u32) -> io::Result<()> {
        let n = cstr(name.as_bytes())?;
        // SAFETY: valid dirfd and NUL-terminated name.
        check(unsafe { libc::fchmodat(self.raw(), n.as_ptr(), mode as libc::mode_t, 0) })
    }

    /// Set access and modification times of `name` (seconds, nanoseconds) without following symlinks.
    pub(crate) fn set_times(&self, name: &OsStr, atime: (i64, u32), mtime: (i64, u32)) -> io::Result<()> {
        let n = cstr(name.as_bytes())?;
        let ts = [
            libc::timespec { tv_sec: atime.0 as libc::time_t, tv_nsec: atime.1 as libc::c_long },
            libc::timespec { tv_sec: mtime.0 as libc::time_t, tv_nsec: mtime.1 as libc::c_long },
        ];
        // SAFETY: valid dirfd, name and a two-element timespec array.
        check(unsafe { libc::utimensat(self.raw(), n.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
    }

    /// Set extended attribute `key` on `name` (the link itself for symlinks).
    pub(crate) fn set_xattr(&self, name: &OsStr, key: &[u8], value: &[u8]) -> io::Result<()> {
        let p = cstr(self.proc_path(name).as_os_str().as_bytes())?;
        let k = cstr(key)?;
        // SAFETY: valid NUL-terminated strings; value pointer and length describe a live slice.
        check(unsafe { libc::lsetxattr(p.as_ptr(), k.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
    }

    /// Flush the whole filesystem holding this directory (one call instead of an fsync per file).
    pub(crate) fn syncfs(&self) -> io::Result<()> {
        // SAFETY: valid descriptor.
        check(unsafe { libc::syncfs(self.raw()) })
    }

    /// `/proc/self/fd/<fd>/<name>`: a path to `name` reached through this descriptor.
    fn proc_path(&self, name: &OsStr) -> std::path::PathBuf {
        Path::new(&format!("/proc/self/fd/{}", self.raw())).join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_beneath_refuses_escapes() {
        check_beneath(|root, p| root.open_beneath(p));
    }

    #[test]
    fn userspace_walk_refuses_escapes_like_openat2() {
        check_beneath(|root, p| root.open_beneath_walk(p));
    }

    fn check_beneath(open: impl Fn(&DirFd, &Path) -> io::Result<DirFd>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../..", dir.path().join("a/up")).unwrap();
        std::os::unix::fs::symlink("../a", dir.path().join("a/inside")).unwrap();
        let root = DirFd::open(dir.path()).unwrap();
        assert!(open(&root, Path::new("a")).is_ok());
        assert!(open(&root, Path::new("a/inside")).is_ok());
        assert!(open(&root, Path::new("a/../a/./inside")).is_ok());
        assert!(open(&root, Path::new("")).is_ok());
        for bad in ["abs", "a/up", "..", "/etc", "a/../.."] {
            let e = open(&root, Path::new(bad)).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EXDEV), "{bad}: {e}");
        }
    }
}
