//! Advisory whole-file locks (flock) that release when dropped.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An exclusive flock held on a file until dropped.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    fn open(path: &Path) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, "open lock file", e))
    }

    /// Whether `path` still names the file `file` is open on. A holder may remove the lock
    /// file ([`remove`](Self::remove)); who locked the removed file must open it again.
    fn is_current(file: &File, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }

    /// Take the lock without waiting; `Ok(None)` when another holder has it.
    pub(crate) fn try_lock(path: &Path) -> Result<Option<Self>> {
        loop {
            let file = Self::open(path)?;
            // SAFETY: flock on a valid, owned descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                if !Self::is_current(&file, path) {
                    continue;
                }
                return Ok(Some(FileLock { file, path: path.to_path_buf() }));
            }
            let err = std::io::Error::last_os_error();
            return if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Ok(None)
            } else {
                Err(Error::io(path, "lock", err))
            };
        }
    }

    /// Take the lock, waiting for other holders.
    pub(crate) fn lock(path: &Path) -> Result<Self> {
        let mut file = Self::open(path)?;
        loop {
            // SAFETY: flock on a valid, owned descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                if Self::is_current(&file, path) {
                    return Ok(FileLock { file, path: path.to_path_buf() });
                }
                // The previous holder removed the file: lock the one at the path now.
                file = Self::open(path)?;
                continue;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::io(path, "lock", err));
            }
        }
    }

    /// Remove the lock file, then unlock: waiters notice and lock a new file at the path.
    pub(crate) fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for FileLock {
    /// Unlock explicitly rather than by closing: a child forked by another thread between
    /// `fork` and `exec` holds a copy of the descriptor (close-on-exec closes it only at
    /// `exec`), and a plain close would leave the lock held by that copy for a moment.
    fn drop(&mut self) {
        // SAFETY: flock on a valid, owned descriptor.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_lock_file_is_not_locked_twice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let a = FileLock::lock(&p).unwrap();
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || FileLock::lock(&p2).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(50));
        a.remove();
        let b = waiter.join().unwrap();
        // The waiter holds the new file at the path: nobody else can take it.
        assert!(p.exists());
        assert!(FileLock::try_lock(&p).unwrap().is_none());
        b.remove();
        assert!(!p.exists());
    }

    #[test]
    fn second_try_lock_fails_until_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let a = FileLock::try_lock(&p).unwrap().expect("first lock");
        assert!(FileLock::try_lock(&p).unwrap().is_none());
        drop(a);
        assert!(FileLock::try_lock(&p).unwrap().is_some());
    }
}
