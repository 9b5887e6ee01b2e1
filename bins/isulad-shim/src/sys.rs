//! The shim's few unsafe system calls, kept in one place (as isula-core keeps them in `sys/`).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A close-on-exec duplicate of the readiness fd (a standard descriptor the shim later points
/// at /dev/null), if the engine passed one; the runtime and the container never inherit it.
pub(crate) fn take_ready_fd(fd: RawFd) -> Option<File> {
    // SAFETY: F_DUPFD_CLOEXEC only adds a descriptor; it fails when `fd` is not open.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return None;
    }
    // SAFETY: `dup` is a new descriptor that nothing else in this process owns.
    Some(unsafe { File::from_raw_fd(dup) })
}

/// Fork; in the parent exit at once (the engine reaps it), the child continues.
pub(crate) fn daemonize() -> io::Result<()> {
    // SAFETY: the shim is single-threaded at this point; the child only continues
    // running ordinary Rust code of this single thread.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(()),
        // SAFETY: _exit is async-signal-safe and skips destructors shared with the child.
        _ => unsafe { libc::_exit(0) },
    }
}

/// poll(2) over `fds`; `timeout_ms` < 0 waits forever. EINTR counts as zero events.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: the pointer and length describe a valid, exclusively borrowed slice.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// Set the window size of a pty (TIOCSWINSZ).
pub(crate) fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make `cmd`'s child start with an empty signal mask.
///
/// The shim blocks the signals it reads through its signalfd; a child inherits that mask
/// across fork and exec, and OCI runtimes pass it on to the container's init (runc's Go
/// runtime unblocks the signals it handles itself but leaves SIGUSR1/SIGUSR2 blocked), so
/// without this reset `kill -USR1` never reaches a process in the container.
pub(crate) fn clear_signal_mask_on_exec(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls sigemptyset and
    // pthread_sigmask, which are async-signal-safe, on a sigset_t living on its stack.
    unsafe {
        cmd.pre_exec(|| {
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            let rc = libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(())
        });
    }
}

/// A pidfd for `pid` (pidfd_open(2), Linux 5.3+): readable once the process has exited.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor (close-on-exec); nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
