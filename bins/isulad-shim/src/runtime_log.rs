//! The OCI runtime's JSON log (`--log`, `--log-format json`) as a pipe instead of a file in
//! the state dir: the runtime opens `/proc/self/fd/N` (its inherited write end), the shim
//! reads it while it waits for the runtime and keeps the last bytes for error messages.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::OFlag;

use crate::sys;

/// The runtime log pipe: a non-blocking, close-on-exec read end for the shim and a write end
/// the runtime inherits.
pub(crate) fn pipe() -> Result<(File, OwnedFd), String> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let (r, w) = crate::pipe()?;
    // The runtime inherits the write end, blocking (it must not lose log lines); the shim
    // reads without blocking.
    fcntl(r.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| format!("pipe: {e}"))?;
    fcntl(w.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty())).map_err(|e| format!("pipe: {e}"))?;
    Ok((r, OwnedFd::from(w)))
}

/// Most of the runtime log kept (its last bytes: the errors come last).
const KEEP: usize = 64 * 1024;

/// Append what the runtime log pipe holds now to `out` (keeping its last
/// [`KEEP`] bytes); false once every writer has closed it.
pub(crate) fn read_available(log: &File, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        match (&mut &*log).read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > KEEP {
                    out.drain(..out.len() - KEEP);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true, // WouldBlock: all read for now
        }
    }
}

/// Wait for the runtime to exit, reading its log meanwhile, so that a runtime that logs more
/// than a pipe holds never blocks. The log's write end may outlive the runtime (its init
/// process holds it until the container starts): the pipe is never read to its end.
pub(crate) fn wait_reading(
    child: &mut std::process::Child,
    log: &File,
    out: &mut Vec<u8>,
) -> io::Result<std::process::ExitStatus> {
    let pidfd = sys::pidfd_open(child.id());
    let mut log_open = true;
    loop {
        if let Some(status) = child.try_wait()? {
            read_available(log, out);
            return Ok(status);
        }
        let mut fds = Vec::with_capacity(2);
        if let Ok(p) = &pidfd {
            fds.push(libc::pollfd { fd: p.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        if log_open {
            fds.push(libc::pollfd { fd: log.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        // Without a pidfd (a kernel before 5.3), look at the runtime every 5 ms.
        sys::poll(&mut fds, if pidfd.is_ok() { -1 } else { 5 })?;
        if log_open {
            log_open = read_available(log, out);
        }
    }
}

/// The error messages of the runtime's JSON log (`{"level":"error","msg":...}` lines).
pub(crate) fn errors(log: &[u8]) -> String {
    let text = String::from_utf8_lossy(log);
    let mut msgs = Vec::new();
    for line in text.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                let level = v.get("level").and_then(|l| l.as_str()).unwrap_or("");
                if level == "error" || level == "fatal" {
                    if let Some(m) = v.get("msg").and_then(|m| m.as_str()) {
                        msgs.push(m.to_string());
                    }
                }
            }
            Err(_) if !line.trim().is_empty() => msgs.push(line.trim().to_string()),
            Err(_) => {}
        }
    }
    msgs.dedup();
    msgs.join("; ")
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Run `sh -c SCRIPT` with `$LOG` naming the pipe as a runtime's `--log` would.
    fn run_logging(script: &str) -> (std::process::ExitStatus, Vec<u8>) {
        let (r, w) = pipe().unwrap();
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .env("LOG", format!("/proc/self/fd/{}", w.as_raw_fd()))
            .spawn()
            .unwrap();
        drop(w);
        let mut out = Vec::new();
        let status = wait_reading(&mut child, &r, &mut out).unwrap();
        (status, out)
    }

    #[test]
    fn errors_come_from_the_json_lines_through_the_pipe() {
        let (status, out) = run_logging(
            r#"echo '{"level":"warning","msg":"w"}' >"$LOG"; echo '{"level":"error","msg":"boom"}' >>"$LOG"; exit 3"#,
        );
        assert_eq!(status.code(), Some(3));
        assert_eq!(errors(&out), "boom");
    }

    #[test]
    fn a_log_larger_than_the_pipe_neither_blocks_nor_grows_past_the_kept_tail() {
        // 300 KiB of lines (a pipe holds 64 KiB), then the error last.
        let (status, out) = run_logging(
            r#"i=0; while [ $i -lt 3000 ]; do printf '{"level":"debug","msg":"%095d"}\n' $i; i=$((i+1)); done >"$LOG"
               echo '{"level":"error","msg":"last"}' >>"$LOG""#,
        );
        assert!(status.success());
        assert!(out.len() <= KEEP && out.len() > KEEP - 200, "{}", out.len());
        assert!(String::from_utf8_lossy(&out).ends_with("{\"level\":\"error\",\"msg\":\"last\"}\n"));
    }

    #[test]
    fn a_writer_that_outlives_the_runtime_does_not_hold_the_wait() {
        // The runtime's init keeps the write end until the container starts: the background
        // sleep holds it here, and the wait still ends with the runtime.
        let t0 = std::time::Instant::now();
        let (status, out) = run_logging(r#"sleep 2 >"$LOG" & echo '{"level":"error","msg":"x"}' >"$LOG""#);
        assert!(status.success());
        assert_eq!(errors(&out), "x");
        assert!(t0.elapsed() < std::time::Duration::from_millis(1500), "{:?}", t0.elapsed());
    }

    #[test]
    fn plain_text_lines_count_as_errors() {
        assert_eq!(errors(b"not json\n\n{\"level\":\"info\",\"msg\":\"i\"}\n"), "not json");
    }
}
