//! Network namespaces owned by the engine, pinned by a bind mount on a file
//! (e.g. `<state>/netns/<container id>`), so they outlive every process inside them.

use std::path::Path;

use crate::error::{Error, Result};
use crate::sys;

/// `statfs` magic of nsfs (namespace files).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Creates a new network namespace pinned at `path` (the parent directory is created), with
/// its loopback interface up (the kernel then gives it 127.0.0.1/8 and ::1, as the CNI
/// `loopback` plugin would, without running it). Fails with `AlreadyExists` when `path`
/// exists. Nothing is left behind on failure.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        sys::fs::ensure_dir(dir, 0o755)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, "create netns file", e))?;
    let target = path.to_path_buf();
    // unshare(CLONE_NEWNET) only moves the calling thread, so a short-lived thread does it and
    // pins its namespace; the calling thread never changes namespace.
    let res = std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::from(e).context("unshare(CLONE_NEWNET)"))?;
        sys::netif::set_up("lo").map_err(|e| Error::from(e).context("bring up lo"))?;
        sys::mount::bind(Path::new("/proc/thread-self/ns/net"), &target, false)
    })
    .join()
    .unwrap_or_else(|_| Err(Error::internal("netns creation thread panicked")));
    if let Err(e) = res {
        let _ = std::fs::remove_file(path);
        return Err(e.context(format!("create network namespace {}", path.display())));
    }
    Ok(())
}

/// Unmounts and removes the namespace file at `path`. Missing or already unmounted is fine.
pub fn remove(path: &Path) -> Result<()> {
    // Several mounts may be stacked on the path; unmount until none is left.
    for _ in 0..8 {
        if !is_netns(path) {
            break;
        }
        sys::mount::unmount(path, true)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove netns file", e)),
    }
}

/// True when `path` is a namespace file (a pinned namespace), false when missing or a plain file.
pub fn is_netns(path: &Path) -> bool {
    match nix::sys::statfs::statfs(path) {
        // The field's integer type differs between architectures.
        #[allow(clippy::unnecessary_cast)]
        Ok(s) => s.filesystem_type().0 as i64 == NSFS_MAGIC,
        Err(_) => false,
    }
}

/// A TCP connection to `addr` made inside the network namespace pinned at `path`: a
/// short-lived thread enters the namespace (setns moves only the calling thread) and
/// connects; the socket stays in that namespace for its whole life.
pub fn connect_tcp(
    path: &Path,
    addr: std::net::SocketAddr,
    timeout: std::time::Duration,
) -> Result<std::net::TcpStream> {
    let ns = std::fs::File::open(path).map_err(|e| Error::io(path, "open network namespace", e))?;
    std::thread::spawn(move || -> Result<std::net::TcpStream> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::from(e).context("setns(CLONE_NEWNET)"))?;
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(Error::from)
    })
    .join()
    .unwrap_or_else(|_| Err(Error::internal("netns connect thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn create_and_remove() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("netns/c1");
        // Unpins the namespace even when an assertion below fails (dropped before `d`).
        struct Unpin<'a>(&'a Path);
        impl Drop for Unpin<'_> {
            fn drop(&mut self) {
                let _ = remove(self.0);
            }
        }
        let _unpin = Unpin(&p);
        create(&p).unwrap();
        assert!(is_netns(&p));
        let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(format!("net:[{}]", meta.ino()), mine.to_string_lossy(), "a new namespace, not ours");
        // lo is up, with the loopback address: a TCP connection to 127.0.0.1 works inside.
        let ns = std::fs::File::open(&p).unwrap();
        let served = std::thread::spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            // With lo down, binding 127.0.0.1 works but connecting fails (ENETUNREACH).
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            std::net::TcpStream::connect(l.local_addr().unwrap()).map(drop)
        })
        .join()
        .unwrap();
        assert!(served.is_ok(), "127.0.0.1 answers in the new namespace: {served:?}");
        assert_eq!(create(&p).unwrap_err().kind(), crate::ErrorKind::AlreadyExists);
        remove(&p).unwrap();
        assert!(!p.exists() && !is_netns(&p));
        remove(&p).unwrap();
    }
}
