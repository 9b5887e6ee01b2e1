//! Crash-safe file writes: temp file, fsync, rename, fsync of the directory.
//!
//! Three strengths, by what a file is worth after a crash:
//! - [`atomic_write`]: durable and atomic (records, metadata): write, fsync, rename, fsync dir.
//! - [`atomic_write_all`]: the same for several files at once, with one journal commit for
//!   the batch instead of two per file (fsyncs are the main cost of a container's lifecycle
//!   on a busy disk).
//! - [`replace_file`]: atomic but not flushed, for runtime state under the state dir (gone at
//!   reboot anyway) and for files rebuilt from a durable record; [`sync_files`] makes such
//!   files durable later in one batch when they must survive a power loss.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp-file name beside `path`, unique within this process and across processes.
pub(crate) fn temp_sibling(path: &Path) -> std::path::PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".tmp-{name}-{}-{n}", std::process::id()))
}

/// Write `data` to `path` atomically with file mode `mode`: a reader (or a crash)
/// sees either the old content or the new, never a mix.
pub(crate) fn atomic_write_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = temp_sibling(path);
    let res = (|| {
        let f = write_new(&tmp, data, mode)?;
        f.sync_all().map_err(|e| Error::io(&tmp, "fsync", e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename onto", e))?;
        if let Some(dir) = path.parent() {
            fsync_dir(dir)?;
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// Write `data` to `path` atomically (temp file + rename) without flushing it to disk: a
/// reader, or a crash of this process, sees the old or the new content; a power loss may
/// lose the new content. For runtime state and derived files (see the module doc).
pub(crate) fn replace_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = temp_sibling(path);
    let res =
        write_new(&tmp, data, mode).and_then(|_| fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename onto", e)));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// [`replace_file`] of `value` as pretty JSON (mode 0644).
pub(crate) fn replace_file_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    replace_file(path, &to_json(path, value)?, 0o644)
}

/// Start writeback of every file, then fsync them and their directories. The data of all
/// files goes out together, so the first fsync commits the filesystem journal for the whole
/// batch and the others find nothing left to do. Missing files are an error.
pub(crate) fn sync_files(paths: &[&Path]) -> Result<()> {
    let files = paths.iter().map(|p| open_for_sync(p)).collect::<Result<Vec<_>>>()?;
    for (f, p) in files.iter().zip(paths) {
        f.sync_all().map_err(|e| Error::io(p, "fsync", e))?;
    }
    fsync_parents(paths.iter().copied())
}

/// Open an existing file and start its writeback (see [`sync_files`]).
fn open_for_sync(p: &Path) -> Result<File> {
    let f = File::open(p).map_err(|e| Error::io(p, "open", e))?;
    start_writeback(&f);
    Ok(f)
}

/// fsync each distinct parent directory of `paths` once.
fn fsync_parents<'a>(paths: impl Iterator<Item = &'a Path>) -> Result<()> {
    let mut dirs: Vec<&Path> = paths.filter_map(Path::parent).collect();
    dirs.sort();
    dirs.dedup();
    dirs.into_iter().try_for_each(fsync_dir)
}

/// Write several files, each atomically and durably as [`atomic_write`] does, with the
/// flushes batched (see [`sync_files`]). `also_sync` names files already written with
/// [`replace_file`] that must become durable in the same batch. On error no target is
/// half-written (some may already hold their new content).
pub(crate) fn atomic_write_all(files: &[(&Path, &[u8])], also_sync: &[&Path]) -> Result<()> {
    let tmps: Vec<_> = files.iter().map(|(p, _)| temp_sibling(p)).collect();
    let res = (|| {
        let mut open = Vec::with_capacity(files.len());
        for ((_, data), tmp) in files.iter().zip(&tmps) {
            let f = write_new(tmp, data, 0o644)?;
            start_writeback(&f);
            open.push(f);
        }
        let extra = also_sync.iter().map(|p| open_for_sync(p)).collect::<Result<Vec<_>>>()?;
        let synced =
            open.iter().zip(tmps.iter().map(PathBuf::as_path)).chain(extra.iter().zip(also_sync.iter().copied()));
        for (f, p) in synced {
            f.sync_all().map_err(|e| Error::io(p, "fsync", e))?;
        }
        for ((path, _), tmp) in files.iter().zip(&tmps) {
            fs::rename(tmp, path).map_err(|e| Error::io(path, "rename onto", e))?;
        }
        fsync_parents(files.iter().map(|(p, _)| *p).chain(also_sync.iter().copied()))
    })();
    if res.is_err() {
        for tmp in &tmps {
            let _ = fs::remove_file(tmp);
        }
    }
    res
}

/// Create the new file `path` (it must not exist) with `mode` and write `data` into it.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(path, "create", e))?;
    f.write_all(data).map_err(|e| Error::io(path, "write", e))?;
    Ok(f)
}

/// Ask the kernel to start writing `f`'s dirty pages now (no wait); a hint, errors ignored.
/// Bulk writers (layers, blobs) call it as they go, so the one flush at the end of an image
/// finds most of the data already on its way to the disk.
pub(crate) fn start_writeback(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a valid descriptor; no memory is passed.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

fn to_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::internal(format!("serialise {}: {e}", path.display())))
}

/// [`atomic_write_mode`] with mode 0644.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    atomic_write_mode(path, data, 0o644)
}

/// Serialise `value` as pretty JSON and write it atomically.
pub(crate) fn atomic_write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    atomic_write(path, &to_json(path, value)?)
}

/// Read and parse a JSON file the engine wrote (a record, a state file); a parse failure
/// names the file and is `Internal` (a corrupt record is not the caller's bad argument).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    serde_json::from_slice(&data)
        .map_err(|e| Error::internal(format!("corrupt record: parse {}: {e}", path.display())).with_source(e))
}

/// fsync a directory so that renames and creations inside it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let f = File::open(dir).map_err(|e| Error::io(dir, "open", e))?;
    f.sync_all().map_err(|e| Error::io(dir, "fsync", e))
}

/// Create `dir` and its parents with mode `mode` (existing directories are kept).
pub(crate) fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(|e| Error::io(dir, "create directory", e))
}

/// Remove a directory tree if it exists; a missing path is not an error.
pub(crate) fn remove_dir_all_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, "remove", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        atomic_write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        atomic_write_json(&p, &serde_json::json!({"a": 2})).unwrap();
        let v: serde_json::Value = read_json(&p).unwrap();
        assert_eq!(v["a"], 2);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn batch_and_unflushed_writes_replace_and_leave_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        replace_file(&c, b"derived", 0o600).unwrap();
        atomic_write_all(&[(&a, b"one"), (&b, b"two")], &[&c]).unwrap();
        atomic_write_all(&[(&a, b"three")], &[]).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"three");
        assert_eq!(fs::read(&b).unwrap(), b"two");
        assert_eq!(fs::read(&c).unwrap(), b"derived");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&c).unwrap().permissions().mode() & 0o777, 0o600);
        sync_files(&[&a, &c]).unwrap();
        let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn a_corrupt_record_is_internal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rec.json");
        fs::write(&p, b"{\"a\": ").unwrap();
        let err = read_json::<serde_json::Value>(&p).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal, "{err}");
        assert!(err.to_string().contains("rec.json"), "{err}");
    }

    #[test]
    fn batch_with_a_missing_extra_file_fails_and_changes_no_target() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        atomic_write(&a, b"old").unwrap();
        let err = atomic_write_all(&[(&a, b"new")], &[&dir.path().join("missing")]).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert_eq!(fs::read(&a).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temp file left behind");
    }
}
