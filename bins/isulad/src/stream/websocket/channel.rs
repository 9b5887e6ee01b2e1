//! Kubelet's channel protocol over one WebSocket (`channel.k8s.io` and its versions): every
//! message starts with its channel number, a byte (binary protocols) or an ASCII digit
//! followed by base64 (`base64.` protocols); `v5` adds the close signal `[255, channel]`.
//!
//! [`Channels`] runs one connection: a thread reads the messages and moves the payloads into
//! a bounded [`Pipe`] per channel the client may send on; [`ChanWriter`]s frame their data
//! and write it under one lock. When the connection goes, the pipes end with an error, the
//! writers fail and [`Channels::hangup`] fires.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketContext};
use tungstenite::{Message, WebSocket};

use super::codec::{decode, encode, ws_config, Codec, Incoming};
use crate::stream::conn::{Conn, ConnReader, Socket};
use crate::stream::remote::Hangup;

/// Bytes a channel buffers before the reader thread waits for its consumer.
const PIPE_LIMIT: usize = 1 << 20;
/// How long the client has to answer our close frame before the socket is shut down.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How often a reader thread waiting for a slow consumer checks that the client is still there.
const LIVENESS_TICK: Duration = Duration::from_millis(200);

fn ws_error(e: tungstenite::Error) -> std::io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        e => std::io::Error::new(std::io::ErrorKind::BrokenPipe, e.to_string()),
    }
}

/// Whether the peer of `s` hung up (or the socket was shut down here).
fn peer_gone(s: &Socket) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let fd = match s {
        Socket::Tcp(t) => t.as_fd(),
        Socket::Unix(u) => u.as_fd(),
    };
    let rdhup = PollFlags::from_bits_retain(libc::POLLRDHUP);
    let mut fds = [PollFd::new(fd, rdhup)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().is_some_and(|r| r.intersects(rdhup | PollFlags::POLLHUP | PollFlags::POLLERR)),
        Err(_) => false,
    }
}

/// How a pipe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed the channel (v5 close signal): end of file.
    Eof,
    /// The connection went: an error.
    Broken,
}

#[derive(Debug, Default)]
struct PipeState {
    chunks: VecDeque<Vec<u8>>,
    len: usize,
    end: Option<End>,
    reader_gone: bool,
}

/// A bounded in-memory byte pipe from the connection's reader thread to one consumer.
#[derive(Debug, Default)]
pub(super) struct Pipe {
    st: Mutex<PipeState>,
    cv: Condvar,
}

impl Pipe {
    fn lock(&self) -> std::sync::MutexGuard<'_, PipeState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add `data`, waiting while the pipe is full; `gone` is asked now and then while
    /// waiting (true: give up). Dropped when the consumer has gone or the pipe has ended.
    fn push(&self, data: Vec<u8>, gone: &dyn Fn() -> bool) -> bool {
        let mut st = self.lock();
        while st.len >= PIPE_LIMIT && !st.reader_gone && st.end.is_none() {
            let (g, t) = self.cv.wait_timeout(st, LIVENESS_TICK).unwrap_or_else(|e| e.into_inner());
            st = g;
            if t.timed_out() && gone() {
                return false;
            }
        }
        if !st.reader_gone && st.end.is_none() && !data.is_empty() {
            st.len += data.len();
            st.chunks.push_back(data);
            self.cv.notify_all();
        }
        true
    }

    /// End the pipe (the first end counts); what was buffered is still read.
    fn end(&self, how: End) {
        let mut st = self.lock();
        st.end.get_or_insert(how);
        self.cv.notify_all();
    }

    /// Mark the consumer gone: further data is dropped.
    fn reader_gone(&self) {
        let mut st = self.lock();
        st.reader_gone = true;
        st.chunks.clear();
        st.len = 0;
        self.cv.notify_all();
    }
}

/// The consumer's end of a [`Pipe`].
pub(super) struct PipeReader {
    pipe: Arc<Pipe>,
    /// A partly read chunk.
    cur: Vec<u8>,
    pos: usize,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.cur.len() {
            let mut st = self.pipe.lock();
            loop {
                if let Some(c) = st.chunks.pop_front() {
                    st.len -= c.len();
                    self.pipe.cv.notify_all();
                    self.cur = c;
                    self.pos = 0;
                    break;
                }
                match st.end {
                    Some(End::Eof) => return Ok(0),
                    Some(End::Broken) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "the streaming connection closed",
                        ))
                    }
                    None => st = self.pipe.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.pipe.reader_gone();
    }
}

/// The writing side of the connection, shared by every writer and by the reader thread's
/// control answers (pongs).
struct Out {
    codec: Codec,
    st: Mutex<OutState>,
}

struct OutState {
    ws: WebSocketContext,
    sock: Socket,
    /// A close frame went out, or the connection is gone: nothing more is written.
    closed: bool,
}

impl Out {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, msg: Message) -> std::io::Result<()> {
        let mut st = self.lock();
        if st.closed {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the streaming connection is closed"));
        }
        let OutState { ws, sock, .. } = &mut *st;
        ws.write(sock, msg).and_then(|_| ws.flush(sock)).map_err(ws_error)
    }

    /// Send a normal close frame (once) and stop writing.
    fn close(&self) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        st.closed = true;
        let OutState { ws, sock, .. } = &mut *st;
        let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        if let Err(e) = ws.close(sock, Some(frame)) {
            log::debug!("streaming server: sending a close frame: {e}");
        }
    }

    /// Stop writing without a close frame (the connection is gone).
    fn abandon(&self) {
        self.lock().closed = true;
    }

    /// Bytes of whole frames from the reader thread's WebSocket (its pongs and its answer
    /// to a close); dropped after our close frame.
    fn control(&self, buf: &[u8]) -> std::io::Result<usize> {
        let mut st = self.lock();
        if !st.closed {
            st.sock.write_all(buf)?;
        }
        Ok(buf.len())
    }
}

/// The stream of the reader thread's WebSocket: reads the connection, writes through [`Out`].
struct ReadSide {
    r: ConnReader,
    out: Arc<Out>,
}

impl Read for ReadSide {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.r.read(buf)
    }
}

impl Write for ReadSide {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.control(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer of one channel: every write is one message.
pub(super) struct ChanWriter {
    out: Arc<Out>,
    ch: u8,
}

impl Write for ChanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.out.send(encode(self.out.codec, self.ch, buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the client may send: the channels read (the others' data is dropped) and how many
/// channels the protocol has (a close signal for a channel past them is an error).
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// How messages are encoded.
    pub codec: Codec,
    /// Whether `[255, channel]` closes a channel (v5).
    pub close_signal: bool,
    /// The channels the client may send on.
    pub readable: Vec<u8>,
    /// Number of channels.
    pub count: usize,
}

/// One upgraded WebSocket connection carrying channels.
pub(super) struct Channels {
    out: Arc<Out>,
    pipes: Vec<(u8, Arc<Pipe>)>,
    ctl: Socket,
    done: Mutex<mpsc::Receiver<()>>,
    reader: Option<JoinHandle<()>>,
    /// Fired when the connection is gone (closed by the client, failed or idle too long).
    pub hangup: Arc<Hangup>,
}

impl Channels {
    /// Run the channels of `layout` on `conn` (the `101` is sent already).
    pub(super) fn start(conn: Conn, layout: Layout) -> std::io::Result<Channels> {
        let idle = conn.idle;
        conn.socket.set_read_timeout(Some(idle))?;
        // A client that stops reading fails the writer after as long (kubelet's idle deadline
        // covers writes too), which ends the session.
        match &conn.socket {
            Socket::Tcp(t) => t.set_write_timeout(Some(idle))?,
            Socket::Unix(u) => u.set_write_timeout(Some(idle))?,
        }
        let (r, w) = conn.split()?;
        let ctl = w.try_clone()?;
        let probe = w.try_clone()?;
        let out = Arc::new(Out {
            codec: layout.codec,
            st: Mutex::new(OutState {
                ws: WebSocketContext::new(Role::Server, Some(ws_config())),
                sock: w,
                closed: false,
            }),
        });
        let pipes: Vec<(u8, Arc<Pipe>)> = layout.readable.iter().map(|c| (*c, Arc::new(Pipe::default()))).collect();
        let hangup = Hangup::new();
        let (tx, done) = mpsc::channel();
        let reader = {
            let ws = WebSocket::from_raw_socket(ReadSide { r, out: out.clone() }, Role::Server, Some(ws_config()));
            let (out, pipes, hangup) = (out.clone(), pipes.clone(), hangup.clone());
            std::thread::Builder::new().name("stream-ws-read".into()).spawn(move || {
                read_loop(ws, &layout, &pipes, &probe);
                for (_, p) in &pipes {
                    p.end(End::Broken);
                }
                out.abandon();
                let _ = probe.shutdown(Shutdown::Both);
                hangup.fire();
                let _ = tx.send(());
            })?
        };
        Ok(Channels { out, pipes, ctl, done: Mutex::new(done), reader: Some(reader), hangup })
    }

    /// The reader of channel `ch` (one of the layout's readable channels).
    pub(super) fn reader(&self, ch: u8) -> Option<PipeReader> {
        self.pipe(ch).map(|pipe| PipeReader { pipe, cur: Vec::new(), pos: 0 })
    }

    fn pipe(&self, ch: u8) -> Option<Arc<Pipe>> {
        self.pipes.iter().find(|(c, _)| *c == ch).map(|(_, p)| p.clone())
    }

    /// End channel `ch`'s reader with an error (its consumer is to stop).
    pub(super) fn break_reader(&self, ch: u8) {
        if let Some(p) = self.pipe(ch) {
            p.end(End::Broken);
        }
    }

    /// A writer of channel `ch`.
    pub(super) fn writer(&self, ch: u8) -> ChanWriter {
        ChanWriter { out: self.out.clone(), ch }
    }

    /// Send a message with no payload on `ch` (kubelet's "connection established").
    pub(super) fn send_empty(&self, ch: u8) {
        if let Err(e) = self.out.send(encode(self.out.codec, ch, &[])) {
            log::debug!("streaming server: {e}");
        }
    }

    /// End the connection: a close frame, the client's answer (for a moment), the socket shut
    /// down, the reader thread joined.
    pub(super) fn finish(mut self) {
        self.out.close();
        let _ = self.done.lock().unwrap_or_else(|e| e.into_inner()).recv_timeout(CLOSE_WAIT);
        let _ = self.ctl.shutdown(Shutdown::Both);
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

/// Read messages until the connection ends, moving payloads into the pipes.
fn read_loop(mut ws: WebSocket<ReadSide>, layout: &Layout, pipes: &[(u8, Arc<Pipe>)], probe: &Socket) {
    let gone = || peer_gone(probe);
    loop {
        let (data, text) = match ws.read() {
            Ok(Message::Binary(b)) => (b, false),
            Ok(Message::Text(t)) => (t.into(), true),
            Ok(Message::Close(_)) => {
                // Answered by the next read, which then ends.
                continue;
            }
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => return,
            Err(e) => return log::debug!("streaming server: WebSocket: {e}"),
        };
        let msg = match decode(layout.codec, layout.close_signal, &data, text) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => return log::debug!("streaming server: {e}"),
        };
        let (ch, data) = match msg {
            Incoming::Close(ch) if usize::from(ch) >= layout.count => {
                return log::debug!("streaming server: close signal for channel {ch}, which does not exist");
            }
            Incoming::Close(ch) => {
                if let Some((_, p)) = pipes.iter().find(|(c, _)| *c == ch) {
                    p.end(End::Eof);
                }
                continue;
            }
            Incoming::Data(ch, data) => (ch, data),
        };
        if let Some((_, p)) = pipes.iter().find(|(c, _)| *c == ch) {
            if !p.push(data, &gone) {
                return log::debug!("streaming server: the client went away");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_delivers_then_ends() {
        let p = Arc::new(Pipe::default());
        let mut r = PipeReader { pipe: p.clone(), cur: Vec::new(), pos: 0 };
        assert!(p.push(b"abc".to_vec(), &|| false));
        assert!(p.push(b"de".to_vec(), &|| false));
        p.end(End::Eof);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        assert_eq!(s, b"abcde");
        let p = Arc::new(Pipe::default());
        let mut r = PipeReader { pipe: p.clone(), cur: Vec::new(), pos: 0 };
        p.end(End::Broken);
        assert!(r.read(&mut [0u8; 4]).is_err());
    }

    #[test]
    fn a_full_pipe_waits_for_its_reader_or_gives_up() {
        let p = Arc::new(Pipe::default());
        assert!(p.push(vec![0; PIPE_LIMIT], &|| false));
        // Full, and the client is gone: give up.
        assert!(!p.push(vec![1], &|| true));
        // Full, and the reader drains it meanwhile.
        let mut r = PipeReader { pipe: p.clone(), cur: Vec::new(), pos: 0 };
        let t = std::thread::spawn(move || {
            let mut buf = vec![0u8; PIPE_LIMIT];
            r.read_exact(&mut buf).unwrap();
            r
        });
        assert!(p.push(vec![2], &|| false));
        let mut r = t.join().unwrap();
        let mut b = [0u8; 1];
        r.read_exact(&mut b).unwrap();
        assert_eq!(b, [2]);
        drop(r);
        // The reader is gone: data is dropped, nothing waits.
        assert!(p.push(vec![0; PIPE_LIMIT * 2], &|| false));
    }
}
