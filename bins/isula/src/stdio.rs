//! Terminal and stdio plumbing shared by `run`, `start -a`, `attach` and `exec`: raw mode
//! for `-t`, stdin pumping, SIGWINCH resizes, signal proxying and output copying.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use isula_api::v1::StdioResponse;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use tokio::sync::mpsc;
use tonic::Streaming;

use crate::error::CliError;

/// Puts the terminal on stdin in raw mode; the old mode comes back on drop.
pub(crate) struct RawTerminal {
    saved: Option<Termios>,
}

impl RawTerminal {
    /// Raw mode when stdin is a terminal (otherwise a no-op guard).
    pub(crate) fn enable() -> RawTerminal {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawTerminal { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        if tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).is_err() {
            return RawTerminal { saved: None };
        }
        RawTerminal { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// Rows and columns of the terminal on stdin (asked of `stty`, keeping this crate free of
/// `unsafe` ioctls); `None` when stdin is not a terminal.
pub(crate) fn term_size() -> Option<(u32, u32)> {
    let out = std::process::Command::new("stty")
        .arg("size")
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    let mut it = s.split_whitespace().map(|x| x.parse::<u32>().ok());
    match (it.next()??, it.next()??) {
        (0, _) | (_, 0) => None,
        (r, c) => Some((r, c)),
    }
}

/// What the stdin pump produces for the request stream.
pub(crate) enum Input {
    /// Bytes read from stdin.
    Data(Vec<u8>),
    /// stdin reached end of file.
    Eof,
}

/// Read stdin on a thread, delivering chunks and a final `Eof`.
pub(crate) fn pump_stdin() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(8);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(Input::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.blocking_send(Input::Eof);
    });
    rx
}

/// Events the copy loop reacts to besides output.
pub(crate) enum Event {
    /// The terminal was resized.
    Resize(u32, u32),
    /// SIGINT/SIGTERM/… to forward to the container.
    Signal(&'static str),
}

/// Watch SIGWINCH (with `tty`) and, with `proxy`, SIGINT/SIGTERM/SIGHUP/SIGQUIT.
pub(crate) fn watch_signals(tty: bool, proxy: bool) -> mpsc::Receiver<Event> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = mpsc::channel(8);
    if tty {
        if let Ok(mut s) = signal(SignalKind::window_change()) {
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if let Some((h, w)) = term_size() {
                        if tx.send(Event::Resize(h, w)).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    }
    if proxy {
        for (kind, name) in [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
        ] {
            if let Ok(mut s) = signal(kind) {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(Event::Signal(name)).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
    }
    rx
}

/// Write one output message to stdout or stderr.
pub(crate) fn write_output(m: &StdioResponse) {
    if m.data.is_empty() {
        return;
    }
    // A closed pipe ends the program quietly (141); other write errors are ignored as before.
    let quiet = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => crate::error::written(Err(e), "output"),
        _ => {}
    };
    if m.stream == 2 {
        let mut e = std::io::stderr().lock();
        quiet(e.write_all(&m.data).and_then(|()| e.flush()));
    } else {
        let mut o = std::io::stdout().lock();
        quiet(o.write_all(&m.data).and_then(|()| o.flush()));
    }
}

/// Next output message of a stdio stream; `Ok(None)` at its end.
pub(crate) async fn next_output(s: &mut Streaming<StdioResponse>) -> Result<Option<StdioResponse>, CliError> {
    s.message().await.map_err(|e| CliError::daemon(&e))
}
