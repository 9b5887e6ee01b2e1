//! The shim's event loop: one thread, poll(2) over the signalfd, the process' output,
//! its stdin, the attach listener and the attach clients.

use crate::diag::diag;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::log::LogSink;
use crate::{sys, Stdio3};
use isula_shim_proto::proto::{frame, ExitStatus};

/// Bytes buffered for one slow attach client before it is dropped (a process with a log).
const CLIENT_BUF_LIMIT: usize = 8 << 20;
/// Without a log (an exec), the clients are the only copy of the output: reading stops
/// while one of them has this much unsent, so nothing is lost (backpressure)…
const CLIENT_HIGH_WATER: usize = 1 << 20;
/// …unless that client takes nothing for this long: it is then dropped.
const CLIENT_STALL: Duration = Duration::from_secs(60);
/// Bytes of attach stdin buffered while the process does not read.
const STDIN_BUF_LIMIT: usize = 1 << 20;
/// After the exit, stop draining output after this much silence…
const DRAIN_QUIET: i32 = 100;
/// …or after this long in all.
const DRAIN_MAX: Duration = Duration::from_secs(2);

struct Client {
    stream: UnixStream,
    dec: frame::Decoder,
    out: Vec<u8>,
    dead: bool,
    /// When it last took bytes (or connected).
    progress: Instant,
}

#[derive(Clone, Copy)]
enum Token {
    Signal,
    Output(usize),
    Listener,
    Stdin,
    Client(usize),
}

/// Supervises one process until it exits.
pub(crate) struct Supervisor {
    pid: i32,
    terminal: bool,
    sigfd: SignalFd,
    listener: UnixListener,
    stdin: Option<File>,
    stdin_buf: Vec<u8>,
    stdin_close: bool,
    outputs: [Option<File>; 2],
    master: Option<File>,
    clients: Vec<Client>,
    log: Option<LogSink>,
    exit: Option<ExitStatus>,
}

impl Supervisor {
    /// A supervisor for process `pid` with the given stdio.
    pub(crate) fn new(
        pid: i32,
        terminal: bool,
        sigfd: SignalFd,
        listener: UnixListener,
        stdio: Stdio3,
        log: Option<LogSink>,
    ) -> Self {
        if let Some(s) = &stdio.stdin {
            let _ = set_nonblocking(s);
        }
        Supervisor {
            pid,
            terminal,
            sigfd,
            listener,
            stdin: stdio.stdin,
            stdin_buf: Vec::new(),
            stdin_close: false,
            outputs: [stdio.stdout, stdio.stderr],
            master: stdio.master,
            clients: Vec::new(),
            log,
            exit: None,
        }
    }

    /// Register an attach client.
    pub(crate) fn add_client(&mut self, stream: UnixStream) {
        let _ = stream.set_nonblocking(true);
        self.clients.push(Client {
            stream,
            dec: frame::Decoder::default(),
            out: Vec::new(),
            dead: false,
            progress: Instant::now(),
        });
    }

    /// Run until the process has exited and its output is drained; return its status.
    pub(crate) fn run(&mut self) -> ExitStatus {
        self.reap();
        let mut drain_until: Option<Instant> = None;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let mut timeout = -1;
            let held = self.backpressured();
            if held {
                // Wake up to notice a client that stopped taking output.
                timeout = 1000;
            }
            if self.exit.is_some() {
                if self.outputs.iter().all(|o| o.is_none()) {
                    break;
                }
                if held {
                    // The drain's time limits start when the clients have caught up.
                    drain_until = None;
                } else {
                    let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN_MAX);
                    if Instant::now() >= until {
                        break;
                    }
                    timeout = DRAIN_QUIET;
                }
            }
            let (mut fds, tokens) = self.poll_set();
            let n = match sys::poll(&mut fds, timeout) {
                Ok(n) => n,
                Err(e) => {
                    diag!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                    0
                }
            };
            if n == 0 {
                if self.exit.is_some() && !held {
                    break;
                }
                self.drop_stalled();
                continue;
            }
            for (pfd, tok) in fds.iter().zip(tokens) {
                if pfd.revents != 0 {
                    self.handle(tok, pfd.revents, &mut buf);
                }
            }
            self.clients.retain(|c| !c.dead);
        }
        self.flush_log();
        self.exit.take().unwrap_or_else(|| ExitStatus {
            code: 255,
            signal: None,
            finished_at: isula_types::time::now().to_rfc3339_fixed(),
            oom_killed: false,
        })
    }

    /// Send the exit frame to every client and flush their buffers (bounded wait per write).
    pub(crate) fn finish(&mut self, status: &ExitStatus) {
        let payload = serde_json::to_vec(status).unwrap_or_default();
        // A log-less process's clients get all of it, however slowly they read (each
        // write may wait this long for progress); others get two seconds.
        let patience = if self.log.is_none() { CLIENT_STALL } else { Duration::from_secs(2) };
        for c in &mut self.clients {
            c.out.extend(frame::encode(frame::EXIT, &payload));
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(patience));
            let _ = c.stream.write_all(&c.out);
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        self.clients.clear();
    }

    fn poll_set(&self) -> (Vec<libc::pollfd>, Vec<Token>) {
        let mut fds = Vec::with_capacity(6 + self.clients.len());
        let mut toks = Vec::with_capacity(fds.capacity());
        let mut add = |fd: i32, events: i16, t: Token| {
            fds.push(libc::pollfd { fd, events, revents: 0 });
            toks.push(t);
        };
        // The listener comes first: a client that connected before output became readable
        // (the daemon attaches before it starts the container) is registered before that
        // output is read, so it misses nothing. It stays polled while draining, so a client
        // that connected just before the exit still gets the remaining output and the exit.
        add(self.listener.as_raw_fd(), libc::POLLIN, Token::Listener);
        add(self.sigfd.as_raw_fd(), libc::POLLIN, Token::Signal);
        // While a client of a log-less process is behind, the output waits in the pipe.
        if !self.backpressured() {
            for (i, o) in self.outputs.iter().enumerate() {
                if let Some(f) = o {
                    add(f.as_raw_fd(), libc::POLLIN, Token::Output(i));
                }
            }
        }
        if let Some(s) = &self.stdin {
            if !self.stdin_buf.is_empty() {
                add(s.as_raw_fd(), libc::POLLOUT, Token::Stdin);
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = libc::POLLIN;
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.stream.as_raw_fd(), ev, Token::Client(i));
        }
        (fds, toks)
    }

    fn handle(&mut self, tok: Token, revents: i16, buf: &mut [u8]) {
        match tok {
            Token::Signal => self.signals(),
            Token::Output(i) => {
                let n = match self.outputs[i].as_mut().map(|f| f.read(buf)) {
                    Some(Ok(n)) => n,
                    Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted || e.kind() == io::ErrorKind::WouldBlock => {
                        return
                    }
                    _ => 0, // EOF, or EIO on a pty whose slave is closed
                };
                if n == 0 {
                    self.outputs[i] = None;
                    return;
                }
                self.output(i, &buf[..n]);
            }
            Token::Listener => {
                while let Ok((s, _)) = self.listener.accept() {
                    self.add_client(s);
                }
            }
            Token::Stdin => self.flush_stdin(),
            Token::Client(i) => {
                if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.client_read(i, buf);
                }
                if revents & libc::POLLOUT != 0 {
                    let c = &mut self.clients[i];
                    match c.stream.write(&c.out) {
                        Ok(n) => {
                            c.out.drain(..n);
                            c.progress = Instant::now();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => c.dead = true,
                    }
                }
            }
        }
    }

    fn signals(&mut self) {
        while let Ok(Some(info)) = self.sigfd.read_signal() {
            let signo = info.ssi_signo as i32;
            if signo == libc::SIGCHLD {
                self.reap();
            } else if self.exit.is_none() {
                if let Ok(sig) = Signal::try_from(signo) {
                    let _ = kill(Pid::from_raw(self.pid), sig);
                }
            }
        }
    }

    /// Reap every exited child; remember the status of ours.
    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
                Ok(WaitStatus::Exited(p, code)) if p.as_raw() == self.pid => self.set_exit(code, None),
                Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == self.pid => {
                    self.set_exit(128 + sig as i32, Some(sig as i32))
                }
                Ok(_) => {}
            }
        }
    }

    fn set_exit(&mut self, code: i32, signal: Option<i32>) {
        if self.exit.is_none() {
            self.exit = Some(ExitStatus {
                code,
                signal,
                finished_at: isula_types::time::now().to_rfc3339_fixed(),
                oom_killed: false,
            });
        }
    }

    fn output(&mut self, i: usize, data: &[u8]) {
        if let Some(log) = self.log.as_mut() {
            log.output(i, data);
        }
        let kind = if i == 0 { frame::STDOUT } else { frame::STDERR };
        if self.clients.is_empty() {
            return;
        }
        let f = frame::encode(kind, data);
        let lossless = self.log.is_none();
        for c in &mut self.clients {
            if !lossless && c.out.len() + f.len() > CLIENT_BUF_LIMIT {
                diag!("dropping an attach client that does not read");
                c.dead = true;
            } else {
                c.out.extend_from_slice(&f);
            }
        }
    }

    /// Whether output reading is held back for a client (log-less process only).
    fn backpressured(&self) -> bool {
        self.log.is_none() && self.clients.iter().any(|c| !c.dead && c.out.len() >= CLIENT_HIGH_WATER)
    }

    /// Drop clients of a held-back process that took nothing for [`CLIENT_STALL`].
    fn drop_stalled(&mut self) {
        let now = Instant::now();
        for c in &mut self.clients {
            if !c.out.is_empty() && now.duration_since(c.progress) >= CLIENT_STALL {
                diag!("dropping an attach client that took no output for {CLIENT_STALL:?}");
                c.dead = true;
            }
        }
        self.clients.retain(|c| !c.dead);
    }

    fn flush_log(&mut self) {
        if let Some(log) = self.log.as_mut() {
            log.flush();
        }
    }

    /// Answer a client's `REOPEN_LOG` with `LOG_REOPENED` (empty payload = done).
    fn reopen_log(&mut self, client: usize) {
        let res = match self.log.as_mut() {
            Some(log) => log.reopen(),
            None => Err("the container has no log file".to_string()),
        };
        let payload = match res {
            Ok(()) => Vec::new(),
            Err(e) => {
                diag!("{e}");
                e.into_bytes()
            }
        };
        self.clients[client].out.extend(frame::encode(frame::LOG_REOPENED, &payload));
    }

    fn client_read(&mut self, i: usize, buf: &mut [u8]) {
        let n = match self.clients[i].stream.read(buf) {
            Ok(0) => {
                self.clients[i].dead = true;
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => return,
            Err(_) => {
                self.clients[i].dead = true;
                return;
            }
        };
        self.clients[i].dec.push(&buf[..n]);
        loop {
            match self.clients[i].dec.next_frame() {
                Ok(Some((frame::REOPEN_LOG, _))) => self.reopen_log(i),
                Ok(Some((kind, payload))) => self.client_frame(kind, &payload),
                Ok(None) => break,
                Err(e) => {
                    diag!("{e}");
                    self.clients[i].dead = true;
                    break;
                }
            }
        }
    }

    fn client_frame(&mut self, kind: u8, payload: &[u8]) {
        match kind {
            frame::STDIN
                if self.stdin.is_some()
                    && !self.stdin_close
                    && self.stdin_buf.len() + payload.len() <= STDIN_BUF_LIMIT =>
            {
                self.stdin_buf.extend_from_slice(payload);
                self.flush_stdin();
            }
            frame::CLOSE_STDIN if self.stdin.is_some() => {
                if self.terminal {
                    self.stdin_buf.push(4); // ^D: end of input for the pty's line discipline
                } else {
                    self.stdin_close = true;
                }
                self.flush_stdin();
            }
            frame::RESIZE if payload.len() == 4 => {
                let rows = u16::from_be_bytes([payload[0], payload[1]]);
                let cols = u16::from_be_bytes([payload[2], payload[3]]);
                if let Some(m) = &self.master {
                    if let Err(e) = sys::set_winsize(m, rows, cols) {
                        diag!("resize pty: {e}");
                    }
                }
            }
            _ => {}
        }
    }

    fn flush_stdin(&mut self) {
        if let Some(s) = self.stdin.as_mut() {
            while !self.stdin_buf.is_empty() {
                match s.write(&self.stdin_buf) {
                    Ok(n) => {
                        self.stdin_buf.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(_) => {
                        self.stdin_buf.clear();
                        self.stdin = None;
                        return;
                    }
                }
            }
        }
        if self.stdin_close && self.stdin_buf.is_empty() {
            self.stdin = None;
        }
    }
}

fn set_nonblocking(f: &File) -> nix::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(f.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(f.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(|_| ())
}
