//! Process helpers: liveness from /proc, pidfds.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// State letter (`R`, `S`, `Z`, …) and start time (field 22) of `/proc/<pid>/stat`;
/// `None` when there is no such process.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` is a live (not zombie, not dead) process; when `start_time` is
/// non-zero the process must also have that start time (guards against pid reuse).
pub(crate) fn is_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((state, start)) => state != 'Z' && state != 'X' && (start_time == 0 || start == start_time),
        None => false,
    }
}

/// Parent pid of `pid` (field 4 of `/proc/<pid>/stat`); `None` when there is no such process.
pub(crate) fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `root` and all its descendants now alive, from one scan of `/proc`.
fn process_tree(root: i32) -> Vec<i32> {
    let mut parent = std::collections::HashMap::<i32, Vec<i32>>::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for ent in rd.flatten() {
            let Some(pid) = ent.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            if let Some(pp) = parent_pid(pid) {
                parent.entry(pp).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = parent.get(&out[i]) {
            out.extend(kids.iter().copied().filter(|k| *k != root));
        }
        i += 1;
    }
    out
}

/// SIGKILL `root` and every process descended from it. The tree is stopped first (SIGSTOP,
/// rescanning until no new descendant shows up), so no process forks or is re-parented
/// away between the scan and the kill.
pub(crate) fn kill_tree(root: i32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let mut stopped: Vec<i32> = Vec::new();
    for _ in 0..100 {
        let new: Vec<i32> = process_tree(root).into_iter().filter(|p| !stopped.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            let _ = kill(Pid::from_raw(p), Signal::SIGSTOP);
            stopped.push(p);
        }
    }
    for p in stopped {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// A pidfd: a handle on a process that becomes readable when the process exits.
///
/// Where the kernel lacks `pidfd_open` (before 5.3, or under valgrind) it is emulated:
/// a pipe whose read end becomes readable when a small watcher thread sees the process
/// die in `/proc` (polled every 20 ms). Callers see the same descriptor semantics.
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: OwnedFd,
    stop_watcher: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl std::os::fd::AsFd for PidFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for PidFd {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop_watcher {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl PidFd {
    /// `pidfd_open(pid)`; `Ok(None)` when the process no longer exists.
    pub(crate) fn open(pid: i32) -> io::Result<Option<PidFd>> {
        // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ESRCH) => return Ok(None),
                Some(libc::ENOSYS) => return Self::emulated(pid),
                _ => return Err(e),
            }
        }
        // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
        Ok(Some(PidFd { fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) }, stop_watcher: None }))
    }

    /// The pipe-and-watcher stand-in for kernels without `pidfd_open`.
    fn emulated(pid: i32) -> io::Result<Option<PidFd>> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let Some((_, start)) = proc_stat(pid) else { return Ok(None) };
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills two descriptors into the array on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned by us from here on.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        std::thread::Builder::new().name(format!("pidwatch-{pid}")).spawn(move || {
            // The PidFd (the read end) may be dropped before the exit: EPIPE, not SIGPIPE.
            block_sigpipe_in_this_thread();
            while !stop2.load(Ordering::Relaxed) {
                if !is_alive(pid, start) {
                    let mut f = std::fs::File::from(write);
                    let _ = std::io::Write::write_all(&mut f, b"x");
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })?;
        Ok(Some(PidFd { fd: read, stop_watcher: Some(stop) }))
    }

    /// Wait until the process exits or `timeout` passes (`None` = forever). True when it exited.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    left.as_millis().min(i32::MAX as u128) as i32
                }
            };
            let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(n > 0);
        }
    }
}

/// Write all of `data` to a connected socket with `MSG_NOSIGNAL`: when the peer is gone the
/// write fails with `EPIPE` instead of raising SIGPIPE, which would kill a host program (a C
/// application embedding the library) that keeps SIGPIPE's default action.
pub(crate) fn send_all_nosignal(sock: &impl AsRawFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: the pointer and length come from a live slice; the descriptor is borrowed.
        let n = unsafe { libc::send(sock.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Block SIGPIPE in the calling thread (for threads that write to pipes whose reader may be
/// gone: the write fails with `EPIPE`, and the signal stays pending on the thread until it ends).
pub(crate) fn block_sigpipe_in_this_thread() {
    // SAFETY: plain libc calls on a local, initialised signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn liveness_and_pidfd() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).unwrap();
        assert_ne!(state, 'Z');
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
        let mut child = Command::new("/bin/sleep").arg("0.2").spawn().unwrap();
        let pid = child.id() as i32;
        let fd = PidFd::open(pid).unwrap().unwrap();
        assert!(!fd.wait(Some(Duration::from_millis(10))).unwrap());
        assert!(fd.wait(Some(Duration::from_secs(5))).unwrap());
        assert!(!is_alive(pid, 0), "an exited, unreaped child is a zombie, not alive");
        child.wait().unwrap();
    }

    #[test]
    fn kill_tree_kills_grandchildren() {
        let mut child = Command::new("/bin/sh").args(["-c", "sleep 1000 & sleep 1000 & wait"]).spawn().unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while process_tree(pid).len() < 3 {
            assert!(std::time::Instant::now() < deadline, "the shell did not start its children");
            std::thread::sleep(Duration::from_millis(10));
        }
        let tree = process_tree(pid);
        assert_eq!(parent_pid(tree[1]), Some(pid));
        kill_tree(pid);
        child.wait().unwrap();
        // The orphans (re-parented to init, which reaps them) were killed too.
        for p in &tree[1..] {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while is_alive(*p, 0) {
                assert!(std::time::Instant::now() < deadline, "descendant {p} survived");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    #[test]
    fn emulated_pidfd_signals_exit() {
        let mut child = Command::new("/bin/sleep").arg("0.2").spawn().unwrap();
        let pid = child.id() as i32;
        let fd = PidFd::emulated(pid).unwrap().unwrap();
        assert!(!fd.wait(Some(Duration::from_millis(10))).unwrap());
        assert!(fd.wait(Some(Duration::from_secs(5))).unwrap());
        child.wait().unwrap();
        assert!(PidFd::emulated(pid).unwrap().is_none() || !is_alive(pid, 0));
    }
}
