//! Content-addressed blob store.
//!
//! Layout under `<root>/content`: `blobs/sha256/<hex>` for committed blobs and
//! `ingest/<key>.data` (+ `.lock`) for writes in progress. A write becomes visible
//! only after its digest (and size, when known) were verified: the ingest file is
//! then renamed into `blobs/`. A partial ingest survives an interrupted writer so a
//! later one can resume from its offset (HTTP Range downloads).
//!
//! Durability is batched: commits are not flushed one by one. The operation that will
//! reference a blob from a durable record (an image registration) calls [`ContentStore::flush`]
//! (one `syncfs(2)`) before writing that record, so a record never names data a power loss
//! could take back. A blob visible but not yet flushed when the machine goes down is
//! unreferenced after the reboot, and start-up garbage collection removes it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hasher};
use crate::error::{Error, Result};
use crate::sys::{self, FileLock};

/// The blob store of one engine root.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

impl ContentStore {
    /// Open (creating if needed) the store at `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let blobs = dir.join("blobs").join("sha256");
        let ingest = dir.join("ingest");
        sys::fs::ensure_dir(&blobs, 0o700)?;
        sys::fs::ensure_dir(&ingest, 0o700)?;
        Ok(ContentStore { blobs, ingest })
    }

    /// The directory of committed blobs.
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    /// Where the blob with digest `d` lives (whether or not it exists).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.hex())
    }

    /// True when the blob is committed.
    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Size in bytes of a committed blob.
    pub fn size(&self, d: &Digest) -> Result<u64> {
        let p = self.path(d);
        fs::metadata(&p).map(|m| m.len()).map_err(|e| self.blob_err(d, e))
    }

    /// Open a committed blob for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        File::open(self.path(d)).map_err(|e| self.blob_err(d, e))
    }

    /// Read a committed blob into memory, refusing blobs larger than `max` bytes.
    pub fn read(&self, d: &Digest, max: u64) -> Result<Vec<u8>> {
        let f = self.open_blob(d)?;
        let len = f.metadata().map_err(|e| self.blob_err(d, e))?.len();
        if len > max {
            return Err(Error::invalid(format!("blob {d} is {len} bytes, more than the limit of {max}")));
        }
        let mut buf = Vec::with_capacity(len as usize);
        f.take(max.saturating_add(1)).read_to_end(&mut buf).map_err(|e| self.blob_err(d, e))?;
        Ok(buf)
    }

    /// Store `data`, verifying it against `expected` when given. Returns its digest.
    pub fn put(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let d = Digest::of(data);
        if let Some(want) = expected {
            if *want != d {
                return Err(mismatch(want, &d));
            }
        }
        if self.contains(&d) {
            return Ok(d);
        }
        let tmp = self.scratch_path("put");
        let res =
            fs::write(&tmp, data).map_err(|e| Error::io(&tmp, "write", e)).and_then(|()| self.publish_file(&tmp, &d));
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res.map(|()| d)
    }

    /// A fresh scratch file name in the ingest directory (not resumable, so removed at
    /// start-up when a crash leaves it).
    fn scratch_path(&self, what: &str) -> PathBuf {
        self.ingest.join(format!("{NOT_RESUMABLE}{what}-{}-{}.data", std::process::id(), unique()))
    }

    /// Rename the verified file `from` to the blob `d` (an existing blob, necessarily
    /// identical, is kept and `from` removed).
    fn publish_file(&self, from: &Path, d: &Digest) -> Result<()> {
        let target = self.path(d);
        if target.exists() {
            let _ = fs::remove_file(from);
            return Ok(());
        }
        fs::rename(from, &target).map_err(|e| Error::io(&target, "commit blob to", e))
    }

    /// Move `file`, whose digest `d` and size the caller has already computed while writing
    /// it, into the store without copying (a rename; a copy when `file` is on another
    /// filesystem). `file` must not change any more; it is gone afterwards. Returns true when
    /// the blob is new.
    pub fn adopt(&self, file: &Path, d: &Digest) -> Result<bool> {
        if self.contains(d) {
            return Ok(false);
        }
        match fs::rename(file, self.path(d)) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                let mut f = File::open(file).map_err(|e| Error::io(file, "open", e))?;
                self.write_from(&mut f, Some(d), None)?;
                Ok(true)
            }
            Err(e) => Err(Error::io(self.path(d), "commit blob to", e)),
        }
    }

    /// Make every committed blob durable: one `syncfs(2)` of the store's filesystem.
    pub fn flush(&self) -> Result<()> {
        sys::openat::DirFd::open(&self.blobs)
            .and_then(|d| d.syncfs())
            .map_err(|e| Error::io(&self.blobs, "sync filesystem of", e))
    }

    /// Stream `reader` into the store, verifying digest and size when given.
    pub fn write_from(
        &self,
        reader: &mut dyn Read,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<(Digest, u64)> {
        if let Some(d) = expected {
            if self.contains(d) {
                io::copy(reader, &mut io::sink())?;
                return Ok((d.clone(), self.size(d)?));
            }
        }
        // A private scratch file, not a resumable ingest: concurrent writers of one blob each
        // write their own copy and the first rename wins.
        let tmp = self.scratch_path("load");
        let res = (|| {
            let file = File::create(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
            let mut w = HashingWriter { file, hasher: Hasher::new() };
            // A failed load or import (full disk, bad input) leaves nothing behind.
            let n = io::copy(reader, &mut w).map_err(|e| Error::io(&tmp, "write", e))?;
            let got = w.hasher.finish();
            if let Some(want) = expected_size {
                if want != n {
                    let shown = expected.unwrap_or(&got);
                    return Err(Error::invalid(format!("size mismatch for {shown}: expected {want} bytes, got {n}")));
                }
            }
            if let Some(want) = expected {
                if *want != got {
                    return Err(mismatch(want, &got));
                }
            }
            self.publish_file(&tmp, &got)?;
            Ok((got, n))
        })();
        if res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res
    }

    /// Open (or resume) the ingest named `key`, waiting while another writer holds it.
    /// Existing partial data is re-hashed so writing continues at [`Ingest::offset`].
    pub fn ingest(&self, key: &str) -> Result<Ingest> {
        if key.is_empty() || key.contains('/') || key.starts_with('.') {
            return Err(Error::invalid(format!("invalid ingest key {key:?}")));
        }
        let lock = FileLock::lock(&self.ingest.join(format!("{key}.lock")))?;
        let data_path = self.ingest.join(format!("{key}.data"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&data_path)
            .map_err(|e| Error::io(&data_path, "open", e))?;
        let mut hasher = Hasher::new();
        io::copy(&mut file, &mut hasher).map_err(|e| Error::io(&data_path, "read", e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| Error::io(&data_path, "seek", e))?;
        Ok(Ingest { file, hasher, data_path, blobs: self.blobs.clone(), _lock: lock })
    }

    /// Remove a committed blob; a missing blob is `NotFound`.
    pub fn delete(&self, d: &Digest) -> Result<()> {
        fs::remove_file(self.path(d)).map_err(|e| self.blob_err(d, e))
    }

    /// All committed blobs.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.blobs).map_err(|e| Error::io(&self.blobs, "list", e))? {
            let e = e?;
            if let Some(name) = e.file_name().to_str() {
                if let Ok(d) = Digest::from_hex(name) {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Partial ingests currently on disk (key and bytes written so far).
    pub fn partial_ingests(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.ingest).map_err(|e| Error::io(&self.ingest, "list", e))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(key) = name.strip_suffix(".data") {
                out.push((key.to_string(), e.metadata()?.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Remove partial data nobody can resume: every ingest of a load, import or put (a pull's
    /// is keyed by its digest alone), pulls' ingests untouched for `max_age`, and lock files
    /// without data. Ingests in use (locked) are skipped. Returns how many were removed.
    pub fn clean_ingests(&self, max_age: std::time::Duration) -> Result<usize> {
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        for e in fs::read_dir(&self.ingest).map_err(|e| Error::io(&self.ingest, "list", e))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(key) = name.strip_suffix(".data") else { continue };
            let stale = key.starts_with(NOT_RESUMABLE)
                || e.metadata()
                    .and_then(|m| m.modified())
                    .map(|t| now.duration_since(t).unwrap_or_default() >= max_age)
                    .unwrap_or(false);
            if !stale {
                continue;
            }
            if let Some(lock) = FileLock::try_lock(&self.ingest.join(format!("{key}.lock")))? {
                if fs::remove_file(e.path()).is_ok() {
                    removed += 1;
                }
                lock.remove();
            }
        }
        // Lock files left by writers that committed or were killed.
        for e in fs::read_dir(&self.ingest).map_err(|e| Error::io(&self.ingest, "list", e))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(key) = name.strip_suffix(".lock") else { continue };
            if self.ingest.join(format!("{key}.data")).exists() {
                continue;
            }
            if let Some(lock) = FileLock::try_lock(&e.path())? {
                // Data may have appeared between the check and the lock.
                if !self.ingest.join(format!("{key}.data")).exists() {
                    lock.remove();
                }
            }
        }
        Ok(removed)
    }

    fn blob_err(&self, d: &Digest, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::NotFound {
            Error::not_found(format!("blob {d} not found in the content store"))
        } else {
            Error::io(self.path(d), "access blob", e)
        }
    }
}

/// Key prefix of ingests that are never resumed (loads, imports, puts): removed at start-up.
const NOT_RESUMABLE: &str = "tmp-";

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (t.as_nanos() as u64) ^ (N.fetch_add(1, Ordering::Relaxed) << 48)
}

fn mismatch(want: &Digest, got: &Digest) -> Error {
    Error::invalid(format!("digest mismatch: expected {want}, got {got}"))
}

/// A write in progress; holds the ingest lock until committed, aborted or dropped.
/// Dropping without commit keeps the partial data for a later resume.
pub struct Ingest {
    file: File,
    hasher: Hasher,
    data_path: PathBuf,
    blobs: PathBuf,
    _lock: FileLock,
}

impl Ingest {
    /// Bytes already written (the offset to resume from).
    pub fn offset(&self) -> u64 {
        self.hasher.len()
    }

    /// A new read handle on the data written so far (from its start).
    pub fn open_written(&self) -> Result<File> {
        File::open(&self.data_path).map_err(|e| Error::io(&self.data_path, "open", e))
    }

    /// Throw away partial data and start from offset 0.
    pub fn reset(&mut self) -> Result<()> {
        self.file.set_len(0).map_err(|e| Error::io(&self.data_path, "truncate", e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| Error::io(&self.data_path, "seek", e))?;
        self.hasher = Hasher::new();
        Ok(())
    }

    /// Verify and publish the blob. On a digest or size mismatch the partial data is
    /// removed and nothing becomes visible.
    pub fn commit(self, expected: Option<&Digest>, expected_size: Option<u64>) -> Result<Digest> {
        let size = self.hasher.len();
        let got = self.hasher.clone().finish();
        let fail = |e: Error| {
            let _ = fs::remove_file(&self.data_path);
            Err(e)
        };
        let result = self.publish(expected, expected_size, size, &got, fail);
        self._lock.remove();
        result
    }

    fn publish(
        &self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        size: u64,
        got: &Digest,
        fail: impl Fn(Error) -> Result<Digest>,
    ) -> Result<Digest> {
        if let Some(want) = expected_size {
            if want != size {
                return fail(Error::invalid(format!(
                    "size mismatch for {}: expected {want} bytes, got {size}",
                    expected.map(|d| d.to_string()).unwrap_or_else(|| got.to_string())
                )));
            }
        }
        if let Some(want) = expected {
            if want != got {
                return fail(mismatch(want, got));
            }
        }
        // Not flushed here: see the module doc (durability is batched by the caller).
        let target = self.blobs.join(got.hex());
        if target.exists() {
            let _ = fs::remove_file(&self.data_path);
        } else {
            fs::rename(&self.data_path, &target).map_err(|e| Error::io(&target, "commit blob to", e))?;
        }
        Ok(got.clone())
    }

    /// Remove the partial data (and the lock file).
    pub fn abort(self) {
        let _ = fs::remove_file(&self.data_path);
        self._lock.remove();
    }
}

/// Bulk writes start the writeback of what they wrote every this many bytes.
const WRITEBACK_STEP: u64 = 8 << 20;

/// A file writer that hashes what it writes.
struct HashingWriter {
    file: File,
    hasher: Hasher,
}

/// Write `buf` to `file` and hash what was written, starting the kernel's writeback every
/// [`WRITEBACK_STEP`] bytes so that the final flush has little left to do.
fn write_hashed(file: &mut File, hasher: &mut Hasher, buf: &[u8]) -> io::Result<usize> {
    let n = file.write(buf)?;
    let before = hasher.len();
    hasher.update(&buf[..n]);
    if before / WRITEBACK_STEP != hasher.len() / WRITEBACK_STEP {
        sys::fs::start_writeback(file);
    }
    Ok(n)
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_hashed(&mut self.file, &mut self.hasher, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_hashed(&mut self.file, &mut self.hasher, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = ContentStore::open(&dir.path().join("content")).unwrap();
        (dir, s)
    }

    #[test]
    fn put_and_read() {
        let (_d, s) = store();
        let d = s.put(b"hello", None).unwrap();
        assert!(s.contains(&d));
        assert_eq!(s.read(&d, 100).unwrap(), b"hello");
        assert_eq!(s.read(&d, 2).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(s.list().unwrap(), vec![d]);
    }

    #[test]
    fn mismatch_leaves_nothing() {
        let (_d, s) = store();
        let wrong = Digest::of(b"other");
        let err = s.write_from(&mut &b"hello"[..], Some(&wrong), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        assert!(s.list().unwrap().is_empty());
        assert!(s.partial_ingests().unwrap().is_empty());
        let err = s.write_from(&mut &b"hello"[..], Some(&Digest::of(b"hello")), Some(4)).unwrap_err();
        assert!(err.to_string().contains("size mismatch"), "{err}");
        assert!(s.list().unwrap().is_empty());
    }

    #[test]
    fn ingest_resumes_after_drop() {
        let (_d, s) = store();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let want = Digest::of(&data);
        {
            let mut w = s.ingest("resume").unwrap();
            w.write_all(&data[..70_000]).unwrap();
        }
        let mut w = s.ingest("resume").unwrap();
        assert_eq!(w.offset(), 70_000);
        w.write_all(&data[70_000..]).unwrap();
        assert_eq!(w.commit(Some(&want), Some(data.len() as u64)).unwrap(), want);
        assert_eq!(s.read(&want, u64::MAX).unwrap(), data);
    }

    #[test]
    fn concurrent_writers_of_one_blob() {
        let (_d, s) = store();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 13) as u8).collect();
        let want = Digest::of(&data);
        std::thread::scope(|sc| {
            for _ in 0..8 {
                sc.spawn(|| {
                    let (d, n) = s.write_from(&mut &data[..], Some(&want), Some(data.len() as u64)).unwrap();
                    assert_eq!((d, n as usize), (want.clone(), data.len()));
                });
            }
        });
        assert_eq!(s.read(&want, u64::MAX).unwrap(), data);
        assert!(s.partial_ingests().unwrap().is_empty());
    }

    /// Everything in the ingest directory.
    fn ingest_files(s: &ContentStore) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(&s.ingest).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    /// A reader that fails after some bytes (a full disk, a cut connection).
    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("no space left on device"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn failed_and_committed_writes_leave_no_files() {
        let (_d, s) = store();
        let err = s.write_from(&mut Failing(300_000), Some(&Digest::of(b"x")), None).unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(s.write_from(&mut Failing(10), None, None).is_err());
        assert_eq!(ingest_files(&s), Vec::<String>::new(), "a failed load leaves nothing");
        s.put(b"committed", None).unwrap();
        let mut w = s.ingest("abc").unwrap();
        w.write_all(b"data").unwrap();
        w.commit(None, None).unwrap();
        assert_eq!(ingest_files(&s), Vec::<String>::new(), "commits remove their lock files");
    }

    #[test]
    fn clean_ingests_keeps_only_resumable_recent_pulls() {
        let (_d, s) = store();
        let pull = |key: &str| {
            let mut w = s.ingest(key).unwrap();
            w.write_all(b"partial").unwrap();
        };
        pull("recent");
        pull("old");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600);
        fs::File::options().write(true).open(s.ingest.join("old.data")).unwrap().set_modified(old).unwrap();
        // A load killed midway and a lock file whose writer is gone.
        fs::write(s.ingest.join(format!("{NOT_RESUMABLE}load-1.data")), b"half a layer").unwrap();
        fs::write(s.ingest.join("gone.lock"), b"").unwrap();
        // An ingest in use is left alone, however old.
        let mut busy = s.ingest(&format!("{NOT_RESUMABLE}busy")).unwrap();
        busy.write_all(b"writing").unwrap();

        assert_eq!(s.clean_ingests(std::time::Duration::from_secs(24 * 3600)).unwrap(), 2);
        assert_eq!(
            ingest_files(&s),
            ["recent.data", "recent.lock", &format!("{NOT_RESUMABLE}busy.data"), &format!("{NOT_RESUMABLE}busy.lock")]
        );
        let w = s.ingest("recent").unwrap();
        assert_eq!(w.offset(), 7, "the recent pull still resumes");
        w.abort();
        busy.abort();
        assert_eq!(ingest_files(&s), Vec::<String>::new());
    }
}
