//! One SPDY stream: its receive buffer and state (shared with the session's reader thread)
//! and the handles an application holds: [`Stream`], or its two halves [`StreamReader`] and
//! [`StreamWriter`]. Dropping the writer sends FIN; dropping the reader discards what
//! arrives from then on.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::frame::rst;
use crate::session::Shared;
use crate::Headers;

/// Largest data frame sent (moby/spdystream reads a frame into one allocation).
pub(crate) const MAX_DATA_FRAME: usize = 128 * 1024;

/// A stream's state, shared by its handles and the reader thread.
pub(crate) struct Core {
    pub(crate) id: u32,
    pub(crate) st: Mutex<St>,
    pub(crate) cv: Condvar,
}

/// What is known about a stream.
#[derive(Default)]
pub(crate) struct St {
    /// Received data not read yet.
    pub(crate) buf: VecDeque<Vec<u8>>,
    /// Bytes of `buf[0]` already read.
    pub(crate) off: usize,
    /// Bytes in `buf` not read yet.
    pub(crate) buffered: usize,
    /// The peer sent FIN.
    pub(crate) remote_fin: bool,
    /// The peer sent RST_STREAM.
    pub(crate) remote_reset: bool,
    /// The local reader is gone: incoming data is dropped.
    pub(crate) read_closed: bool,
    /// FIN was sent (or the stream is unidirectional towards us).
    pub(crate) write_closed: bool,
    /// The local writer handle is gone.
    pub(crate) writer_dropped: bool,
    /// We sent RST_STREAM.
    pub(crate) local_reset: bool,
    /// SYN_REPLY arrived (streams this side opened).
    pub(crate) replied: bool,
    /// The connection is gone.
    pub(crate) dead: bool,
}

impl St {
    /// Whether incoming data for this stream is to be dropped.
    pub(crate) fn discards(&self) -> bool {
        self.read_closed || self.local_reset || self.remote_reset || self.dead
    }
}

impl Core {
    pub(crate) fn new(id: u32) -> Arc<Core> {
        Arc::new(Core { id, st: Mutex::new(St::default()), cv: Condvar::new() })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, St> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream: read what the peer sends, write to the peer. Dropping it sends FIN (if not
/// sent yet) and discards what arrives later.
pub struct Stream {
    pub(crate) headers: Headers,
    pub(crate) reader: StreamReader,
    pub(crate) writer: StreamWriter,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("id", &self.id()).field("headers", &self.headers).finish()
    }
}

impl Stream {
    pub(crate) fn new(core: Arc<Core>, session: Arc<Shared>, headers: Headers) -> Stream {
        Stream {
            headers,
            reader: StreamReader { core: core.clone(), session: session.clone() },
            writer: StreamWriter { core, session },
        }
    }

    /// The stream id.
    pub fn id(&self) -> u32 {
        self.reader.core.id
    }

    /// The headers the opener sent in SYN_STREAM.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Separate halves, e.g. for two threads.
    pub fn split(self) -> (StreamReader, StreamWriter) {
        (self.reader, self.writer)
    }

    /// Send FIN: nothing more will be written; reading goes on.
    pub fn close_write(&mut self) -> io::Result<()> {
        self.writer.close()
    }

    /// Abort the stream (RST_STREAM CANCEL): both directions end at once.
    pub fn reset(&self) {
        self.reader.session.reset(&self.reader.core, rst::CANCEL)
    }

    /// A handle that can reset this stream later, e.g. to end a thread that holds one of
    /// its halves and waits in `read`.
    pub fn reset_handle(&self) -> ResetHandle {
        ResetHandle { core: self.reader.core.clone(), session: self.reader.session.clone() }
    }
}

/// Resets one stream (see [`Stream::reset_handle`]). Resetting a stream that has ended
/// already does nothing.
#[derive(Clone)]
pub struct ResetHandle {
    core: Arc<Core>,
    session: Arc<Shared>,
}

impl std::fmt::Debug for ResetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetHandle").field("id", &self.core.id).finish()
    }
}

impl ResetHandle {
    /// Send RST_STREAM CANCEL unless the stream was reset or the connection is gone.
    pub fn reset(&self) {
        self.session.reset(&self.core, rst::CANCEL)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The receiving half of a stream. `read` returns 0 after the peer's FIN, `ConnectionReset`
/// after the peer's RST_STREAM and `ConnectionAborted` once the connection is gone.
pub struct StreamReader {
    core: Arc<Core>,
    session: Arc<Shared>,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader").field("id", &self.core.id).finish()
    }
}

impl StreamReader {
    /// The stream id.
    pub fn id(&self) -> u32 {
        self.core.id
    }

    /// Abort the stream (RST_STREAM CANCEL).
    pub fn reset(&self) {
        self.session.reset(&self.core, rst::CANCEL)
    }
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let limit = self.session.stream_buffer();
        let mut st = self.core.lock();
        loop {
            let off = st.off;
            if let Some(front) = st.buf.front() {
                let chunk = &front[off..];
                let n = chunk.len().min(out.len());
                out[..n].copy_from_slice(&chunk[..n]);
                let whole = n == chunk.len();
                let was_full = st.buffered >= limit;
                st.buffered -= n;
                if whole {
                    st.buf.pop_front();
                    st.off = 0;
                } else {
                    st.off += n;
                }
                if was_full && st.buffered < limit {
                    // The reader thread may wait for room.
                    self.core.cv.notify_all();
                }
                return Ok(n);
            }
            if st.remote_fin {
                return Ok(0);
            }
            if st.remote_reset {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "SPDY stream reset by the peer"));
            }
            if st.local_reset || st.dead {
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "SPDY stream or connection closed"));
            }
            st = self.core.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        {
            let mut st = self.core.lock();
            st.read_closed = true;
            st.buf.clear();
            st.buffered = 0;
            self.core.cv.notify_all();
        }
        self.session.release(&self.core);
    }
}

/// The sending half of a stream. Each `write` sends one data frame (at most 128 KiB);
/// dropping it or [`StreamWriter::close`] sends FIN.
pub struct StreamWriter {
    core: Arc<Core>,
    session: Arc<Shared>,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter").field("id", &self.core.id).finish()
    }
}

impl StreamWriter {
    /// The stream id.
    pub fn id(&self) -> u32 {
        self.core.id
    }

    /// Send FIN (once; later calls do nothing).
    pub fn close(&mut self) -> io::Result<()> {
        {
            let mut st = self.core.lock();
            if st.write_closed || st.local_reset || st.remote_reset || st.dead {
                return Ok(());
            }
            st.write_closed = true;
        }
        self.session.send_data(self.core.id, crate::frame::FLAG_FIN, &[]).map_err(Into::into)
    }

    /// Abort the stream (RST_STREAM CANCEL).
    pub fn reset(&self) {
        self.session.reset(&self.core, rst::CANCEL)
    }

    fn check(&self) -> io::Result<()> {
        let st = self.core.lock();
        let (kind, msg) = if st.remote_reset {
            (io::ErrorKind::ConnectionReset, "SPDY stream reset by the peer")
        } else if st.dead || st.local_reset {
            (io::ErrorKind::ConnectionAborted, "SPDY stream or connection closed")
        } else if st.write_closed {
            (io::ErrorKind::BrokenPipe, "SPDY stream closed for writing")
        } else {
            return Ok(());
        };
        Err(io::Error::new(kind, msg))
    }
}

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.check()?;
        let n = buf.len().min(MAX_DATA_FRAME);
        self.session.send_data(self.core.id, 0, &buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        let _ = self.close();
        self.core.lock().writer_dropped = true;
        self.session.release(&self.core);
    }
}
