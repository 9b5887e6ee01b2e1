//! Remote commands (exec and attach) over any transport: the transport (SPDY or WebSocket)
//! turns its streams or channels into [`Streams`], and this module runs the exec or attaches
//! to the container through the engine, copies stdin, output and resizes, and ends with the
//! status on the error stream that the negotiated [`Protocol`] calls for.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};

use isula_core::{AttachEvent, AttachStream, Engine, Exec, ExecOptions};
use serde_json::json;

use super::cache::Command;

/// The remote-command protocol versions (`X-Stream-Protocol-Version` over SPDY, the
/// subprotocol over WebSocket), oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Protocol {
    /// `channel.k8s.io`: no resize stream, the error stream carries a plain message.
    V1,
    /// `v2.channel.k8s.io`: as v1, streams opened in any order.
    V2,
    /// `v3.channel.k8s.io`: adds the resize stream.
    V3,
    /// `v4.channel.k8s.io`: the error stream carries a JSON `Status` with the exit code.
    V4,
    /// `v5.channel.k8s.io` (WebSocket only): adds closing stdin (channel 255).
    V5,
}

impl Protocol {
    /// Every version, newest first (the server's preference).
    pub(crate) const ALL: [Protocol; 5] = [Protocol::V5, Protocol::V4, Protocol::V3, Protocol::V2, Protocol::V1];

    /// The protocol's name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::V1 => "channel.k8s.io",
            Protocol::V2 => "v2.channel.k8s.io",
            Protocol::V3 => "v3.channel.k8s.io",
            Protocol::V4 => "v4.channel.k8s.io",
            Protocol::V5 => "v5.channel.k8s.io",
        }
    }

    /// The version called `name`, if any.
    pub(crate) fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether a resize stream exists in this version.
    pub(crate) fn has_resize(self) -> bool {
        self >= Protocol::V3
    }
}

/// "Stop": fired by the transport when the client's connection is gone (the session then
/// kills its exec process or detaches), and by the session when it has ended (so watchers
/// return). Waiting after it fired returns at once.
#[derive(Debug, Default)]
pub(crate) struct Hangup {
    fired: Mutex<bool>,
    cv: Condvar,
}

impl Hangup {
    /// A new, unfired hangup.
    pub(crate) fn new() -> Arc<Hangup> {
        Arc::new(Hangup::default())
    }

    /// Fire it (idempotent).
    pub(crate) fn fire(&self) {
        *self.fired.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Whether it fired.
    pub(crate) fn fired(&self) -> bool {
        *self.fired.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Block until it fires or `timeout` passes; whether it fired.
    pub(crate) fn wait_for(&self, timeout: std::time::Duration) -> bool {
        let g = self.fired.lock().unwrap_or_else(|e| e.into_inner());
        let (g, _) = self.cv.wait_timeout_while(g, timeout, |f| !*f).unwrap_or_else(|e| e.into_inner());
        *g
    }

    /// Block until it fires.
    pub(crate) fn wait(&self) {
        let mut g = self.fired.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A client's streams for one exec or attach, whatever the transport. Dropping a writer
/// closes that stream (the client sees its end); a reader ends (EOF or error) when the
/// client closes it or the connection goes.
pub(crate) struct Streams {
    /// The negotiated protocol version.
    pub protocol: Protocol,
    /// Input for the process (when the request has stdin).
    pub stdin: Option<Box<dyn Read + Send>>,
    /// Where stdout (or the pty's output) goes.
    pub stdout: Option<Box<dyn Write + Send>>,
    /// Where stderr goes (never with a tty).
    pub stderr: Option<Box<dyn Write + Send>>,
    /// Terminal sizes: a sequence of JSON objects `{"Width":W,"Height":H}` (tty, v3 and later).
    pub resize: Option<Box<dyn Read + Send>>,
    /// The error stream: the final status is written here, then it is dropped.
    pub error: Box<dyn Write + Send>,
    /// Fired by the transport when the connection is gone.
    pub hangup: Arc<Hangup>,
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit code 0, or an attach that ended.
    Success,
    /// The exec process exited with this non-zero code.
    Exit(i32),
    /// The engine failed (no such container, not running, cannot start the command…).
    Failed(String),
}

/// The bytes the error stream gets for `o` in protocol `p` (empty: nothing is written).
pub(crate) fn status_bytes(p: Protocol, o: &Outcome) -> Vec<u8> {
    if p < Protocol::V4 {
        return match o {
            Outcome::Success => Vec::new(),
            Outcome::Exit(code) => {
                format!("command terminated with non-zero exit code: exit status {code}").into_bytes()
            }
            Outcome::Failed(m) => m.clone().into_bytes(),
        };
    }
    let v = match o {
        Outcome::Success => json!({"metadata": {}, "status": "Success"}),
        Outcome::Exit(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Outcome::Failed(m) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("Internal error occurred: {m}"),
            "reason": "InternalError",
            "details": {"causes": [{"message": m}]},
            "code": 500,
        }),
    };
    v.to_string().into_bytes()
}

/// Write the final status and close the error stream.
fn finish(mut error: Box<dyn Write + Send>, p: Protocol, o: &Outcome) {
    let b = status_bytes(p, o);
    if !b.is_empty() {
        if let Err(e) = error.write_all(&b).and_then(|_| error.flush()) {
            log::debug!("stream: cannot write the status: {e}");
        }
    }
}

/// The attach socket, shared by the stdin and resize threads.
type Input = Arc<Mutex<AttachStream>>;

/// Copy the client's stdin to the process; at its end close the process' stdin (exec) or
/// call `at_eof` (attach: detach).
fn spawn_stdin(mut stdin: Box<dyn Read + Send>, input: Input, at_eof: impl FnOnce(&Input) + Send + 'static) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break at_eof(&input),
                Ok(n) => {
                    let r = input.lock().unwrap_or_else(|e| e.into_inner()).write_stdin(&buf[..n]);
                    if let Err(e) = r {
                        log::debug!("stream: stdin to the process: {e}");
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // The connection went: the hangup ends the session.
                Err(_) => return,
            }
        }
    });
}

/// Terminal size on the resize stream.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Size {
    width: u16,
    height: u16,
}

/// How long an exec with a tty waits for the client's first terminal size before it
/// starts (kubelet's clients send it as soon as the streams are open).
const FIRST_SIZE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// The terminal sizes the client sends (zero sizes dropped), read on a thread of their own.
fn read_sizes(resize: Box<dyn Read + Send>) -> std::sync::mpsc::Receiver<Size> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for size in serde_json::Deserializer::from_reader(resize).into_iter::<Size>() {
            let Ok(s) = size else { return };
            if s.width != 0 && s.height != 0 && tx.send(s).is_err() {
                return;
            }
        }
    });
    rx
}

/// Apply the terminal sizes the client sends.
fn spawn_resize(sizes: std::sync::mpsc::Receiver<Size>, input: Input) {
    std::thread::spawn(move || {
        for s in sizes {
            if let Err(e) = input.lock().unwrap_or_else(|e| e.into_inner()).resize(s.height, s.width) {
                log::debug!("stream: resize: {e}");
                return;
            }
        }
    });
}

/// Copy process output to the client until the process exits (its code) or the stream
/// ends (`None`: the attach socket was shut down, or the shim went away).
fn pump(
    stream: &mut AttachStream,
    stdout: &mut Option<Box<dyn Write + Send>>,
    stderr: &mut Option<Box<dyn Write + Send>>,
    hangup: &Hangup,
) -> Option<i32> {
    loop {
        let (sink, data) = match stream.read_event() {
            Ok(Some(AttachEvent::Stdout(b))) => (&mut *stdout, b),
            Ok(Some(AttachEvent::Stderr(b))) => (&mut *stderr, b),
            Ok(Some(AttachEvent::Exit(st))) => return Some(st.code),
            Ok(None) | Err(_) => return None,
        };
        if let Some(w) = sink {
            if w.write_all(&data).and_then(|_| w.flush()).is_err() {
                // The client is gone: stop everything.
                hangup.fire();
                return None;
            }
        }
    }
}

/// Run `cmd.cmd` in the container and stream it; the status tells the exit code. A client
/// that goes away kills the process (and whatever it started).
pub(crate) fn exec(engine: &Engine, cmd: &Command, s: Streams) {
    let Streams { protocol, stdin, mut stdout, mut stderr, resize, error, hangup } = s;
    // The first size is the pty's from the start, so the process never sees a 0x0 terminal.
    let sizes = resize.filter(|_| cmd.tty).map(read_sizes);
    let first = sizes.as_ref().and_then(|rx| rx.recv_timeout(FIRST_SIZE_WAIT).ok());
    let opts = ExecOptions {
        cmd: cmd.cmd.clone(),
        tty: cmd.tty,
        attach_stdin: stdin.is_some(),
        console_size: first.map(|s| [s.height, s.width]),
        ..Default::default()
    };
    let started = engine.containers().exec(&cmd.container_id, &opts).and_then(|mut e| {
        let stream = e.take_stream().ok_or_else(|| isula_core::Error::internal("exec started without a stream"))?;
        let input = stream.try_clone()?;
        let stop = stream.try_clone()?;
        Ok((Arc::new(e), stream, input, stop))
    });
    let (exec, mut stream, input, stop) = match started {
        Ok(v) => v,
        Err(e) => {
            return finish(error, protocol, &Outcome::Failed(format!("error executing command in container: {e}")))
        }
    };
    let input = Arc::new(Mutex::new(input));
    if let Some(r) = stdin {
        spawn_stdin(r, input.clone(), |i| {
            let _ = i.lock().unwrap_or_else(|e| e.into_inner()).close_stdin();
        });
    }
    if let Some(rx) = sizes {
        spawn_resize(rx, input);
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let (exec, hangup, done) = (exec.clone(), hangup.clone(), done.clone());
        std::thread::spawn(move || {
            hangup.wait();
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                kill(&exec);
                let _ = stop.socket().shutdown(std::net::Shutdown::Both);
            }
        });
    }
    let code = pump(&mut stream, &mut stdout, &mut stderr, &hangup);
    let code = match code {
        Some(c) => {
            let _ = exec.wait_timeout(std::time::Duration::from_secs(5));
            Some(c)
        }
        None if hangup.fired() => None,
        None => exec.wait().ok(),
    };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    hangup.fire();
    drop((stdout, stderr));
    let outcome = match code {
        Some(0) => Outcome::Success,
        Some(c) => Outcome::Exit(c),
        None => Outcome::Failed("the client went away".into()),
    };
    finish(error, protocol, &outcome);
}

/// SIGKILL the exec process tree (the client is gone).
fn kill(exec: &Exec) {
    if let Err(e) = exec.kill(libc::SIGKILL) {
        log::warn!("stream: cannot kill exec {} of a client that went away: {e}", exec.id);
    }
    let _ = exec.wait_timeout(std::time::Duration::from_secs(5));
}

/// Attach to the container's process: output from now on, stdin when asked. The session
/// ends when the process exits, when the client's stdin ends (a detach, as containerd), or
/// when the client goes away; the container keeps running in the last two cases.
pub(crate) fn attach(engine: &Engine, cmd: &Command, s: Streams) {
    let Streams { protocol, stdin, mut stdout, mut stderr, resize, error, hangup } = s;
    let attached = engine.containers().attach(&cmd.container_id).and_then(|a| {
        let input = a.try_clone()?;
        let stop = a.try_clone()?;
        Ok((a, input, stop))
    });
    let (mut stream, input, stop) = match attached {
        Ok(v) => v,
        Err(e) => return finish(error, protocol, &Outcome::Failed(format!("error attaching to container: {e}"))),
    };
    let stop = Arc::new(stop);
    let input = Arc::new(Mutex::new(input));
    if let Some(r) = stdin {
        let stop = stop.clone();
        spawn_stdin(r, input.clone(), move |_| {
            let _ = stop.socket().shutdown(std::net::Shutdown::Both);
        });
    }
    if let Some(r) = resize.filter(|_| cmd.tty) {
        spawn_resize(read_sizes(r), input);
    }
    {
        let (hangup, stop) = (hangup.clone(), stop.clone());
        std::thread::spawn(move || {
            hangup.wait();
            let _ = stop.socket().shutdown(std::net::Shutdown::Both);
        });
    }
    pump(&mut stream, &mut stdout, &mut stderr, &hangup);
    hangup.fire();
    drop((stdout, stderr));
    finish(error, protocol, &Outcome::Success);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_name(p.name()), Some(p));
        }
        assert_eq!(Protocol::from_name("v6.channel.k8s.io"), None);
        assert!(Protocol::V3.has_resize() && !Protocol::V2.has_resize());
    }

    #[test]
    fn v4_status_carries_the_exit_code() {
        let v: serde_json::Value = serde_json::from_slice(&status_bytes(Protocol::V4, &Outcome::Exit(3))).unwrap();
        assert_eq!(v["status"], "Failure");
        assert_eq!(v["reason"], "NonZeroExitCode");
        assert_eq!(v["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(v["details"]["causes"][0]["message"], "3");
        let ok: serde_json::Value = serde_json::from_slice(&status_bytes(Protocol::V5, &Outcome::Success)).unwrap();
        assert_eq!(ok, json!({"metadata": {}, "status": "Success"}));
    }

    #[test]
    fn old_protocols_send_text_and_nothing_on_success() {
        assert!(status_bytes(Protocol::V2, &Outcome::Success).is_empty());
        let m = String::from_utf8(status_bytes(Protocol::V3, &Outcome::Exit(2))).unwrap();
        assert!(m.contains("exit status 2"), "{m}");
    }

    #[test]
    fn hangup_wakes_waiters() {
        let h = Hangup::new();
        let h2 = h.clone();
        let t = std::thread::spawn(move || h2.wait());
        assert!(!h.fired());
        h.fire();
        t.join().unwrap();
        assert!(h.fired());
        h.wait();
    }
}
