//! Files in and out of containers: export of the whole root filesystem, copy of a path out as
//! a tar stream, a tar stream into a directory, stat of a path. Each comes as a file variant
//! (a tar file on the host) and a stream variant (through a callback, on the calling thread).

use std::ffi::{c_char, c_void};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use isula_core::{CopyToOptions, Error, Result};
use serde::{Deserialize, Serialize};

use crate::boundary::{guard, json_or_default, out_string, path, text, OutString};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_transfer.rs"));

/// A callback that takes the next bytes of a tar stream libisula writes.
///
/// - `data` (borrowed): `len` bytes, valid only during the call.
/// - `user`: the `user` pointer given to the call.
///
/// Returns 0 to go on, anything else to abort the transfer (the call then fails, its message
/// naming the callback's value). Runs on the calling thread, before the call returns; must not unwind
/// through libisula.
pub type isula_write_cb = Option<unsafe extern "C" fn(data: *const u8, len: usize, user: *mut c_void) -> i32>;

/// A callback that gives the next bytes of a tar stream libisula reads.
///
/// - `buf` (borrowed): room for `cap` bytes, valid only during the call.
/// - `user`: the `user` pointer given to the call.
///
/// Returns the number of bytes stored (at most `cap`), 0 at the end of the stream, or a
/// negative value for an error (the call then fails, its message naming the value). Runs on the
/// calling thread, before the call returns; must not unwind through libisula.
pub type isula_read_cb = Option<unsafe extern "C" fn(buf: *mut u8, cap: usize, user: *mut c_void) -> i64>;

/// `Write` into a C callback.
struct CbWriter {
    cb: unsafe extern "C" fn(*const u8, usize, *mut c_void) -> i32,
    user: *mut c_void,
}

impl Write for CbWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: the caller's callback, with a buffer valid during the call.
        match unsafe { (self.cb)(buf.as_ptr(), buf.len(), self.user) } {
            0 => Ok(buf.len()),
            rc => Err(std::io::Error::other(format!("the write callback stopped the transfer ({rc})"))),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `Read` from a C callback.
struct CbReader {
    cb: unsafe extern "C" fn(*mut u8, usize, *mut c_void) -> i64,
    user: *mut c_void,
}

impl Read for CbReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: the caller's callback, with room for buf.len() bytes during the call.
        let n = unsafe { (self.cb)(buf.as_mut_ptr(), buf.len(), self.user) };
        match usize::try_from(n) {
            Ok(n) if n <= buf.len() => Ok(n),
            Ok(n) => Err(std::io::Error::other(format!("the read callback returned {n} bytes for {}", buf.len()))),
            Err(_) => Err(std::io::Error::other(format!("the read callback failed ({n})"))),
        }
    }
}

fn writer(cb: isula_write_cb, user: *mut c_void) -> Result<CbWriter> {
    let cb = cb.ok_or_else(|| Error::invalid("argument `write` must not be NULL"))?;
    Ok(CbWriter { cb, user })
}

fn reader(cb: isula_read_cb, user: *mut c_void) -> Result<CbReader> {
    let cb = cb.ok_or_else(|| Error::invalid("argument `read` must not be NULL"))?;
    Ok(CbReader { cb, user })
}

/// Write a tar file at `p` with `f`; the file is removed again when `f` fails.
fn to_file<T>(p: &Path, f: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
    let mut file = File::create(p).map_err(|x| Error::io(p, "create tar file", x))?;
    let r = f(&mut file).and_then(|v| file.sync_all().map(|()| v).map_err(|x| Error::io(p, "write tar file", x)));
    if r.is_err() {
        let _ = std::fs::remove_file(p);
    }
    r
}

/// Options of a copy into a container, as JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CopyToJson {
    /// `[uid, gid]` given to every extracted entry; absent keeps the owners in the tar.
    owner: Option<(u32, u32)>,
    /// Refuse to replace a directory with a non-directory or the reverse (default true).
    no_overwrite_dir_non_dir: bool,
}

impl Default for CopyToJson {
    fn default() -> Self {
        CopyToJson { owner: None, no_overwrite_dir_non_dir: true }
    }
}

impl From<CopyToJson> for CopyToOptions {
    fn from(j: CopyToJson) -> Self {
        CopyToOptions { owner: j.owner, no_overwrite_dir_non_dir: j.no_overwrite_dir_non_dir }
    }
}

/// Store `stat` in an optional output.
fn set_stat(out: Option<OutString>, stat: &isula_core::PathStat) -> Result<()> {
    match out {
        Some(o) => o.set_json(stat),
        None => Ok(()),
    }
}

fn opt_out(p: *mut *mut c_char, name: &str) -> Result<Option<OutString>> {
    if p.is_null() {
        Ok(None)
    } else {
        out_string(p, name).map(Some)
    }
}

/// Write a container's whole root filesystem as a tar file (`docker export -o`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `tar_path` (borrowed, required): the file to write (created or truncated); removed again
///   on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_export(
    engine: *const isula_engine,
    id: *const c_char,
    tar_path: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let id = text(id, "id")?;
        let p = path(tar_path, "tar_path")?;
        to_file(&p, |w| e.containers().export(id, w))
    })
}

/// Stream a container's whole root filesystem as a tar stream (`docker export`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `write` (required): takes the tar stream piece by piece; see `isula_write_cb`.
/// - `user` (borrowed, optional): passed back to `write` unchanged; never dereferenced.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; `write` runs on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_export_stream(
    engine: *const isula_engine,
    id: *const c_char,
    write: isula_write_cb,
    user: *mut c_void,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let mut w = writer(write, user)?;
        e.containers().export(text(id, "id")?, &mut w)
    })
}

/// Stat a path inside a container (Docker's `HEAD /containers/{id}/archive`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `container_path` (borrowed, required): an absolute path in the container.
/// - `out_json` (borrowed, required): receives a `PathStat`
///   (`{"name":"hosts","size":174,"mode":420,"mtime":"...","linkTarget":""}`), owned by the
///   caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` when the path does not exist.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_stat_path(
    engine: *const isula_engine,
    id: *const c_char,
    container_path: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        out.set_json(&e.containers().stat_path(text(id, "id")?, text(container_path, "container_path")?)?)
    })
}

/// Copy a path out of a container into a tar file on the host (`docker cp CONTAINER:path -`
/// saved to a file).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `container_path` (borrowed, required): the path in the container (file or directory).
/// - `follow_link`: when true a final symlink is followed, else copied as the link.
/// - `tar_path` (borrowed, required): the tar file to write; removed again on failure.
/// - `out_stat_json` (borrowed, optional): when not NULL, receives the `PathStat` of the copied
///   path, owned by the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` when the path does not exist.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_copy_from(
    engine: *const isula_engine,
    id: *const c_char,
    container_path: *const c_char,
    follow_link: bool,
    tar_path: *const c_char,
    out_stat_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = opt_out(out_stat_json, "out_stat_json")?;
        let e = self::engine(engine)?;
        let (id, src) = (text(id, "id")?, text(container_path, "container_path")?);
        let p = path(tar_path, "tar_path")?;
        let stat = to_file(&p, |w| e.containers().copy_from(id, src, follow_link, w))?;
        set_stat(out, &stat)
    })
}

/// Copy a path out of a container as a tar stream (`docker cp CONTAINER:path -`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `container_path` (borrowed, required): the path in the container (file or directory).
/// - `follow_link`: when true a final symlink is followed, else copied as the link.
/// - `write` (required): takes the tar stream piece by piece; see `isula_write_cb`.
/// - `user` (borrowed, optional): passed back to `write` unchanged; never dereferenced.
/// - `out_stat_json` (borrowed, optional): when not NULL, receives the `PathStat` of the copied
///   path, owned by the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; `write` runs on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_copy_from_stream(
    engine: *const isula_engine,
    id: *const c_char,
    container_path: *const c_char,
    follow_link: bool,
    write: isula_write_cb,
    user: *mut c_void,
    out_stat_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = opt_out(out_stat_json, "out_stat_json")?;
        let e = self::engine(engine)?;
        let mut w = writer(write, user)?;
        let stat =
            e.containers().copy_from(text(id, "id")?, text(container_path, "container_path")?, follow_link, &mut w)?;
        set_stat(out, &stat)
    })
}

/// Extract a tar file from the host into a directory of a container (`docker cp - CONTAINER:dir`
/// from a file). Entries that would escape the directory are refused.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `container_dir` (borrowed, required): an existing directory in the container.
/// - `tar_path` (borrowed, required): the tar file to read.
/// - `options_json` (borrowed, optional): `{"Owner":[uid,gid],"NoOverwriteDirNonDir":true}`
///   (`Owner` absent keeps the owners in the tar); NULL for defaults.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_FAILED_PRECONDITION` for a read-only target.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_copy_to(
    engine: *const isula_engine,
    id: *const c_char,
    container_dir: *const c_char,
    tar_path: *const c_char,
    options_json: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let (id, dir) = (text(id, "id")?, text(container_dir, "container_dir")?);
        let opts: CopyToJson = json_or_default(options_json, "options_json")?;
        let p = path(tar_path, "tar_path")?;
        let mut f = File::open(&p).map_err(|x| Error::io(&p, "open tar file", x))?;
        e.containers().copy_to(id, dir, &mut f, &opts.into())
    })
}

/// Extract a tar stream into a directory of a container (`docker cp - CONTAINER:dir`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `container_dir` (borrowed, required): an existing directory in the container.
/// - `read` (required): gives the tar stream piece by piece; see `isula_read_cb`.
/// - `user` (borrowed, optional): passed back to `read` unchanged; never dereferenced.
/// - `options_json` (borrowed, optional): as for `isula_container_copy_to`; NULL for defaults.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; `read` runs on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_copy_to_stream(
    engine: *const isula_engine,
    id: *const c_char,
    container_dir: *const c_char,
    read: isula_read_cb,
    user: *mut c_void,
    options_json: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let (id, dir) = (text(id, "id")?, text(container_dir, "container_dir")?);
        let opts: CopyToJson = json_or_default(options_json, "options_json")?;
        let mut r = reader(read, user)?;
        e.containers().copy_to(id, dir, &mut r, &opts.into())
    })
}
