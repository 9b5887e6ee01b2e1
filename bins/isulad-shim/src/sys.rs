//! The shim's few unsafe system calls, kept in one place (as isula-core keeps them in `sys/`).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

/// Take ownership of the readiness fd if the engine passed one.
pub fn take_ready_fd(fd: RawFd) -> Option<File> {
    // SAFETY: F_GETFD only queries the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // Not to be inherited by the runtime and the container.
    // SAFETY: F_SETFD only changes the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the fd is open and nothing else in this process owns it (inherited at exec).
    Some(unsafe { File::from_raw_fd(fd) })
}

/// Fork; in the parent exit at once (the engine reaps it), the child continues.
pub fn daemonize() -> io::Result<()> {
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
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
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
pub fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
