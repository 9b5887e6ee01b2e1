//! Bridges between tonic streams and the engine's blocking `Read`/`Write` interfaces.
//!
//! * [`StreamReader`]: a blocking `Read` fed by an async task that forwards a client stream.
//! * [`ChunkWriter`]: a blocking `Write` whose bytes become a server stream of chunks.

use std::io::{self, Read, Write};

use tokio::sync::mpsc;
use tonic::Status;

/// Size of the chunks sent to clients.
pub(crate) const CHUNK: usize = 256 * 1024;

/// A blocking reader over byte chunks received from an async producer. An `Err` item
/// (client stream error) becomes an I/O error; the end of the channel is EOF.
pub(crate) struct StreamReader {
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    buf: Vec<u8>,
    pos: usize,
}

impl StreamReader {
    /// A reader and the sender its producer feeds (bounded: backpressure on the client).
    pub(crate) fn new() -> (StreamReader, mpsc::Sender<Result<Vec<u8>, String>>) {
        let (tx, rx) = mpsc::channel(8);
        (StreamReader { rx, buf: Vec::new(), pos: 0 }, tx)
    }
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(format!("client stream: {e}"))),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A blocking writer that sends `CHUNK`-sized pieces through a channel as built messages.
pub(crate) struct ChunkWriter<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    make: fn(Vec<u8>) -> T,
    buf: Vec<u8>,
}

impl<T> ChunkWriter<T> {
    /// A writer sending `make(bytes)` messages into `tx`.
    pub(crate) fn new(tx: mpsc::Sender<Result<T, Status>>, make: fn(Vec<u8>) -> T) -> Self {
        ChunkWriter { tx, make, buf: Vec::with_capacity(CHUNK) }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok((self.make)(data)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl<T> Write for ChunkWriter<T> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_joins_chunks_and_reports_errors() {
        let (mut r, tx) = StreamReader::new();
        let t = std::thread::spawn(move || {
            tx.blocking_send(Ok(b"hello ".to_vec())).unwrap();
            tx.blocking_send(Ok(Vec::new())).unwrap();
            tx.blocking_send(Ok(b"world".to_vec())).unwrap();
        });
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
        t.join().unwrap();

        let (mut r, tx) = StreamReader::new();
        tx.blocking_send(Err("reset".into())).unwrap();
        let e = r.read(&mut [0u8; 4]).unwrap_err();
        assert!(e.to_string().contains("reset"));
    }

    #[test]
    fn writer_chunks_and_flushes() {
        let (tx, mut rx) = mpsc::channel(64);
        let mut w = ChunkWriter::new(tx, |v: Vec<u8>| v);
        let data = vec![7u8; CHUNK + 10];
        w.write_all(&data).unwrap();
        w.flush().unwrap();
        drop(w);
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while let Some(Ok(c)) = rx.blocking_recv() {
            sizes.push(c.len());
            got.extend(c);
        }
        assert_eq!(got, data);
        assert_eq!(sizes, vec![CHUNK, 10]);
    }

    #[test]
    fn writer_fails_when_client_is_gone() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut w = ChunkWriter::new(tx, |v: Vec<u8>| v);
        w.write_all(b"x").unwrap();
        assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
