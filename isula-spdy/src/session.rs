//! The multiplexed session: a reader thread that decodes frames and hands data to the
//! streams' buffers, and a mutex-guarded writer that every stream handle writes frames
//! through (header blocks are compressed under the same lock, so their order on the wire
//! is the order of the one compression context).

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufReader, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::frame::{self, goaway, rst, Control, Head};
use crate::headers::{Deflater, Inflater};
use crate::stream::{Core, Stream};
use crate::{Error, Headers};

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opens streams (odd ids): kubectl, crictl, client-go.
    Client,
    /// Accepts streams (and would open even ids): the kubelet's or runtime's streaming server.
    Server,
}

/// Session settings.
#[derive(Clone)]
pub struct Config {
    /// Most received bytes a stream buffers before the reader thread waits for its reader
    /// (default 1 MiB). A stream never holds more than this plus one 64 KiB chunk.
    pub stream_buffer: usize,
    /// Most streams opened by the peer and not accepted yet; more are refused with
    /// RST_STREAM REFUSED_STREAM (default 128).
    pub accept_backlog: usize,
    /// While the reader thread waits for room in a full stream buffer it cannot see the
    /// connection end; it calls this every second, and `true` ("the peer is gone", e.g. a
    /// poll for POLLRDHUP on the socket) ends the session as if the connection had failed.
    pub stall_probe: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl Default for Config {
    fn default() -> Config {
        Config { stream_buffer: 1 << 20, accept_backlog: 128, stall_probe: None }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("stream_buffer", &self.stream_buffer)
            .field("accept_backlog", &self.accept_backlog)
            .field("stall_probe", &self.stall_probe.is_some())
            .finish()
    }
}

/// Bytes read from the connection at once for a data frame.
const CHUNK: usize = 64 * 1024;
/// How long `open` waits for SYN_REPLY by default (client-go's 30 s).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The sending side: the connection's writer and the outgoing compression context.
struct Out {
    w: Box<dyn Write + Send>,
    deflate: Deflater,
    scratch: Vec<u8>,
    broken: bool,
    next_id: u32,
}

/// Session state shared with the reader thread.
#[derive(Default)]
struct State {
    streams: HashMap<u32, Arc<Core>>,
    incoming: VecDeque<(Arc<Core>, Headers, bool)>,
    last_peer_id: u32,
    closed: bool,
    goaway_sent: bool,
    goaway_received: bool,
    hooks: Vec<Box<dyn FnOnce() + Send>>,
}

/// What the session and its stream handles share.
pub(crate) struct Shared {
    role: Role,
    cfg: Config,
    out: Mutex<Out>,
    state: Mutex<State>,
    cv: Condvar,
}

/// A SPDY/3.1 session over a byte stream. Cloning gives another handle on the same session.
///
/// A reader thread (`spdy-reader`) runs until the connection ends (EOF, an error, a read
/// timeout of the transport, a protocol error); the session is then closed: [`accept`]
/// and [`open`] fail, stream reads return what was buffered then an error, writes fail,
/// and the [`on_close`] callbacks run. The session never closes the transport itself: the
/// owner of the socket shuts it down (which ends the reader thread) when it is done.
///
/// Backpressure: when a stream's buffer is full the reader thread waits for that stream's
/// reader, so frames of the other streams wait too (moby/spdystream behaves the same). This
/// cannot deadlock as long as a stream's reader does not itself wait for data of another
/// stream of the same connection; the Kubernetes patterns satisfy that (stdin is copied to a
/// process, port-forward data to a socket, neither waits for another stream). A reader that
/// gives up drops its [`crate::StreamReader`] (or resets the stream): its data is then
/// discarded and the reader thread moves on.
///
/// [`accept`]: Session::accept
/// [`open`]: Session::open
/// [`on_close`]: Session::on_close
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("role", &self.shared.role).field("closed", &self.is_closed()).finish()
    }
}

impl Session {
    /// Start a session with default settings on `reader` and `writer`, two halves of one
    /// connection (e.g. a socket and its `try_clone`).
    pub fn new<R, W>(reader: R, writer: W, role: Role) -> Result<Session, Error>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        Session::with_config(reader, writer, role, Config::default())
    }

    /// Start a session with `cfg`.
    pub fn with_config<R, W>(reader: R, writer: W, role: Role, cfg: Config) -> Result<Session, Error>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        let shared = Arc::new(Shared {
            role,
            cfg,
            out: Mutex::new(Out {
                w: Box::new(writer),
                deflate: Deflater::new(),
                scratch: Vec::new(),
                broken: false,
                next_id: if role == Role::Client { 1 } else { 2 },
            }),
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        });
        let sh = shared.clone();
        std::thread::Builder::new().name("spdy-reader".into()).spawn(move || {
            let mut r = BufReader::with_capacity(CHUNK, reader);
            let why = match sh.read_loop(&mut r) {
                Ok(()) => "the peer closed the connection".to_string(),
                Err(Error::Protocol(m)) => {
                    log::debug!("spdy: protocol error: {m}");
                    let _ = sh.send_control(&Control::GoAway {
                        last_good: sh.state().last_peer_id,
                        status: goaway::PROTOCOL_ERROR,
                    });
                    m
                }
                Err(e) => e.to_string(),
            };
            log::trace!("spdy: session ends: {why}");
            sh.close_all();
        })?;
        Ok(Session { shared })
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.shared.role
    }

    /// Open a stream with `headers` (client role) and wait up to 30 s for the peer's
    /// SYN_REPLY.
    pub fn open(&self, headers: Headers) -> Result<Stream, Error> {
        self.open_timeout(headers, OPEN_TIMEOUT)
    }

    /// [`Session::open`] with another timeout.
    pub fn open_timeout(&self, headers: Headers, timeout: Duration) -> Result<Stream, Error> {
        let sh = &self.shared;
        if sh.role != Role::Client {
            return Err(Error::Usage("only the client role opens streams"));
        }
        let core = {
            let mut out = sh.out();
            let st = sh.state();
            if st.closed || st.goaway_received || out.broken {
                return Err(Error::Closed);
            }
            drop(st);
            let id = out.next_id;
            if id > 0x7fff_ffff {
                return Err(Error::Protocol("stream ids exhausted".into()));
            }
            out.next_id += 2;
            let core = Core::new(id);
            sh.state().streams.insert(id, core.clone());
            let block = out.deflate.compress(&headers);
            let f = Control::SynStream { stream_id: id, associated: 0, priority: 0, flags: 0, block }.encode();
            if let Err(e) = sh.write_locked(&mut out, &[&f]) {
                drop(out);
                sh.close_all();
                return Err(e);
            }
            core
        };
        let deadline = Instant::now() + timeout;
        let mut st = core.lock();
        loop {
            if st.replied {
                break;
            }
            if st.remote_reset {
                return Err(Error::Reset(core.id));
            }
            if st.dead {
                return Err(Error::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                sh.reset(&core, rst::CANCEL);
                return Err(Error::Timeout);
            }
            st = core.cv.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        drop(st);
        Ok(Stream::new(core, sh.clone(), headers))
    }

    /// Wait for the next stream the peer opens (at most `timeout`; `None`: no limit), answer
    /// it with SYN_REPLY and return it with the headers it was opened with.
    pub fn accept(&self, timeout: Option<Duration>) -> Result<Stream, Error> {
        let sh = &self.shared;
        let deadline = timeout.map(|t| Instant::now() + t);
        let (core, headers, unidirectional) = {
            let mut st = sh.state();
            loop {
                if let Some(next) = st.incoming.pop_front() {
                    break next;
                }
                if st.closed || st.goaway_received || st.goaway_sent {
                    return Err(Error::Closed);
                }
                st = match deadline {
                    None => sh.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return Err(Error::Timeout);
                        }
                        sh.cv.wait_timeout(st, d - now).unwrap_or_else(|e| e.into_inner()).0
                    }
                };
            }
        };
        if !unidirectional {
            let mut out = sh.out();
            let block = out.deflate.compress(&Headers::new());
            let f = Control::SynReply { stream_id: core.id, flags: 0, block }.encode();
            if sh.write_locked(&mut out, &[&f]).is_err() {
                // The stream then reports the closed connection.
                drop(out);
                sh.close_all();
            }
        }
        Ok(Stream::new(core, sh.clone(), headers))
    }

    /// Send GOAWAY (once): the peer may open no more streams; streams open now go on.
    /// [`Session::accept`] returns [`Error::Closed`] once the streams already received are
    /// taken.
    pub fn go_away(&self) {
        let sh = &self.shared;
        let last_good = {
            let mut st = sh.state();
            if st.goaway_sent || st.closed {
                return;
            }
            st.goaway_sent = true;
            sh.cv.notify_all();
            st.last_peer_id
        };
        let _ = sh.send_control(&Control::GoAway { last_good, status: goaway::OK });
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.state().closed
    }

    /// Wait until the connection is gone (at most `timeout`; `None`: no limit). Returns
    /// whether it is.
    pub fn wait_closed(&self, timeout: Option<Duration>) -> bool {
        let sh = &self.shared;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = sh.state();
        while !st.closed {
            st = match deadline {
                None => sh.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    sh.cv.wait_timeout(st, d - now).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
        true
    }

    /// Run `f` once when the connection is gone (at once if it is already).
    pub fn on_close(&self, f: impl FnOnce() + Send + 'static) {
        let mut st = self.shared.state();
        if st.closed {
            drop(st);
            f();
        } else {
            st.hooks.push(Box::new(f));
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn out(&self) -> MutexGuard<'_, Out> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stream_buffer(&self) -> usize {
        self.cfg.stream_buffer
    }

    /// Write `parts` as one piece under the writer lock. A failure closes the session.
    fn write_locked(&self, out: &mut Out, parts: &[&[u8]]) -> Result<(), Error> {
        if out.broken {
            return Err(Error::Closed);
        }
        let mut buf = std::mem::take(&mut out.scratch);
        buf.clear();
        for p in parts {
            buf.extend_from_slice(p);
        }
        let r = out.w.write_all(&buf).and_then(|_| out.w.flush());
        if buf.capacity() <= 2 * (frame::HEAD_LEN + crate::stream::MAX_DATA_FRAME) {
            out.scratch = buf;
        }
        if let Err(e) = r {
            out.broken = true;
            log::trace!("spdy: write failed: {e}");
            // The caller closes the session once it has let go of the writer.
            return Err(Error::Io(e));
        }
        Ok(())
    }

    /// Send a control frame without header block.
    pub(crate) fn send_control(&self, c: &Control) -> Result<(), Error> {
        let f = c.encode();
        let r = {
            let mut out = self.out();
            self.write_locked(&mut out, &[&f])
        };
        if r.is_err() {
            self.close_all();
        }
        r
    }

    /// Send one data frame.
    pub(crate) fn send_data(&self, id: u32, flags: u8, data: &[u8]) -> Result<(), Error> {
        let head = frame::data_head(id, flags, data.len());
        let r = {
            let mut out = self.out();
            self.write_locked(&mut out, &[&head, data])
        };
        if r.is_err() {
            self.close_all();
        }
        r
    }

    /// Reset a stream from this side.
    pub(crate) fn reset(&self, core: &Arc<Core>, status: u32) {
        {
            let mut st = core.lock();
            if st.local_reset || st.remote_reset || st.dead {
                return;
            }
            st.local_reset = true;
            st.buf.clear();
            st.buffered = 0;
            core.cv.notify_all();
        }
        self.state().streams.remove(&core.id);
        let _ = self.send_control(&Control::RstStream { stream_id: core.id, status });
    }

    /// Forget a stream whose handles are both gone.
    pub(crate) fn release(&self, core: &Arc<Core>) {
        let done = {
            let st = core.lock();
            st.read_closed && st.writer_dropped
        };
        if done {
            let mut s = self.state();
            if s.streams.get(&core.id).is_some_and(|c| Arc::ptr_eq(c, core)) {
                s.streams.remove(&core.id);
            }
        }
    }

    /// The connection is gone: wake everybody, run the hooks.
    fn close_all(&self) {
        let (hooks, cores) = {
            let mut st = self.state();
            if st.closed {
                return;
            }
            st.closed = true;
            self.cv.notify_all();
            let cores: Vec<_> = st.streams.values().cloned().chain(st.incoming.iter().map(|i| i.0.clone())).collect();
            (std::mem::take(&mut st.hooks), cores)
        };
        for c in cores {
            c.lock().dead = true;
            c.cv.notify_all();
        }
        for h in hooks {
            h();
        }
    }

    fn read_loop(&self, r: &mut impl Read) -> Result<(), Error> {
        let mut inflate = Inflater::new();
        loop {
            let mut head = [0u8; frame::HEAD_LEN];
            match read_full(r, &mut head)? {
                0 => return Ok(()),
                n if n < head.len() => return Err(Error::Protocol("connection ends inside a frame".into())),
                _ => {}
            }
            match Head::decode(head) {
                Head::Control { version, kind, flags, len } => {
                    if version != frame::VERSION {
                        return Err(Error::Protocol(format!("SPDY version {version} (only 3 is spoken)")));
                    }
                    if len > frame::MAX_CONTROL_PAYLOAD {
                        return Err(Error::Protocol(format!("control frame of {len} bytes")));
                    }
                    let mut p = vec![0u8; len];
                    r.read_exact(&mut p)?;
                    let c = Control::decode(kind, flags, &p)?;
                    self.on_control(c, &mut inflate)?;
                }
                Head::Data { stream_id, flags, len } => self.on_data(r, stream_id, flags, len)?,
            }
        }
    }

    fn on_data(&self, r: &mut impl Read, id: u32, flags: u8, len: usize) -> Result<(), Error> {
        let core = self.state().streams.get(&id).cloned();
        let Some(core) = core else {
            return discard(r, len);
        };
        let mut left = len;
        while left > 0 {
            let mut st = core.lock();
            while !st.discards() && st.buffered >= self.cfg.stream_buffer {
                let (g, t) = core.cv.wait_timeout(st, Duration::from_secs(1)).unwrap_or_else(|e| e.into_inner());
                st = g;
                if t.timed_out() && self.cfg.stall_probe.as_ref().is_some_and(|p| p()) {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the peer went away while a stream was full",
                    )));
                }
            }
            if st.discards() || st.remote_fin {
                drop(st);
                return discard(r, left);
            }
            drop(st);
            let n = left.min(CHUNK);
            let mut v = vec![0u8; n];
            r.read_exact(&mut v)?;
            left -= n;
            let mut st = core.lock();
            if !st.discards() {
                st.buffered += n;
                st.buf.push_back(v);
                core.cv.notify_all();
            }
        }
        if flags & frame::FLAG_FIN != 0 {
            let mut st = core.lock();
            st.remote_fin = true;
            core.cv.notify_all();
        }
        Ok(())
    }

    fn on_control(&self, c: Control, inflate: &mut Inflater) -> Result<(), Error> {
        match c {
            Control::SynStream { stream_id, flags, block, .. } => {
                // Always decode: the compression context spans the connection.
                let headers = inflate.decompress(&block)?;
                let peer_parity = if self.role == Role::Server { 1 } else { 0 };
                let refuse = {
                    let mut st = self.state();
                    if stream_id == 0 || stream_id % 2 != peer_parity || stream_id <= st.last_peer_id {
                        Some(rst::PROTOCOL_ERROR)
                    } else {
                        st.last_peer_id = stream_id;
                        if st.goaway_sent || st.closed || st.incoming.len() >= self.cfg.accept_backlog {
                            Some(rst::REFUSED_STREAM)
                        } else {
                            let core = Core::new(stream_id);
                            {
                                let mut cs = core.lock();
                                cs.remote_fin = flags & frame::FLAG_FIN != 0;
                                cs.write_closed = flags & frame::FLAG_UNIDIRECTIONAL != 0;
                            }
                            st.streams.insert(stream_id, core.clone());
                            st.incoming.push_back((core, headers, flags & frame::FLAG_UNIDIRECTIONAL != 0));
                            self.cv.notify_all();
                            None
                        }
                    }
                };
                if let Some(status) = refuse {
                    log::debug!("spdy: refusing stream {stream_id} (status {status})");
                    let _ = self.send_control(&Control::RstStream { stream_id, status });
                }
            }
            Control::SynReply { stream_id, flags, block } => {
                inflate.decompress(&block)?;
                if let Some(core) = self.state().streams.get(&stream_id).cloned() {
                    let mut st = core.lock();
                    st.replied = true;
                    st.remote_fin |= flags & frame::FLAG_FIN != 0;
                    core.cv.notify_all();
                }
            }
            Control::Headers { stream_id, flags, block } => {
                inflate.decompress(&block)?;
                if flags & frame::FLAG_FIN != 0 {
                    if let Some(core) = self.state().streams.get(&stream_id).cloned() {
                        core.lock().remote_fin = true;
                        core.cv.notify_all();
                    }
                }
            }
            Control::RstStream { stream_id, status } => {
                log::trace!("spdy: stream {stream_id} reset by the peer (status {status})");
                if let Some(core) = self.state().streams.remove(&stream_id) {
                    let mut st = core.lock();
                    st.remote_reset = true;
                    core.cv.notify_all();
                }
            }
            Control::Ping(id) => {
                // Pings of the peer's parity are the peer's: echo them.
                let own_parity = if self.role == Role::Client { 1 } else { 0 };
                if id % 2 != own_parity {
                    let _ = self.send_control(&Control::Ping(id));
                }
            }
            Control::GoAway { last_good, status } => {
                log::trace!("spdy: GOAWAY (last good stream {last_good}, status {status})");
                self.state().goaway_received = true;
                self.cv.notify_all();
            }
            // Flow control is not used by moby/spdystream peers (see the crate docs).
            Control::Settings(_) | Control::WindowUpdate { .. } | Control::Unknown(_) => {}
        }
        Ok(())
    }
}

/// Read until `buf` is full or EOF; the count read (0: EOF before anything).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, Error> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(n)
}

/// Skip `len` bytes of payload.
fn discard(r: &mut impl Read, len: usize) -> Result<(), Error> {
    let n = io::copy(&mut r.take(len as u64), &mut io::sink())?;
    if (n as usize) < len {
        return Err(Error::Protocol("connection ends inside a frame".into()));
    }
    Ok(())
}
