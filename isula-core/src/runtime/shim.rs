//! Spawning `isulad-shim` and talking to a running one through its state directory.
//!
//! # The shim protocol
//!
//! Every container (and every exec process) has its own shim and its own **state
//! directory** (absolute path, chosen by the engine, e.g. `<state>/shims/<id>` and
//! `<state>/shims/<id>/exec/<exec-id>`). Everything the engine needs to re-attach
//! after it was killed lives there:
//!
//! | file | written by | content |
//! |---|---|---|
//! | `shim.json` | engine, before the spawn | [`ShimConfig`] |
//! | `state.json` | shim, atomically, once the process exists | [`ShimState`]: shim pid + start time, process pid |
//! | `exit.json` | shim, atomically, when the process exited | [`ExitStatus`]: code (128+signal), signal, finished_at |
//! | `attach.sock` | shim (listening while the process lives) | attach clients, framing below |
//! | `init.pid` | the OCI runtime (`--pid-file`) | |
//! | `shim.log` | shim, made by its first line only | diagnostics |
//!
//! The runtime's JSON log (`--log`) is a pipe the shim reads, not a file.
//!
//! **Spawn.** The engine runs `isulad-shim <state-dir>` with stdin and stderr on
//! /dev/null and the write end of a pipe as stdout ([`READY_FD`]). The shim forks at
//! once (the engine reaps the parent, so no zombie stays behind and the real shim is
//! re-parented away from the engine), calls `setsid`, becomes a child subreaper and
//! binds `attach.sock`. With `wait_attach` it first writes `{"status":"listening"}`
//! and waits for one attach client (so an exec's caller sees all its output); with
//! `attach_stdin` as well, that client is already connected: the engine spawns the shim with
//! one end of a unix socketpair as its stdin and keeps the other, so nothing is reported
//! and nobody waits (what [`ShimSpawner::spawn_attached`] does). It then
//! runs `<runtime> create --bundle B --pid-file init.pid [--console-socket console.sock] ID`
//! (or `exec --process P --detach --pid-file …`), writes `state.json` and one line on
//! that pipe: `{"status":"created","shim_pid":…,"pid":…}` or `{"status":"error","message":"runc create failed: <runtime's message>"}`.
//! The engine reads these lines with a timeout; EOF without a line means the shim died
//! (its `shim.log` says why).
//!
//! **Start** is done by the engine (`runtime start ID`) after a plain create. With
//! [`ShimConfig::start`] the shim runs `<runtime> run --detach …` instead of `create`, and the
//! container is running when the ready line arrives (the engine's `run`: one runtime call).
//! An exec starts at once (`exec --detach`).
//!
//! **Exit.** When the process exits the shim drains its output (at most 2 s), writes
//! `exit.json`, sends the exit frame to attach clients and exits. It never runs
//! `runtime delete`: the engine deletes on `rm`, so the runtime's state survives.
//! [`wait_exit`] blocks on a pidfd of the shim (no polling); [`is_shim_alive`] reads
//! `/proc/PID/stat` (a zombie counts as dead) and compares the start time.
//!
//! **Signals.** SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to the shim
//! are forwarded to the process. SIGKILL of the shim leaves the container running
//! without a supervisor (its exit status is then unknown).
//!
//! **Attach framing** (both directions on `attach.sock`): `[kind u8][len u32 BE][payload]`,
//! kinds in [`frame`]: STDIN (client→shim), STDOUT/STDERR (shim→client), RESIZE
//! (client→shim, `rows u16 BE, cols u16 BE`), CLOSE_STDIN (client→shim), EXIT
//! (shim→client, [`ExitStatus`] JSON, last frame), REOPEN_LOG (client→shim: close the CRI
//! log and open its path again, after kubelet renamed it) answered by LOG_REOPENED
//! (shim→client, empty payload or the error text). A client gets the output produced
//! while it is connected; the log (json-file or CRI) has everything.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Reason, Result};
use crate::sys::process::{self as sysproc, PidFd};

pub use super::proto::{
    frame, ExitStatus, ReadyMessage, RuntimeCommand, ShimConfig, ShimExec, ShimLogConfig, ShimState, ATTACH_SOCKET,
    CONFIG_FILE, EXIT_FILE, READY_FD, SHIM_LOG, STATE_FILE,
};

/// How long the engine waits for the shim's readiness line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Name of the shim binary.
pub const SHIM_BINARY: &str = "isulad-shim";

/// Starts shims.
#[derive(Debug, Clone)]
pub struct ShimSpawner {
    shim: PathBuf,
}

/// A running (or finished) shim, found through its state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimHandle {
    /// The shim's state directory.
    pub state_dir: PathBuf,
    /// Pid of the shim.
    pub shim_pid: i32,
    /// Start time of the shim from /proc (pid-reuse guard).
    pub shim_start_time: u64,
    /// Pid of the container init (or exec process) in the host pid namespace.
    pub pid: i32,
}

/// Find the shim binary: `configured` if given (must exist), else beside the current
/// executable, else in `PATH`. A missing binary is `NotFound` naming it.
pub fn locate_shim(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = configured {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return Err(Error::not_found(format!("shim binary {} not found", p.display())));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            for d in [Some(dir), dir.parent()].into_iter().flatten() {
                let c = d.join(SHIM_BINARY);
                if c.is_file() {
                    return Ok(c);
                }
            }
        }
    }
    find_in_path(SHIM_BINARY).ok_or_else(|| {
        Error::not_found(format!("shim binary {SHIM_BINARY} not found beside the executable or in PATH"))
    })
}

/// Resolve a command name through `PATH` (a name with a `/` is taken as a path).
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

impl ShimSpawner {
    /// A spawner using the shim binary at `shim` (see [`locate_shim`]).
    pub fn new(shim: impl Into<PathBuf>) -> Self {
        ShimSpawner { shim: shim.into() }
    }

    /// The shim binary path.
    pub fn shim_path(&self) -> &Path {
        &self.shim
    }

    /// Write `cfg` into its state dir, start a shim and wait until the process is
    /// created (container) or running (exec). Errors carry the runtime's message.
    pub fn spawn(&self, cfg: &ShimConfig) -> Result<ShimHandle> {
        let (handle, _) = self.spawn_inner(cfg, false)?;
        Ok(handle)
    }

    /// Like [`spawn`](Self::spawn) but attach before the process is created, so that
    /// no output is missed (used for exec). Forces `wait_attach` and `attach_stdin`: the
    /// attach connection is a socketpair handed to the shim as its stdin.
    pub fn spawn_attached(&self, cfg: &ShimConfig) -> Result<(ShimHandle, super::AttachStream)> {
        let mut cfg = cfg.clone();
        cfg.wait_attach = true;
        cfg.attach_stdin = true;
        let (handle, attach) = self.spawn_inner(&cfg, true)?;
        Ok((handle, attach.expect("attached spawn yields a stream")))
    }

    fn spawn_inner(&self, cfg: &ShimConfig, attach: bool) -> Result<(ShimHandle, Option<super::AttachStream>)> {
        validate(cfg)?;
        if !self.shim.is_file() {
            return Err(Error::not_found(format!("shim binary {} not found", self.shim.display())));
        }
        let dir = &cfg.state_dir;
        crate::sys::fs::ensure_dir(dir, 0o700)?;
        for stale in [STATE_FILE, EXIT_FILE] {
            match fs::remove_file(dir.join(stale)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(Error::io(dir.join(stale), "remove stale", e))
                }
                _ => {}
            }
        }
        // State dir: runtime state, gone at reboot; no flush needed.
        crate::sys::fs::replace_file_json(&dir.join(CONFIG_FILE), cfg)?;

        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // The attach connection, made before the shim exists: its other end is the shim's
        // stdin (both ends close-on-exec here; the spawn dup2s the shim's end onto fd 0).
        let (mut stream, shim_stdin) = if attach && cfg.attach_stdin {
            let (ours, theirs) = UnixStream::pair()?;
            (Some(super::AttachStream::from_socket(ours)), Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        } else {
            (None, Stdio::null())
        };
        // No pre-exec hook, so std spawns with posix_spawn (vfork-like, no copy of the
        // engine's page tables); the pipe is the shim's stdout (READY_FD). The Command (and
        // with it our copy of the shim's ends) is dropped at the end of the statement.
        let mut child = Command::new(&self.shim)
            .arg(dir)
            .stdin(shim_stdin)
            .stdout(Stdio::from(w))
            .stderr(Stdio::null())
            .current_dir("/")
            .spawn()
            .map_err(|e| Error::io(&self.shim, "run", e))?;
        // The first shim process forks and exits at once. It is reaped once the readiness
        // lines are read, not before: waiting for it first would put one more wake-up of
        // this thread on the path to the process' start.
        let res = Self::await_ready(File::from(r), cfg, attach, stream.take());
        let _ = child.wait();
        res
    }

    /// Read the shim's readiness lines until it reports the process created (or fails).
    fn await_ready(
        r: File,
        cfg: &ShimConfig,
        attach: bool,
        mut stream: Option<super::AttachStream>,
    ) -> Result<(ShimHandle, Option<super::AttachStream>)> {
        let dir = &cfg.state_dir;
        let mut reader = ReadyReader::new(r);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match reader.next(deadline, dir)? {
                ReadyMessage::Listening if attach && stream.is_none() => {
                    stream = Some(super::AttachStream::connect(dir)?);
                }
                ReadyMessage::Listening => {
                    return Err(Error::internal(format!("unexpected listening message from shim of {}", cfg.id)))
                }
                ReadyMessage::Created { shim_pid, pid } => {
                    let shim_start_time = read_state(dir).map(|s| s.shim_start_time).unwrap_or(0);
                    let handle = ShimHandle { state_dir: dir.clone(), shim_pid, shim_start_time, pid };
                    return Ok((handle, stream));
                }
                ReadyMessage::Error { message } => {
                    return Err(classify_failure(message, process_command(cfg).as_deref()))
                }
            }
        }
    }
}

fn validate(cfg: &ShimConfig) -> Result<()> {
    if cfg.id.is_empty() || cfg.id.contains('/') || cfg.id.starts_with('.') {
        return Err(Error::invalid(format!("invalid container id {:?}", cfg.id)));
    }
    if !cfg.state_dir.is_absolute() {
        return Err(Error::invalid(format!("shim state dir {} must be absolute", cfg.state_dir.display())));
    }
    if cfg.exec.is_none() && !cfg.bundle.join("config.json").is_file() {
        return Err(Error::not_found(format!("bundle {} has no config.json", cfg.bundle.display())));
    }
    if !cfg.runtime.binary.is_file() {
        return Err(Error::not_found(format!("OCI runtime binary {} not found", cfg.runtime.binary.display())));
    }
    if let Some(l) = &cfg.log {
        if l.max_file == 0 {
            return Err(Error::invalid("log max-file must be at least 1"));
        }
    }
    Ok(())
}

/// The command (`args[0]`) of the process a shim was asked to create: from the exec's process
/// JSON or the bundle's `config.json`. Read only when the runtime failed, to classify its message.
fn process_command(cfg: &ShimConfig) -> Option<String> {
    let (path, pointer) = match &cfg.exec {
        Some(x) => (x.process.clone(), "/args/0"),
        None => (cfg.bundle.join("config.json"), "/process/args/0"),
    };
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    v.pointer(pointer)?.as_str().map(str::to_string)
}

/// Map a shim/runtime failure message to an error kind and reason. This is the one place the
/// runtime's (runc's, crun's) text is read: everything above decides on the kind and reason.
/// As Docker, "not found" is [`Reason::CommandNotFound`] (exit code 127) only when the message
/// names `command` (a missing mount source is not a missing command); a command that cannot
/// be invoked is [`Reason::CommandNotExecutable`] (126).
fn classify_failure(message: String, command: Option<&str>) -> Error {
    let m = message.to_ascii_lowercase();
    let names_command = command.is_some_and(|c| !c.is_empty() && m.contains(&c.to_ascii_lowercase()));
    if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("not found in $path")
    {
        let e = Error::not_found(message);
        if names_command {
            e.with_reason(Reason::CommandNotFound)
        } else {
            e
        }
    } else if m.contains("permission denied") {
        Error::permission(message).with_reason(Reason::CommandNotExecutable)
    } else if m.contains("is a directory") {
        Error::internal(message).with_reason(Reason::CommandNotExecutable)
    } else if m.contains("already exists") {
        Error::already_exists(message)
    } else {
        Error::internal(message)
    }
}

/// Reads the shim's readiness lines with a deadline.
struct ReadyReader {
    inner: BufReader<File>,
}

impl ReadyReader {
    fn new(f: File) -> Self {
        ReadyReader { inner: BufReader::new(f) }
    }

    fn next(&mut self, deadline: Instant, dir: &Path) -> Result<ReadyMessage> {
        if self.inner.buffer().is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd =
                [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(self.inner.get_ref()), nix::poll::PollFlags::POLLIN)];
            let ms = nix::poll::PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(nix::poll::PollTimeout::MAX);
            let n = loop {
                match nix::poll::poll(&mut pfd, ms) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    r => break r?,
                }
            };
            if n == 0 {
                return Err(Error::unavailable(format!(
                    "isulad-shim in {} did not report within {}s",
                    dir.display(),
                    READY_TIMEOUT.as_secs()
                )));
            }
        }
        let mut line = String::new();
        self.inner.read_line(&mut line).map_err(|e| Error::io(dir, "read shim readiness of", e))?;
        if line.is_empty() {
            return Err(Error::internal(format!(
                "isulad-shim in {} exited without reporting: {}",
                dir.display(),
                shim_log_tail(dir)
            )));
        }
        serde_json::from_str(&line)
            .map_err(|e| Error::internal(format!("bad readiness line {line:?} from isulad-shim: {e}")))
    }
}

fn shim_log_tail(dir: &Path) -> String {
    let mut s = String::new();
    if let Ok(f) = File::open(dir.join(SHIM_LOG)) {
        let _ = f.take(64 * 1024).read_to_string(&mut s);
    }
    let t: Vec<&str> = s.lines().rev().take(5).collect();
    if t.is_empty() {
        "no diagnostics in shim.log".into()
    } else {
        t.into_iter().rev().collect::<Vec<_>>().join("; ")
    }
}

/// Read `state.json` of a shim state dir (`NotFound` when the shim never created the process).
pub fn read_state(state_dir: &Path) -> Result<ShimState> {
    crate::sys::read_json(&state_dir.join(STATE_FILE))
}

/// The exit status if the process has exited (`exit.json` present), else `None`.
pub fn read_exit(state_dir: &Path) -> Result<Option<ExitStatus>> {
    let p = state_dir.join(EXIT_FILE);
    match fs::read(&p) {
        Ok(data) => {
            serde_json::from_slice(&data).map(Some).map_err(|e| Error::invalid(format!("parse {}: {e}", p.display())))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&p, "read", e)),
    }
}

/// Whether shim `pid` is alive (judged by /proc/PID/stat: zombies are dead); a
/// non-zero `start_time` must match too.
pub fn is_shim_alive(pid: i32, start_time: u64) -> bool {
    sysproc::is_alive(pid, start_time)
}

/// Block until the process of `state_dir` has exited and return its status, or
/// `Ok(None)` after `timeout` (`None` waits forever). Waits on a pidfd of the shim.
/// A shim that died without writing `exit.json` (e.g. SIGKILLed) is an `Unavailable` error.
pub fn wait_exit(state_dir: &Path, timeout: Option<Duration>) -> Result<Option<ExitStatus>> {
    if let Some(st) = read_exit(state_dir)? {
        return Ok(Some(st));
    }
    let state = read_state(state_dir)?;
    let pidfd = PidFd::open(state.shim_pid).map_err(|e| Error::internal(format!("pidfd_open: {e}")))?;
    if let Some(fd) = &pidfd {
        // The pid may have been reused between the state read and pidfd_open.
        if is_shim_alive(state.shim_pid, state.shim_start_time) && !fd.wait(timeout)? {
            return Ok(None);
        }
    }
    match read_exit(state_dir)? {
        Some(st) => Ok(Some(st)),
        None => Err(Error::unavailable(format!(
            "isulad-shim (pid {}) of {} is gone without an exit status",
            state.shim_pid,
            state_dir.display()
        ))),
    }
}

impl ShimHandle {
    /// Re-attach to a shim from its state directory (after an engine restart).
    pub fn load(state_dir: &Path) -> Result<ShimHandle> {
        let s = read_state(state_dir)?;
        Ok(ShimHandle {
            state_dir: state_dir.to_path_buf(),
            shim_pid: s.shim_pid,
            shim_start_time: s.shim_start_time,
            pid: s.pid,
        })
    }

    /// Whether the shim still runs.
    pub fn is_alive(&self) -> bool {
        is_shim_alive(self.shim_pid, self.shim_start_time)
    }

    /// See [`read_exit`].
    pub fn read_exit(&self) -> Result<Option<ExitStatus>> {
        read_exit(&self.state_dir)
    }

    /// See [`wait_exit`].
    pub fn wait_exit(&self, timeout: Option<Duration>) -> Result<Option<ExitStatus>> {
        wait_exit(&self.state_dir, timeout)
    }

    /// Connect to the attach socket.
    pub fn attach(&self) -> Result<super::AttachStream> {
        super::AttachStream::connect(&self.state_dir)
    }

    /// Resize the process' pty (no effect without a terminal).
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        self.attach()?.resize(rows, cols)
    }

    /// Have the shim reopen its CRI log file (see [`super::AttachStream::reopen_log`]).
    pub fn reopen_log(&self) -> Result<()> {
        self.attach()?.reopen_log(Duration::from_secs(10))
    }

    /// Send `signal` to the shim itself (it forwards TERM, INT, HUP, QUIT, USR1, USR2).
    pub fn signal_shim(&self, signal: i32) -> Result<()> {
        if !self.is_alive() {
            return Err(Error::precondition(format!("isulad-shim pid {} is not running", self.shim_pid))
                .with_reason(crate::Reason::NotRunning));
        }
        let sig = nix::sys::signal::Signal::try_from(signal)
            .map_err(|_| Error::invalid(format!("invalid signal {signal}")))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.shim_pid), sig)?;
        Ok(())
    }
}

/// Connect a unix stream to `<dir>/<name>`, going through `/proc/self/fd` when the
/// path is too long for `sun_path`.
pub(crate) fn connect_in(dir: &Path, name: &str) -> Result<UnixStream> {
    let full = dir.join(name);
    let res = if full.as_os_str().len() < 100 {
        UnixStream::connect(&full)
    } else {
        let d = File::open(dir).map_err(|e| Error::io(dir, "open", e))?;
        UnixStream::connect(format!("/proc/self/fd/{}/{name}", d.as_raw_fd()))
    };
    res.map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            Error::precondition(format!("no shim is listening on {} (process exited?)", full.display()))
        }
        _ => Error::io(&full, "connect to", e),
    })
}

#[cfg(test)]
mod classify_tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn runtime_messages_become_reasons() {
        let runc = "exec: \"nope\": executable file not found in $PATH".to_string();
        let e = classify_failure(runc, Some("nope"));
        assert_eq!(
            (e.kind(), e.reason(), e.start_exit_code()),
            (ErrorKind::NotFound, Some(Reason::CommandNotFound), Some(127))
        );
        let abs = "exec: \"/no/cmd\": stat /no/cmd: no such file or directory".to_string();
        assert_eq!(classify_failure(abs, Some("/no/cmd")).reason(), Some(Reason::CommandNotFound));
        // a missing mount source is not a missing command
        let mount = "crun create failed: openat2 `rel`: No such file or directory".to_string();
        let e = classify_failure(mount.clone(), Some("sh"));
        assert_eq!((e.kind(), e.reason()), (ErrorKind::NotFound, None));
        assert_eq!(classify_failure(mount, None).reason(), None);
        let denied = classify_failure("exec: \"/etc/passwd\": permission denied".into(), Some("other"));
        assert_eq!((denied.kind(), denied.start_exit_code()), (ErrorKind::PermissionDenied, Some(126)));
        let dir = classify_failure("exec /etc: is a directory".into(), Some("/etc"));
        assert_eq!(dir.reason(), Some(Reason::CommandNotExecutable));
        let e = classify_failure("boom".into(), Some("sh"));
        assert_eq!((e.kind(), e.reason()), (ErrorKind::Internal, None));
        assert_eq!(classify_failure("container x already exists".into(), None).kind(), ErrorKind::AlreadyExists);
    }

    #[test]
    fn the_command_comes_from_the_bundle_or_the_exec_process() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.json"), r#"{"process":{"args":["/bin/app","-x"]}}"#).unwrap();
        std::fs::write(d.path().join("p.json"), r#"{"args":["top"]}"#).unwrap();
        let mut cfg: ShimConfig = serde_json::from_value(serde_json::json!({
            "id": "c", "bundle": d.path(), "state_dir": "/run/x",
            "runtime": {"binary": "/bin/runc", "root": "/run/runc"},
        }))
        .unwrap();
        assert_eq!(process_command(&cfg).as_deref(), Some("/bin/app"));
        cfg.exec = Some(super::super::proto::ShimExec { process: d.path().join("p.json") });
        assert_eq!(process_command(&cfg).as_deref(), Some("top"));
    }
}
