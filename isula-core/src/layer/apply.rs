//! Unpacking a layer tar into a directory in overlay form.
//!
//! Every parent directory is opened beneath the destination with openat2
//! (`RESOLVE_BENEATH`), so neither `..`, absolute names, symlinks created by the
//! layer nor hard links can reach outside it; such a layer is refused whole.

use std::cell::Cell;
use std::ffi::OsStr;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::compression::decompress;
use super::limits::{ImageBudget, IMAGE_SIZE_OPT, LAYER_SIZE_OPT};
use super::path::{clean_entry_path, split_parent};
use super::stream::{Exceeded, TarStream};
use super::whiteout::{self, Whiteout};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::sys::openat::DirFd;

/// Limits guarding against tar bombs.
#[derive(Debug, Clone)]
pub(crate) struct ApplyOptions {
    /// Maximum uncompressed tar size in bytes.
    pub max_size: u64,
    /// True when `max_size` is the configured `overlay2.max-layer-size` (errors name it).
    pub configured_max: bool,
    /// The budget shared with the other layers of the same image operation, if limited.
    pub image: Option<std::sync::Arc<ImageBudget>>,
    /// Maximum number of tar entries.
    pub max_entries: u64,
    /// Flush the destination's filesystem (syncfs) once the layer is written. Off by
    /// default: the snapshotter's callers batch durability (one flush per image).
    pub sync: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            max_size: BUILTIN_MAX_SIZE,
            configured_max: false,
            image: None,
            max_entries: 10_000_000,
            sync: false,
        }
    }
}

/// The largest uncompressed layer accepted without a configured limit.
const BUILTIN_MAX_SIZE: u64 = 64 << 30;

impl ApplyOptions {
    /// The defaults with the configured limits: `max_layer_size` (when below the built-in
    /// maximum) and the image operation's shared budget.
    pub(crate) fn limited(max_layer_size: Option<u64>, image: Option<std::sync::Arc<ImageBudget>>) -> Self {
        let mut o = ApplyOptions { image, ..ApplyOptions::default() };
        if let Some(m) = max_layer_size.filter(|m| *m < BUILTIN_MAX_SIZE) {
            o.max_size = m;
            o.configured_max = true;
        }
        o
    }
}

/// The result of applying one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppliedLayer {
    /// sha256 of the uncompressed tar stream (the OCI diff id).
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream in bytes.
    pub size: u64,
    /// Bytes of regular-file content written (hard links counted once).
    pub content_bytes: u64,
}

/// Apply a (possibly compressed) layer tar onto `dest`, converting whiteouts to
/// overlay form, without flushing it to disk unless `opts.sync` (callers flush once for a
/// whole image). On error `dest` may hold part of the layer: callers unpack into a scratch
/// directory and delete it on failure.
pub(crate) fn apply_layer_with(r: &mut dyn Read, dest: &Path, opts: &ApplyOptions) -> Result<AppliedLayer> {
    let root = DirFd::open(dest).map_err(|e| Error::io(dest, "open layer directory", e))?;
    let exceeded = Cell::new(None);
    let mut stream = TarStream::new(decompress(Box::new(r))?, opts.max_size, opts.image.as_deref(), &exceeded);
    let mut un = Unpacker {
        dest,
        dirs: DirCache { root, cached: None },
        dir_times: Vec::new(),
        buf: vec![0u8; COPY_BUF],
        content_bytes: 0,
        entries: 0,
        opts,
        exceeded: &exceeded,
        budget: space_budget(dest),
    };
    {
        let mut archive = tar::Archive::new(BufReader::with_capacity(HEADER_BUF, &mut stream));
        let entries = archive.entries().map_err(|e| un.read_error(e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| un.read_error(e))?;
            un.entry(&mut entry)?;
        }
        // Read to EOF (end blocks, record padding) so the digest covers the whole stream.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| un.read_error(e))?;
    }
    if stream.len() > 0 && !stream.ends_with_zero_block() {
        return Err(Error::invalid("corrupt layer tar: truncated (no end-of-archive block)"));
    }
    un.finish_dirs()?;
    if opts.sync {
        un.dirs.root.syncfs().map_err(|e| Error::io(dest, "sync filesystem of", e))?;
    }
    let content_bytes = un.content_bytes;
    let (diff_id, size) = stream.finish();
    Ok(AppliedLayer { diff_id, size, content_bytes })
}

const COPY_BUF: usize = 1 << 20;
/// Files at least this big get their writeback started when written (see
/// [`crate::sys::fs::start_writeback`]); smaller ones wait for the flush.
const WRITEBACK_MIN: u64 = 256 * 1024;
const HEADER_BUF: usize = 128 * 1024;

/// A one-entry cache of the last parent directory opened: tar entries come
/// grouped by directory, so most entries reuse it.
struct DirCache {
    root: DirFd,
    cached: Option<(PathBuf, DirFd)>,
}

impl DirCache {
    /// Open `parent` (relative, clean) beneath the root, creating missing
    /// directories (0755, root-owned) on the way.
    fn get(&mut self, parent: &Path) -> io::Result<&DirFd> {
        if parent.as_os_str().is_empty() {
            return Ok(&self.root);
        }
        let hit = matches!(&self.cached, Some((p, _)) if p == parent);
        if !hit {
            let fd = match self.root.open_beneath(parent) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.create_parents(parent)?,
                Err(e) => return Err(e),
            };
            self.cached = Some((parent.to_path_buf(), fd));
        }
        Ok(&self.cached.as_ref().expect("cached").1)
    }

    fn create_parents(&self, parent: &Path) -> io::Result<DirFd> {
        let mut cur = PathBuf::new();
        let mut dir = self.root.open_beneath(Path::new(""))?;
        for comp in parent.iter() {
            cur.push(comp);
            match dir.mkdir(comp, 0o755) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
            }
            dir = self.root.open_beneath(&cur)?;
        }
        Ok(dir)
    }
}

struct Unpacker<'a> {
    dest: &'a Path,
    dirs: DirCache,
    dir_times: Vec<(PathBuf, Times)>,
    buf: Vec<u8>,
    content_bytes: u64,
    entries: u64,
    opts: &'a ApplyOptions,
    exceeded: &'a Cell<Option<Exceeded>>,
    /// Bytes the layer may still write before the filesystem's reserve (refreshed lazily).
    budget: Option<u64>,
}

/// Space left free on the filesystem of the layer store: 5% of it, at most 256 MiB. A layer
/// that would eat into it (a decompression bomb, a full disk) is stopped before the
/// filesystem is full, with a clear error.
fn space_reserve(total: u64) -> u64 {
    (total / 20).min(256 << 20)
}

/// Bytes writable on `dir`'s filesystem before its reserve; `None` when it cannot be asked.
fn space_budget(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    let (frsize, blocks, avail) = (st.fragment_size() as u64, st.blocks() as u64, st.blocks_available() as u64);
    Some((avail * frsize).saturating_sub(space_reserve(blocks * frsize)))
}

#[derive(Clone, Copy)]
struct Times {
    atime: (i64, u32),
    mtime: (i64, u32),
}

/// Metadata of an entry taken from its header and PAX records.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    times: Times,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0u32;
    for (i, c) in frac.bytes().take(9).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        nanos += (c - b'0') as u32 * 10u32.pow(8 - i as u32);
    }
    // A negative fractional time counts down from the integer part.
    if secs < 0 && nanos > 0 {
        return Some((secs - 1, 1_000_000_000 - nanos));
    }
    Some((secs, nanos))
}

impl Unpacker<'_> {
    fn read_error(&self, e: io::Error) -> Error {
        match self.exceeded.get() {
            Some(Exceeded::Layer) if self.opts.configured_max => Error::precondition(format!(
                "layer exceeds the maximum uncompressed size of {} bytes (storage option {LAYER_SIZE_OPT})",
                self.opts.max_size
            )),
            Some(Exceeded::Layer) => {
                Error::invalid(format!("layer exceeds the maximum uncompressed size of {} bytes", self.opts.max_size))
            }
            Some(Exceeded::Image) => Error::precondition(format!(
                "image exceeds the maximum uncompressed size of {} bytes (storage option {IMAGE_SIZE_OPT})",
                self.opts.image.as_ref().map_or(0, |b| b.limit())
            )),
            None => Error::invalid(format!("corrupt layer tar: {e}")).with_source(e),
        }
    }

    fn io_err(&self, rel: &Path, what: &str, e: io::Error) -> Error {
        self_io_err(self.dest, rel, what, e)
    }

    fn meta<R: Read>(&self, e: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta> {
        let h = e.header();
        let bad = |what: &str| Error::invalid(format!("corrupt layer tar: entry {name:?}: bad {what}"));
        let uid = u32::try_from(h.uid().map_err(|_| bad("uid"))?).map_err(|_| bad("uid"))?;
        let gid = u32::try_from(h.gid().map_err(|_| bad("gid"))?).map_err(|_| bad("gid"))?;
        let mode = h.mode().map_err(|_| bad("mode"))? & 0o7777;
        let mtime = h.mtime().map_err(|_| bad("mtime"))?;
        let mut times = Times { atime: (mtime as i64, 0), mtime: (mtime as i64, 0) };
        let mut atime = None;
        let mut xattrs = Vec::new();
        if let Some(pax) = e.pax_extensions().map_err(|e| self.read_error(e))? {
            for ext in pax {
                let ext = ext.map_err(|_| bad("PAX record"))?;
                let key = ext.key_bytes();
                if let Some(x) = key.strip_prefix(b"SCHILY.xattr.") {
                    if !whiteout::is_overlay_private_xattr(x) {
                        xattrs.push((x.to_vec(), ext.value_bytes().to_vec()));
                    }
                } else if key == b"mtime" {
                    times.mtime = parse_pax_time(ext.value_bytes()).ok_or_else(|| bad("PAX mtime"))?;
                } else if key == b"atime" {
                    atime = parse_pax_time(ext.value_bytes());
                }
            }
        }
        times.atime = atime.unwrap_or(times.mtime);
        Ok(Meta { uid, gid, mode, times, xattrs })
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<()> {
        self.entries += 1;
        if self.entries > self.opts.max_entries {
            return Err(Error::invalid(format!("layer has more than {} entries", self.opts.max_entries)));
        }
        let raw = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = clean_entry_path(&raw).map_err(|why| Error::invalid(format!("layer entry {shown:?}: {why}")))?;
        let (parent, name) = split_parent(&rel);
        let kind = e.header().entry_type();
        match kind {
            EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink => {
                return Ok(());
            }
            _ => {}
        }
        match whiteout::classify(name).map_err(|why| Error::invalid(format!("layer entry {shown:?}: {why}")))? {
            Whiteout::None => {}
            Whiteout::Meta => return Ok(()),
            Whiteout::Opaque => {
                let dest = self.dest;
                let dir = self.dirs.get(parent).map_err(|err| self_io_err(dest, parent, "open", err))?;
                return dir
                    .set_xattr(OsStr::new("."), whiteout::OPAQUE_XATTR.as_bytes(), b"y")
                    .map_err(|err| self_io_err(dest, parent, "mark opaque", err));
            }
            Whiteout::Delete(target) => {
                let at = parent.join(target);
                let dest = self.dest;
                let dir = self.dirs.get(parent).map_err(|err| self_io_err(dest, parent, "open", err))?;
                let res = dir.remove_all(target).and_then(|()| dir.mknod(target, libc::S_IFCHR, 0, 0));
                return res.map_err(|err| self_io_err(dest, &at, "create whiteout", err));
            }
        }
        if name == "." && kind != EntryType::Directory {
            return Err(Error::invalid(format!("layer entry {shown:?}: the root must be a directory")));
        }
        match kind {
            EntryType::Directory => self.directory(e, &rel, &shown),
            EntryType::Regular | EntryType::Continuous => self.file(e, &rel, &shown),
            EntryType::Symlink => self.symlink(e, &rel, &shown),
            EntryType::Link => self.hardlink(e, &rel, &shown),
            EntryType::Char | EntryType::Block | EntryType::Fifo => self.node(e, &rel, &shown, kind),
            other => Err(Error::invalid(format!("layer entry {shown:?}: unsupported tar entry type {other:?}"))),
        }
    }

    /// Create an entry with `make`; when the name is taken, remove what is there
    /// (unless `keep_dir` and it is a directory) and retry. Returns false when an
    /// existing directory was kept.
    fn create(
        &mut self,
        rel: &Path,
        keep_dir: bool,
        mut make: impl FnMut(&DirFd, &OsStr) -> io::Result<()>,
    ) -> Result<bool> {
        let (parent, name) = split_parent(rel);
        let dest = self.dest;
        let io_err = |err: io::Error, what: &str| self_io_err(dest, rel, what, err);
        let dir = self.dirs.get(parent).map_err(|err| io_err(err, "open parent of"))?;
        match make(dir, name) {
            Ok(()) => return Ok(true),
            Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {}
            Err(err) => return Err(io_err(err, "create")),
        }
        let st = dir.lstat(name).map_err(|err| io_err(err, "stat"))?;
        if keep_dir && st.is_some_and(|s| s.is_dir()) {
            return Ok(false);
        }
        dir.remove_all(name).map_err(|err| io_err(err, "replace"))?;
        make(dir, name).map_err(|err| io_err(err, "create"))?;
        Ok(true)
    }

    fn set_meta(&mut self, rel: &Path, m: &Meta, chmod: bool, times: bool) -> Result<()> {
        let (parent, name) = split_parent(rel);
        let dest = self.dest;
        let dir = self.dirs.get(parent).map_err(|err| self_io_err(dest, rel, "open parent of", err))?;
        dir.chown(name, m.uid, m.gid).map_err(|err| self_io_err(dest, rel, "chown", err))?;
        if chmod {
            dir.chmod(name, m.mode).map_err(|err| self_io_err(dest, rel, "chmod", err))?;
        }
        for (k, v) in &m.xattrs {
            let key = String::from_utf8_lossy(k);
            match dir.set_xattr(name, k, v) {
                Ok(()) => {}
                // Not every filesystem or file type takes every namespace (user.* on a
                // symlink, say): skip the attribute rather than refuse the image.
                Err(err) if matches!(err.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {
                    log::warn!("layer entry {}: xattr {key} not set: {err}", rel.display());
                }
                Err(err) => return Err(self_io_err(dest, rel, &format!("set xattr {key} on"), err)),
            }
        }
        if times {
            dir.set_times(name, m.times.atime, m.times.mtime)
                .map_err(|err| self_io_err(dest, rel, "set times of", err))?;
        }
        Ok(())
    }

    fn directory<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, rel: &Path, shown: &str) -> Result<()> {
        let m = self.meta(e, shown)?;
        if !rel.as_os_str().is_empty() {
            self.create(rel, true, |d, n| d.mkdir(n, 0o700))?;
        }
        self.set_meta(rel, &m, true, false)?;
        self.dir_times.push((rel.to_path_buf(), m.times));
        Ok(())
    }

    /// Take `size` bytes from the space budget, asking the filesystem again when the
    /// estimate runs short; refuse when even that leaves less than the reserve.
    fn reserve_space(&mut self, size: u64, shown: &str) -> Result<()> {
        let Some(b) = self.budget else { return Ok(()) };
        if size > b {
            self.budget = space_budget(self.dest);
        }
        match self.budget {
            Some(b) if size > b => Err(Error::precondition(format!(
                "not enough disk space for layer entry {shown:?} ({size} bytes): the filesystem of {} \
                 would fall below its reserve (5%, at most 256 MiB)",
                self.dest.display()
            ))),
            Some(b) => {
                self.budget = Some(b - size);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn file<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, rel: &Path, shown: &str) -> Result<()> {
        let m = self.meta(e, shown)?;
        let size = e.size();
        self.reserve_space(size, shown)?;
        let mut file = None;
        self.create(rel, false, |d, n| {
            file = Some(d.create_file(n, 0o600)?);
            Ok(())
        })?;
        let mut file = file.expect("created file");
        let mut written = 0u64;
        loop {
            let n = match e.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(self.read_error(err)),
            };
            file.write_all(&self.buf[..n]).map_err(|err| self.io_err(rel, "write", err))?;
            written += n as u64;
        }
        if written != size {
            return Err(Error::invalid(format!(
                "corrupt layer tar: entry {shown:?} truncated ({written} of {size} bytes)"
            )));
        }
        self.content_bytes += written;
        if written >= WRITEBACK_MIN {
            crate::sys::fs::start_writeback(&file);
        }
        drop(file);
        self.set_meta(rel, &m, true, true)
    }

    fn symlink<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, rel: &Path, shown: &str) -> Result<()> {
        let m = self.meta(e, shown)?;
        let target = e
            .link_name_bytes()
            .ok_or_else(|| Error::invalid(format!("layer entry {shown:?}: symlink without target")))?
            .into_owned();
        self.create(rel, false, |d, n| d.symlink(&target, n))?;
        self.set_meta(rel, &m, false, true)
    }

    fn hardlink<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, rel: &Path, shown: &str) -> Result<()> {
        let raw = e
            .link_name_bytes()
            .ok_or_else(|| Error::invalid(format!("layer entry {shown:?}: hard link without target")))?
            .into_owned();
        let shown_target = String::from_utf8_lossy(&raw).into_owned();
        let target = clean_entry_path(&raw).map_err(|why| {
            Error::invalid(format!("layer entry {shown:?}: hard link target {shown_target:?}: {why}"))
        })?;
        if target == rel {
            return Ok(());
        }
        let (tparent, tname) = split_parent(&target);
        let not_found =
            || Error::invalid(format!("layer entry {shown:?}: hard link target {shown_target:?} not found in layer"));
        let tdir = match self.dirs.root.open_beneath(tparent) {
            Ok(d) => d,
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => return Err(not_found()),
            Err(err) => return Err(self.io_err(&target, "open parent of", err)),
        };
        match tdir.lstat(tname).map_err(|err| self.io_err(&target, "stat", err))? {
            None => return Err(not_found()),
            Some(st) if st.is_dir() => {
                return Err(Error::invalid(format!(
                    "layer entry {shown:?}: hard link target {shown_target:?} is a directory"
                )))
            }
            Some(_) => {}
        }
        self.create(rel, false, |d, n| d.link_from(&tdir, tname, n))?;
        Ok(())
    }

    fn node<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, rel: &Path, shown: &str, kind: EntryType) -> Result<()> {
        let m = self.meta(e, shown)?;
        let bad = || Error::invalid(format!("corrupt layer tar: entry {shown:?}: bad device number"));
        let (major, minor) = super::device_numbers(e.header()).ok_or_else(bad)?;
        let ftype = match kind {
            EntryType::Char => libc::S_IFCHR,
            EntryType::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        self.create(rel, false, |d, n| d.mknod(n, ftype | 0o600, major, minor))?;
        self.set_meta(rel, &m, true, true)
    }

    /// Set directory times last: creating children changes them.
    fn finish_dirs(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dir_times);
        for (rel, t) in dirs.iter().rev() {
            let (parent, name) = split_parent(rel);
            let dest = self.dest;
            let dir = match self.dirs.get(parent) {
                Ok(d) => d,
                Err(err)
                    if matches!(
                        err.raw_os_error(),
                        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EXDEV) | Some(libc::ELOOP)
                    ) =>
                {
                    continue
                }
                Err(err) => return Err(self_io_err(dest, rel, "open parent of", err)),
            };
            match dir.set_times(name, t.atime, t.mtime) {
                Ok(()) => {}
                // Replaced by a later entry or whiteout: nothing to fix.
                Err(err)
                    if matches!(
                        err.raw_os_error(),
                        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EXDEV) | Some(libc::ELOOP)
                    ) => {}
                Err(err) => return Err(self_io_err(dest, rel, "set times of", err)),
            }
        }
        Ok(())
    }
}

fn self_io_err(dest: &Path, rel: &Path, what: &str, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ELOOP) => Error::invalid(format!(
            "layer entry {:?}: path escapes the layer root through a symlink",
            rel.display().to_string()
        )),
        Some(libc::ENOTDIR) => {
            Error::invalid(format!("layer entry {:?}: a parent is not a directory", rel.display().to_string()))
        }
        // Parents are created as needed, so a missing one is a dangling symlink in the layer.
        Some(libc::ENOENT) => Error::invalid(format!(
            "layer entry {:?}: a parent does not resolve (dangling symlink)",
            rel.display().to_string()
        )),
        _ => Error::io(dest.join(rel), what, e),
    }
}
