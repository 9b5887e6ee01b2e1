//! The engine ↔ `isulad-shim` protocol types: configuration, state and exit files,
//! readiness messages and the attach-socket framing.
//!
//! Both sides link this crate (the shim does not link isula-core, keeping it small). The
//! protocol itself is described in isula-core's `runtime::shim` module.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// File (in the shim state dir) holding the [`ShimConfig`] the shim starts from.
pub const CONFIG_FILE: &str = "shim.json";
/// File written atomically by the shim once the process exists: [`ShimState`].
pub const STATE_FILE: &str = "state.json";
/// File written atomically by the shim when the process has exited: [`ExitStatus`].
pub const EXIT_FILE: &str = "exit.json";
/// Unix socket (in the state dir) where attach clients connect.
pub const ATTACH_SOCKET: &str = "attach.sock";
/// Unix socket (in the state dir) the runtime sends the pty master to (`--console-socket`).
pub const CONSOLE_SOCKET: &str = "console.sock";
/// Pid file written by the runtime (`--pid-file`).
pub const PID_FILE: &str = "init.pid";
/// The shim's own diagnostics, made by the first line written.
pub const SHIM_LOG: &str = "shim.log";
/// The file descriptor on which the shim receives the pipe for its readiness messages: its
/// stdout. (A standard descriptor lets the engine spawn the shim with `posix_spawn`, without
/// a fork of the engine's whole address space.)
pub const READY_FD: i32 = 1;

/// How to invoke the OCI runtime CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeCommand {
    /// Path of the runtime binary (runc, crun, …).
    pub binary: PathBuf,
    /// Global arguments placed before the sub-command.
    #[serde(default)]
    pub args: Vec<String>,
    /// The runtime's state root (`--root`).
    pub root: PathBuf,
}

/// The format of a container log file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Docker's json-file, rotated by the shim ([`crate::jsonfile`]).
    #[default]
    JsonFile,
    /// The CRI text format, never rotated by the shim; reopened on request ([`crate::crifile`]).
    Cri,
    /// No file: each line goes to syslog ([`crate::syslog`]); `path` is unused.
    Syslog(crate::syslog::SyslogConfig),
}

/// Log driver settings for the shim. `None` in [`ShimConfig::log`] means driver `none`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimLogConfig {
    /// The log path (json-file: rotated files get `.1`, `.2`, … appended).
    pub path: PathBuf,
    /// Rotate when the file would grow beyond this many bytes; 0 = never rotate (json-file).
    pub max_size: u64,
    /// Number of files kept, the live one included (at least 1; json-file).
    pub max_file: u32,
    /// The file format.
    #[serde(default)]
    pub format: LogFormat,
}

/// An exec: run an extra process inside a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimExec {
    /// Path of the OCI `process` JSON (`runtime exec --process`).
    pub process: PathBuf,
}

/// Everything a shim needs; written as [`CONFIG_FILE`] in the state dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimConfig {
    /// Container id as known to the runtime.
    pub id: String,
    /// OCI bundle directory (holds `config.json`).
    pub bundle: PathBuf,
    /// The runtime to call.
    pub runtime: RuntimeCommand,
    /// This shim's state directory (absolute).
    pub state_dir: PathBuf,
    /// Log driver json-file settings; `None` = driver `none`.
    #[serde(default)]
    pub log: Option<ShimLogConfig>,
    /// Give the process a pty (`process.terminal` must agree in the spec).
    #[serde(default)]
    pub terminal: bool,
    /// Keep the process' stdin open for attach clients (else it is /dev/null).
    #[serde(default)]
    pub open_stdin: bool,
    /// Wait for one attach client before creating the process, so it sees all output.
    #[serde(default)]
    pub wait_attach: bool,
    /// With `wait_attach`: that first client is already connected, as the shim's stdin (one end
    /// of a unix socketpair the engine made), so the shim neither reports `listening` nor waits
    /// for a connection on `attach.sock` (one engine/shim round trip less before the process
    /// starts). Later clients still connect to `attach.sock`.
    #[serde(default)]
    pub attach_stdin: bool,
    /// Present when this shim runs an exec process instead of the container's init.
    #[serde(default)]
    pub exec: Option<ShimExec>,
    /// Start the container's init at once (`runtime run --detach`) instead of only creating
    /// it (`runtime create`): one runtime call for `run`.
    #[serde(default)]
    pub start: bool,
}

/// Written by the shim to [`STATE_FILE`] once the process exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimState {
    /// Pid of the shim.
    pub shim_pid: i32,
    /// Start time of the shim (field 22 of /proc/PID/stat), guards against pid reuse.
    pub shim_start_time: u64,
    /// Pid of the container's init (or of the exec process), in the host pid namespace.
    pub pid: i32,
}

/// How the process ended; written by the shim to [`EXIT_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code; 128 + signal number when killed by a signal.
    pub code: i32,
    /// The signal that killed the process, if any.
    #[serde(default)]
    pub signal: Option<i32>,
    /// When the shim saw the exit (RFC 3339, nanoseconds, UTC).
    pub finished_at: String,
    /// Whether the kernel OOM killer killed a process of the container's memory cgroup.
    #[serde(default)]
    pub oom_killed: bool,
}

/// One line (JSON + `\n`) the shim writes on its readiness fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReadyMessage {
    /// (`wait_attach` only) the attach socket is bound; connect now.
    Listening,
    /// The process exists: created (container) or running (exec).
    Created {
        /// Shim pid.
        shim_pid: i32,
        /// Process pid.
        pid: i32,
    },
    /// The shim failed; the message carries the runtime's own error text.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// Attach framing: `[kind: u8][len: u32 big-endian][payload]`.
pub mod frame {
    /// Client → shim: bytes for the process' stdin.
    pub const STDIN: u8 = 0;
    /// Shim → client: bytes the process wrote to stdout (or to its pty).
    pub const STDOUT: u8 = 1;
    /// Shim → client: bytes the process wrote to stderr.
    pub const STDERR: u8 = 2;
    /// Client → shim: terminal size, payload `rows: u16 BE, cols: u16 BE`.
    pub const RESIZE: u8 = 3;
    /// Client → shim: close the process' stdin (EOF); empty payload.
    pub const CLOSE_STDIN: u8 = 4;
    /// Shim → client: the process exited; payload is the `ExitStatus` JSON. Last frame.
    pub const EXIT: u8 = 5;
    /// Client → shim: close the log file and open its path again (a CRI log that was
    /// renamed); empty payload. The shim answers with [`LOG_REOPENED`].
    pub const REOPEN_LOG: u8 = 6;
    /// Shim → client: answer to [`REOPEN_LOG`]; empty payload on success, else the error text.
    pub const LOG_REOPENED: u8 = 7;
    /// Size of the frame header.
    pub const HEADER: usize = 5;
    /// Largest accepted payload.
    pub const MAX_PAYLOAD: usize = 1 << 20;

    /// Encode one frame.
    pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + payload.len());
        v.push(kind);
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// Incremental decoder: feed bytes with [`Decoder::push`], take frames with [`Decoder::next_frame`].
    #[derive(Debug, Default)]
    pub struct Decoder {
        buf: Vec<u8>,
    }

    impl Decoder {
        /// Append received bytes.
        pub fn push(&mut self, data: &[u8]) {
            self.buf.extend_from_slice(data);
        }

        /// The next complete frame, `Ok(None)` when more bytes are needed, `Err` on a
        /// payload larger than [`MAX_PAYLOAD`] (a broken peer).
        pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
            if self.buf.len() < HEADER {
                return Ok(None);
            }
            let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
            if len > MAX_PAYLOAD {
                return Err(format!("attach frame of {len} bytes exceeds the limit"));
            }
            if self.buf.len() < HEADER + len {
                return Ok(None);
            }
            let kind = self.buf[0];
            let payload = self.buf[HEADER..HEADER + len].to_vec();
            self.buf.drain(..HEADER + len);
            Ok(Some((kind, payload)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut bytes = frame::encode(frame::STDOUT, b"hello");
        bytes.extend(frame::encode(frame::RESIZE, &[0, 24, 0, 80]));
        let mut d = frame::Decoder::default();
        let mut out = Vec::new();
        for b in bytes {
            d.push(&[b]);
            while let Some(f) = d.next_frame().unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out, vec![(frame::STDOUT, b"hello".to_vec()), (frame::RESIZE, vec![0, 24, 0, 80])]);
    }

    #[test]
    fn oversized_frame_is_rejected() {
        let mut d = frame::Decoder::default();
        d.push(&[frame::STDIN, 0xff, 0xff, 0xff, 0xff]);
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn ready_message_json_shape() {
        let m = ReadyMessage::Created { shim_pid: 10, pid: 11 };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"status":"created","shim_pid":10,"pid":11}"#);
        let e: ReadyMessage = serde_json::from_str(r#"{"status":"error","message":"x"}"#).unwrap();
        assert_eq!(e, ReadyMessage::Error { message: "x".into() });
    }
}
