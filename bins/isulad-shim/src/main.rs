//! isulad-shim: the per-container (or per-exec) supervisor.
//!
//! Usage: `isulad-shim <state-dir>`, with `<state-dir>/shim.json` holding the
//! configuration and fd 3 (optional) open for readiness messages. The protocol is
//! documented in `isula_core::unstable::runtime::shim`; in short the shim
//! 1. forks (the engine reaps the parent at once), calls `setsid`, becomes a child
//!    subreaper and binds `attach.sock` in the state dir; the first attach client is either
//!    accepted there or, with `attach_stdin`, the socket the engine passed as stdin;
//! 2. runs `<runtime> create` (or `exec --detach`) with its own pipes (or a pty got
//!    through `console.sock`) as the process' stdio, writes `state.json` and reports
//!    `created` (or an error carrying the runtime's message) on fd 3;
//! 3. copies output to the log (json-file or CRI) and to attach clients, feeds stdin
//!    from clients, resizes the pty, reopens a CRI log on request, forwards the signals
//!    it gets to the process;
//! 4. when the process exits, drains its output, writes `exit.json` atomically, sends
//!    the exit frame to clients and exits. It never runs `<runtime> delete`: the engine
//!    does that when the container is removed, so the runtime state is kept.

mod diag;
mod log;
mod oom;
mod runtime_log;
mod supervise;
// Syscall wrappers (each `unsafe` with a SAFETY comment): allowed to use `unsafe`.
#[allow(unsafe_code)]
mod sys;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use isula_shim_proto::proto;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use proto::{ReadyMessage, ShimConfig, ShimState};

/// Signals the shim forwards to the process (plus SIGCHLD, which it handles).
pub const FORWARDED: [Signal; 6] =
    [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprintln!("usage: isulad-shim <state-dir>");
        std::process::exit(2);
    }
    let state_dir = PathBuf::from(&args[1]);
    let mut ready = sys::take_ready_fd(proto::READY_FD);
    if let Err(e) = sys::daemonize() {
        report(&mut ready, ReadyMessage::Error { message: format!("isulad-shim: fork: {e}") });
        std::process::exit(1);
    }
    let _ = nix::unistd::setsid();
    // Our stdin may be the first attach client (`attach_stdin`): keep a close-on-exec
    // duplicate before stdin is pointed at /dev/null.
    let stdin = std::io::stdin().as_fd().try_clone_to_owned().ok();
    detach_stdio();
    diag::init(&state_dir);
    match run(&state_dir, &mut ready, stdin) {
        Ok(()) => std::process::exit(0),
        Err(message) => {
            diag::diag!("{message}");
            report(&mut ready, ReadyMessage::Error { message });
            std::process::exit(1);
        }
    }
}

/// Send one readiness line (best effort: the engine may be gone).
fn report(ready: &mut Option<File>, msg: ReadyMessage) {
    if let Some(f) = ready.as_mut() {
        let mut line = serde_json::to_string(&msg).unwrap_or_default();
        line.push('\n');
        let _ = f.write_all(line.as_bytes());
    }
}

/// Point stdin, stdout and stderr at /dev/null so nothing ties us to the engine
/// (diagnostics go to `shim.log`: [`diag`]).
fn detach_stdio() {
    if let Ok(null) = File::open("/dev/null") {
        for fd in 0..=2 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
    }
}

/// The process' stdio as seen from the shim.
pub struct Stdio3 {
    /// Writer to the process' stdin (pipe, or pty master dup); `None` = /dev/null.
    pub stdin: Option<File>,
    /// Reader of stdout (or of the pty master).
    pub stdout: Option<File>,
    /// Reader of stderr (none with a pty).
    pub stderr: Option<File>,
    /// The pty master, for resizes.
    pub master: Option<File>,
}

fn run(state_dir: &Path, ready: &mut Option<File>, stdin: Option<OwnedFd>) -> Result<(), String> {
    let cfg_path = state_dir.join(proto::CONFIG_FILE);
    let data = fs::read(&cfg_path).map_err(|e| format!("read {}: {e}", cfg_path.display()))?;
    let cfg: ShimConfig = serde_json::from_slice(&data).map_err(|e| format!("parse {}: {e}", cfg_path.display()))?;
    std::env::set_current_dir(state_dir).map_err(|e| format!("chdir {}: {e}", state_dir.display()))?;
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| format!("set child subreaper: {e}"))?;

    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    for s in FORWARDED {
        mask.add(s);
    }
    mask.thread_block().map_err(|e| format!("block signals: {e}"))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;

    // Relative names: we run in the state dir, so long state paths do not hit the
    // 108-byte sun_path limit.
    let _ = fs::remove_file(proto::ATTACH_SOCKET);
    let listener =
        UnixListener::bind(proto::ATTACH_SOCKET).map_err(|e| format!("bind {}: {e}", proto::ATTACH_SOCKET))?;
    let mut first_client = None;
    if cfg.wait_attach && cfg.attach_stdin {
        let client = UnixStream::from(stdin.ok_or("attach_stdin: stdin is closed")?);
        // getpeername fails unless stdin really is a connected socket.
        client.peer_addr().map_err(|e| format!("attach_stdin: stdin is not a connected socket: {e}"))?;
        first_client = Some(client);
    } else if cfg.wait_attach {
        report(ready, ReadyMessage::Listening);
        first_client = Some(accept_timeout(&listener, Duration::from_secs(60))?);
    }
    listener.set_nonblocking(true).map_err(|e| format!("attach socket: {e}"))?;

    let (stdio, pid) = create_process(&cfg)?;
    // The OOM baseline before the engine hears of the container (it starts it then): a
    // process killed at once must not be counted in the baseline.
    let oom = oom::OomWatch::new(pid);
    let state = ShimState { shim_pid: std::process::id() as i32, shim_start_time: own_start_time(), pid };
    write_atomic(Path::new(proto::STATE_FILE), &serde_json::to_vec(&state).unwrap_or_default())
        .map_err(|e| format!("write {}: {e}", proto::STATE_FILE))?;
    report(ready, ReadyMessage::Created { shim_pid: state.shim_pid, pid });
    *ready = None;

    let log = match &cfg.log {
        Some(l) => match log::LogSink::open(l) {
            Ok(w) => Some(w),
            Err(e) => {
                diag::diag!("open log {}: {e}", l.path.display());
                None
            }
        },
        None => None,
    };
    let mut sup = supervise::Supervisor::new(pid, cfg.terminal, sigfd, listener, stdio, log);
    if let Some(c) = first_client {
        sup.add_client(c);
    }
    let mut status = sup.run();
    status.oom_killed = oom.killed();
    write_atomic(Path::new(proto::EXIT_FILE), &serde_json::to_vec(&status).unwrap_or_default())
        .map_err(|e| format!("write {}: {e}", proto::EXIT_FILE))?;
    sup.finish(&status);
    let _ = fs::remove_file(proto::ATTACH_SOCKET);
    Ok(())
}

fn accept_timeout(listener: &UnixListener, timeout: Duration) -> Result<UnixStream, String> {
    let mut fds = [libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
    let n = sys::poll(&mut fds, timeout.as_millis() as i32).map_err(|e| format!("poll: {e}"))?;
    if n == 0 {
        return Err("no attach client connected within 60s".into());
    }
    listener.accept().map(|(s, _)| s).map_err(|e| format!("accept attach client: {e}"))
}

/// Start time (clock ticks since boot) of this process, from /proc/self/stat.
fn own_start_time() -> u64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn pipe() -> Result<(File, File), String> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    Ok((File::from(r), File::from(w)))
}

/// Run `<runtime> create` (or `exec --detach`) and return the process' stdio and pid.
fn create_process(cfg: &ShimConfig) -> Result<(Stdio3, i32), String> {
    let cwd = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
    let pid_file = cwd.join(proto::PID_FILE);
    let _ = fs::remove_file(&pid_file);
    // The runtime's JSON log goes to a pipe the shim reads while it waits (no file per
    // container): the runtime opens it as /proc/self/fd/N, N being the inherited write end.
    let (log_r, log_w) = runtime_log::pipe()?;
    let mut rt_log = Vec::new();
    let mut cmd = Command::new(&cfg.runtime.binary);
    cmd.args(&cfg.runtime.args)
        .arg("--root")
        .arg(&cfg.runtime.root)
        .arg("--log")
        .arg(format!("/proc/self/fd/{}", log_w.as_raw_fd()))
        .arg("--log-format")
        .arg("json");
    let verb = if let Some(exec) = &cfg.exec {
        cmd.arg("exec").arg("--process").arg(&exec.process).arg("--detach");
        "exec"
    } else if cfg.start {
        cmd.arg("run").arg("--detach").arg("--bundle").arg(&cfg.bundle);
        "run"
    } else {
        cmd.arg("create").arg("--bundle").arg(&cfg.bundle);
        "create"
    };
    cmd.arg("--pid-file").arg(&pid_file);
    let console = if cfg.terminal {
        let _ = fs::remove_file(proto::CONSOLE_SOCKET);
        let l = UnixListener::bind(proto::CONSOLE_SOCKET).map_err(|e| format!("bind console socket: {e}"))?;
        // The runtime dials this path after chdir to the bundle; a long state dir would
        // overflow sun_path (108 bytes), so name the socket through our own cwd link then.
        let abs = cwd.join(proto::CONSOLE_SOCKET);
        if abs.as_os_str().len() < 100 {
            cmd.arg("--console-socket").arg(abs);
        } else {
            cmd.arg("--console-socket").arg(format!("/proc/{}/cwd/{}", std::process::id(), proto::CONSOLE_SOCKET));
        }
        Some(l)
    } else {
        None
    };
    cmd.arg(&cfg.id);

    let mut stdio = Stdio3 { stdin: None, stdout: None, stderr: None, master: None };
    let mut err_reader = None;
    if cfg.terminal {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        if cfg.open_stdin {
            let (r, w) = pipe()?;
            cmd.stdin(Stdio::from(OwnedFd::from(r)));
            stdio.stdin = Some(w);
        } else {
            cmd.stdin(Stdio::null());
        }
        let (or, ow) = pipe()?;
        let (er, ew) = pipe()?;
        cmd.stdout(Stdio::from(OwnedFd::from(ow))).stderr(Stdio::from(OwnedFd::from(ew)));
        stdio.stdout = Some(or);
        err_reader = Some(er);
    }
    sys::clear_signal_mask_on_exec(&mut cmd);
    let binary = cfg.runtime.binary.display().to_string();
    let mut child = cmd.spawn().map_err(|e| format!("run {binary}: {e}"))?;
    drop(cmd); // closes our copies of the child's pipe ends
    drop(log_w);
    let mut master = None;
    if let Some(l) = &console {
        master = receive_master(l, &mut child, &log_r, &mut rt_log)?;
    }
    let status =
        runtime_log::wait_reading(&mut child, &log_r, &mut rt_log).map_err(|e| format!("wait for {binary}: {e}"))?;
    if let Some(l) = console {
        drop(l);
        let _ = fs::remove_file(proto::CONSOLE_SOCKET);
    }
    if !status.success() {
        let mut msg = runtime_log::errors(&rt_log);
        if msg.is_empty() {
            if let Some(mut er) = err_reader.take() {
                let mut buf = Vec::new();
                let _ = (&mut er).take(8192).read_to_end(&mut buf);
                msg = String::from_utf8_lossy(&buf).trim().to_string();
            }
        }
        if msg.is_empty() {
            msg = format!("exited with {status}");
        }
        return Err(format!("{binary} {verb} failed: {msg}"));
    }
    stdio.stderr = err_reader;
    if cfg.terminal {
        let m = master.ok_or_else(|| format!("{binary} {verb} did not send a pty master to the console socket"))?;
        let m = File::from(m);
        stdio.stdout = Some(m.try_clone().map_err(|e| format!("dup pty master: {e}"))?);
        if cfg.open_stdin {
            stdio.stdin = Some(m.try_clone().map_err(|e| format!("dup pty master: {e}"))?);
        }
        stdio.master = Some(m);
    }
    let pid_text = fs::read_to_string(&pid_file).map_err(|e| format!("read {}: {e}", pid_file.display()))?;
    let pid: i32 = pid_text.trim().parse().map_err(|_| format!("bad pid file content {pid_text:?}"))?;
    Ok((stdio, pid))
}

/// Accept the runtime's connection on the console socket and take the pty master (SCM_RIGHTS),
/// reading the runtime's log meanwhile.
fn receive_master(
    l: &UnixListener,
    child: &mut std::process::Child,
    log: &File,
    log_out: &mut Vec<u8>,
) -> Result<Option<OwnedFd>, String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut fds = [libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        let ready = sys::poll(&mut fds, 50).map_err(|e| format!("poll console socket: {e}"))?;
        runtime_log::read_available(log, log_out);
        if ready > 0 {
            break;
        }
        if child.try_wait().map_err(|e| format!("wait runtime: {e}"))?.is_some() || Instant::now() > deadline {
            return Ok(None);
        }
    }
    let (conn, _) = l.accept().map_err(|e| format!("accept console socket: {e}"))?;
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| format!("receive pty master: {e}"))?;
    for c in msg.cmsgs().map_err(|e| format!("receive pty master: {e}"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us; we own it.
                #[allow(unsafe_code)]
                return Ok(Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }));
            }
        }
    }
    Ok(None)
}

/// Write a file atomically (temp file, rename): readers see the old or the new content.
/// Not flushed to disk: the shim only writes runtime state into the state dir, which does
/// not outlive a reboot, and a crash of a process keeps what it wrote in the page cache.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".tmp-{name}"));
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(&tmp)?;
    f.write_all(data)?;
    fs::rename(&tmp, path)
}
