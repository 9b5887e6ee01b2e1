//! Client side of a shim's attach socket (framing in [`super::proto::frame`]).

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::proto::{frame, ExitStatus, ATTACH_SOCKET};
use crate::error::{Error, Result};

/// What an attach client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEvent {
    /// Bytes from stdout (or the pty).
    Stdout(Vec<u8>),
    /// Bytes from stderr.
    Stderr(Vec<u8>),
    /// The process exited; no more events follow.
    Exit(ExitStatus),
}

/// A connection to a shim's attach socket. Clone it with [`try_clone`](Self::try_clone)
/// to read and write from different threads.
#[derive(Debug)]
pub struct AttachStream {
    stream: UnixStream,
    dec: frame::Decoder,
}

impl AttachStream {
    /// Connect to `<state_dir>/attach.sock`; `FailedPrecondition` when no shim listens.
    pub fn connect(state_dir: &Path) -> Result<AttachStream> {
        let stream = super::shim::connect_in(state_dir, ATTACH_SOCKET)?;
        Ok(AttachStream { stream, dec: frame::Decoder::default() })
    }

    /// An attach connection over an already connected socket (the engine's end of the
    /// socketpair whose other end a shim got as its stdin, see `ShimConfig::attach_stdin`).
    pub(crate) fn from_socket(stream: UnixStream) -> AttachStream {
        AttachStream { stream, dec: frame::Decoder::default() }
    }

    /// A stream with no process behind it: reads end at once, writes fail. For a container
    /// created without a process (its command cannot be run): attaching succeeds, as with
    /// Docker, and the start that follows reports the error.
    pub fn closed() -> Result<AttachStream> {
        let (stream, peer) = UnixStream::pair()?;
        drop(peer);
        Ok(AttachStream { stream, dec: frame::Decoder::default() })
    }

    /// A second handle on the same connection (its own decoder).
    pub fn try_clone(&self) -> Result<AttachStream> {
        Ok(AttachStream { stream: self.stream.try_clone()?, dec: frame::Decoder::default() })
    }

    /// The underlying socket (e.g. to set timeouts).
    pub fn socket(&self) -> &UnixStream {
        &self.stream
    }

    fn send(&mut self, kind: u8, payload: &[u8]) -> Result<()> {
        self.send_frame(kind, payload).map_err(write_error)
    }

    fn send_frame(&mut self, kind: u8, payload: &[u8]) -> std::io::Result<()> {
        crate::sys::process::send_all_nosignal(&self.stream, &frame::encode(kind, payload))
    }

    /// Send bytes to the process' stdin (ignored by the shim when stdin is not open).
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<()> {
        for chunk in data.chunks(64 * 1024) {
            self.send(frame::STDIN, chunk)?;
        }
        Ok(())
    }

    /// Close the process' stdin (`^D` on a pty). When the shim has already gone (the
    /// process exited, say on the input just written) its stdin is closed anyway: `Ok`.
    pub fn close_stdin(&mut self) -> Result<()> {
        match self.send_frame(frame::CLOSE_STDIN, &[]) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE) | Some(libc::ECONNRESET)) => Ok(()),
            r => r.map_err(write_error),
        }
    }

    /// Set the pty size.
    pub fn resize(&mut self, rows: u16, cols: u16) -> Result<()> {
        let mut p = [0u8; 4];
        p[..2].copy_from_slice(&rows.to_be_bytes());
        p[2..].copy_from_slice(&cols.to_be_bytes());
        self.send(frame::RESIZE, &p)
    }

    /// Ask the shim to close its (CRI) log file and open the path again; waits at most
    /// `timeout` for the answer. `FailedPrecondition` when the process exits first; the
    /// shim's own error (no log, a json-file log, the path cannot be opened) is `Internal`.
    pub fn reopen_log(&mut self, timeout: std::time::Duration) -> Result<()> {
        self.send(frame::REOPEN_LOG, &[])?;
        self.stream.set_read_timeout(Some(timeout))?;
        let mut buf = [0u8; 32 * 1024];
        loop {
            match self.dec.next_frame().map_err(Error::internal)? {
                Some((frame::LOG_REOPENED, p)) if p.is_empty() => return Ok(()),
                Some((frame::LOG_REOPENED, p)) => {
                    return Err(Error::internal(format!("isulad-shim: {}", String::from_utf8_lossy(&p))))
                }
                Some((frame::EXIT, _)) => return Err(Error::precondition("the process exited")),
                Some(_) => continue, // output produced meanwhile
                None => {}
            }
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return Err(Error::precondition("the shim closed the connection (process exited?)")),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::unavailable(format!("no answer from the shim to a log reopen: {e}"))),
            };
            self.dec.push(&buf[..n]);
        }
    }

    /// Next event; `Ok(None)` when the shim closed the connection without an exit frame.
    pub fn read_event(&mut self) -> Result<Option<AttachEvent>> {
        let mut buf = [0u8; 32 * 1024];
        loop {
            match self.dec.next_frame().map_err(Error::internal)? {
                Some((frame::STDOUT, p)) => return Ok(Some(AttachEvent::Stdout(p))),
                Some((frame::STDERR, p)) => return Ok(Some(AttachEvent::Stderr(p))),
                Some((frame::EXIT, p)) => {
                    let st = serde_json::from_slice(&p)
                        .map_err(|e| Error::internal(format!("bad exit frame from shim: {e}")))?;
                    return Ok(Some(AttachEvent::Exit(st)));
                }
                Some(_) => continue,
                None => {}
            }
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::unavailable(format!("read from attach socket: {e}"))),
            };
            if n == 0 {
                return Ok(None);
            }
            self.dec.push(&buf[..n]);
        }
    }
}

fn write_error(e: std::io::Error) -> Error {
    Error::unavailable(format!("write to attach socket: {e}"))
}
