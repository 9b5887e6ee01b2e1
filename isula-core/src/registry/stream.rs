//! A blob streamed from the registry into the content store and, at the same time, to a
//! reader (the layer unpacker), so a layer is unpacked while it downloads. Resumption
//! (`Range`) and retries happen inside `read`: the reader sees one uninterrupted stream,
//! starting with whatever a previous, interrupted pull left in the ingest.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use ureq::http::Method;

use super::manifest::Descriptor;
use super::session::{header, ReqBody, Session};
use super::transport::{is_transient_io, status_error};
use super::LayerProgress;
use crate::content::{ContentStore, Ingest};
use crate::error::{Error, Result};

/// Download blob `desc` into `store` and unpack it with `unpack` at the same time. A blob
/// already in the store is unpacked from there without downloading. The digest is verified
/// once the stream ends; on a mismatch the blob is refused and removed, and the unpacked
/// result dropped. `committed` is set when this call committed the blob, also when `unpack`
/// failed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fetch_unpack<T>(
    s: &Session,
    store: &ContentStore,
    desc: &Descriptor,
    retries: u32,
    cancel: &AtomicBool,
    events: &dyn Fn(LayerProgress),
    unpack: &(dyn Fn(&mut dyn Read) -> Result<T> + Sync),
    committed: &mut bool,
) -> Result<T>
where
    T: Send,
{
    let d = &desc.digest;
    let from_store = |events: &dyn Fn(LayerProgress)| -> Result<T> {
        events(LayerProgress::AlreadyExists);
        let mut f = store.open_blob(d)?;
        unpack(&mut f)
    };
    if store.contains(d) {
        return from_store(events);
    }
    let ing = store.ingest(d.hex())?;
    if store.contains(d) {
        ing.abort();
        return from_store(events);
    }
    let mut stream = BlobStream::new(s, desc, ing, retries, cancel, events)?;
    let unpacked = pipelined(&mut stream, unpack);
    if let Some(f) = stream.failure.take() {
        return Err(f);
    }
    // Read what the unpacker left (padding after the end of the archive), verify, commit.
    // After an unpacking error too: a corrupt download is then told apart from a bad layer.
    let finished = stream.finish();
    *committed = finished.is_ok();
    finished?;
    unpacked
}

/// Chunks handed from the download to the unpacker, and how many may wait between them.
const CHUNK: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// Run `unpack` on its own thread, reading what this thread pulls from `stream`: the
/// download (receive, hash, write the blob) and the unpacking (decompress, hash, write the
/// files) of one layer overlap. A download failure reaches the unpacker as a read error
/// (the real error stays in `stream.failure`).
fn pipelined<T: Send>(stream: &mut BlobStream, unpack: &(dyn Fn(&mut dyn Read) -> Result<T> + Sync)) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(CHUNKS_IN_FLIGHT);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|sc| {
        let unpacker = sc.spawn(move || {
            let mut r = ChunkReader { rx, free: free_tx, cur: Vec::new(), len: 0, pos: 0, done: false };
            unpack(&mut r)
        });
        loop {
            // Buffers go back and forth at full length; a chunk is (buffer, bytes used).
            let mut buf = free_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
            match stream.read(&mut buf) {
                Ok(0) => {
                    // The end marker: an empty chunk.
                    let _ = tx.send((Vec::new(), 0));
                    break;
                }
                Ok(n) => {
                    if tx.send((buf, n)).is_err() {
                        break; // the unpacker stopped (failed)
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        drop(tx);
        unpacker.join().unwrap_or_else(|_| Err(Error::internal("layer unpacker panicked")))
    })
}

/// The unpacker's side of [`pipelined`].
struct ChunkReader {
    rx: mpsc::Receiver<(Vec<u8>, usize)>,
    free: mpsc::Sender<Vec<u8>>,
    cur: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            let (next, len) = self.rx.recv().map_err(|_| io::Error::other("blob download failed"))?;
            if len == 0 {
                self.done = true;
                return Ok(0);
            }
            let old = std::mem::replace(&mut self.cur, next);
            if !old.is_empty() {
                let _ = self.free.send(old);
            }
            (self.len, self.pos) = (len, 0);
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The reader side: replays the partial ingest, then the HTTP body (from `Range` where
/// the ingest stops), writing every new byte to the ingest as it passes.
struct BlobStream<'a, 's> {
    s: &'a Session<'s>,
    desc: &'a Descriptor,
    ing: Option<Ingest>,
    replay: Option<io::Take<File>>,
    body: Option<ureq::BodyReader<'static>>,
    /// Bytes at the start of the current response to drop (a server that ignored `Range`).
    skip: u64,
    attempt: u32,
    retries: u32,
    cancel: &'a AtomicBool,
    events: &'a dyn Fn(LayerProgress),
    last_event: u64,
    url: String,
    what: String,
    /// Why the stream failed, with its real error kind (the unpacker only sees an io error).
    failure: Option<Error>,
}

impl<'a, 's> BlobStream<'a, 's> {
    fn new(
        s: &'a Session<'s>,
        desc: &'a Descriptor,
        mut ing: Ingest,
        retries: u32,
        cancel: &'a AtomicBool,
        events: &'a dyn Fn(LayerProgress),
    ) -> Result<Self> {
        let d = &desc.digest;
        if ing.offset() > desc.size {
            ing.reset()?;
        }
        let replay = match ing.offset() {
            0 => None,
            n => {
                log::debug!("blob {d}: resuming at byte {n}");
                Some(ing.open_written()?.take(n))
            }
        };
        Ok(BlobStream {
            s,
            desc,
            ing: Some(ing),
            replay,
            body: None,
            skip: 0,
            attempt: 0,
            retries,
            cancel,
            events,
            last_event: 0,
            url: s.url(&format!("blobs/{d}")),
            what: format!("{}: blob {d} of {}", s.registry_name(), s.repository()),
            failure: None,
        })
    }

    fn ingest(&mut self) -> Result<&mut Ingest> {
        let what = &self.what;
        self.ing.as_mut().ok_or_else(|| Error::internal(format!("{what}: stream used after it failed")))
    }

    /// Send the (next) GET, from where the ingest stops.
    fn open(&mut self) -> Result<()> {
        let offset = self.ingest()?.offset();
        let mut headers = Vec::new();
        if offset > 0 {
            headers.push(("Range", format!("bytes={offset}-")));
        }
        let resp = self.s.send(Method::GET, &self.url, &headers, ReqBody::Empty)?;
        let start = match resp.status().as_u16() {
            200 => {
                self.skip = offset;
                0
            }
            206 => {
                let range = header(&resp, "content-range").unwrap_or_default();
                if !range.trim().starts_with(&format!("bytes {offset}-")) {
                    return Err(Error::invalid(format!(
                        "{}: asked for bytes from {offset}, got Content-Range {range:?}",
                        self.what
                    )));
                }
                offset
            }
            _ => return Err(status_error(&self.what, resp)),
        };
        if let Some(len) = resp.body().content_length() {
            if start + len != self.desc.size {
                if offset == 0 {
                    if let Some(ing) = self.ing.take() {
                        ing.abort();
                    }
                }
                return Err(Error::invalid(format!(
                    "{}: server sends {} bytes, the manifest says {}",
                    self.what,
                    start + len,
                    self.desc.size
                )));
            }
        }
        self.body = Some(resp.into_body().into_reader());
        Ok(())
    }

    /// The connection ended early or failed: retry (resuming) or give up.
    fn interrupted(&mut self, e: Option<io::Error>) -> Result<()> {
        let at = self.ingest()?.offset();
        let reason = match e {
            Some(e) if !is_transient_io(&e) && e.kind() != io::ErrorKind::Other => {
                return Err(Error::unavailable(format!("{}: read failed at byte {at}: {e}", self.what)));
            }
            Some(e) => format!("{e}"),
            None => "connection closed early".into(),
        };
        if self.attempt >= self.retries {
            return Err(Error::unavailable(format!(
                "{}: download interrupted at byte {at} of {} ({reason}); the partial data is kept and the next pull resumes it",
                self.what, self.desc.size
            )));
        }
        self.attempt += 1;
        log::info!("{}: interrupted at byte {at} ({reason}), resuming", self.what);
        Ok(())
    }

    /// Next bytes of the HTTP side into `buf`; 0 at the end of the blob.
    fn next(&mut self, buf: &mut [u8]) -> Result<usize> {
        let size = self.desc.size;
        loop {
            let offset = self.ingest()?.offset();
            if offset >= size {
                return Ok(0);
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Err(
                    Error::unavailable(format!("{}: cancelled", self.what)).with_reason(crate::Reason::Cancelled)
                );
            }
            if self.body.is_none() {
                self.open()?;
            }
            let body = self.body.as_mut().expect("opened");
            let n = match body.read(buf) {
                Ok(0) => {
                    self.body = None;
                    self.interrupted(None)?;
                    continue;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.body = None;
                    self.interrupted(Some(e))?;
                    continue;
                }
            };
            let k = (self.skip.min(n as u64)) as usize;
            self.skip -= k as u64;
            if k == n {
                continue;
            }
            if k > 0 {
                buf.copy_within(k..n, 0);
            }
            let n = n - k;
            if offset + n as u64 > size {
                if let Some(ing) = self.ing.take() {
                    ing.abort();
                }
                return Err(Error::invalid(format!("{}: more data than the {size} bytes expected", self.what)));
            }
            let what = self.what.clone();
            let ing = self.ingest()?;
            ing.write_all(&buf[..n]).map_err(|e| Error::io(&what, "write blob", e))?;
            let now = ing.offset();
            if now * 2 >= size {
                crate::failpoint::hit("image.pull.mid-download");
            }
            if now - self.last_event >= 1 << 20 || now == size {
                self.last_event = now;
                (self.events)(LayerProgress::Downloading { current: now, total: size });
            }
            return Ok(n);
        }
    }

    /// Read to the end, verify digest and size, commit the blob.
    fn finish(mut self) -> Result<()> {
        let mut buf = vec![0u8; 256 * 1024];
        self.replay = None;
        while self.next(&mut buf)? > 0 {}
        (self.events)(LayerProgress::Verifying);
        let what = self.what.clone();
        let ing = self.ing.take().ok_or_else(|| Error::internal(format!("{what}: stream used after it failed")))?;
        ing.commit(Some(&self.desc.digest), Some(self.desc.size)).map_err(|e| e.context(&what))?;
        Ok(())
    }
}

impl Read for BlobStream<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(r) = &mut self.replay {
            let n = r.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.replay = None;
        }
        if self.failure.is_some() {
            return Err(io::Error::other("blob download failed"));
        }
        self.next(buf).map_err(|e| {
            let err = io::Error::other(e.to_string());
            self.failure = Some(e);
            err
        })
    }
}
