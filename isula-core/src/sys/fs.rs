//! Crash-safe file writes: temp file, fsync, rename, fsync of the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp-file name beside `path`, unique within this process and across processes.
pub fn temp_sibling(path: &Path) -> std::path::PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".tmp-{name}-{}-{n}", std::process::id()))
}

/// Write `data` to `path` atomically with file mode `mode`: a reader (or a crash)
/// sees either the old content or the new, never a mix.
pub fn atomic_write_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = temp_sibling(path);
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, "create", e))?;
        f.write_all(data).map_err(|e| Error::io(&tmp, "write", e))?;
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

/// [`atomic_write_mode`] with mode 0644.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    atomic_write_mode(path, data, 0o644)
}

/// Serialise `value` as pretty JSON and write it atomically.
pub fn atomic_write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let data =
        serde_json::to_vec_pretty(value).map_err(|e| Error::internal(format!("serialise {}: {e}", path.display())))?;
    atomic_write(path, &data)
}

/// Read and parse a JSON file; a parse failure names the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    serde_json::from_slice(&data).map_err(|e| Error::invalid(format!("parse {}: {e}", path.display())).with_source(e))
}

/// fsync a directory so that renames and creations inside it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    let f = File::open(dir).map_err(|e| Error::io(dir, "open", e))?;
    f.sync_all().map_err(|e| Error::io(dir, "fsync", e))
}

/// Create `dir` and its parents with mode `mode` (existing directories are kept).
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(|e| Error::io(dir, "create directory", e))
}

/// Remove a directory tree if it exists; a missing path is not an error.
pub fn remove_dir_all_if_exists(dir: &Path) -> Result<()> {
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
}
