//! Library version, string release, and the engine handle's open/close.

use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::{Arc, Mutex, Weak};

use isula_core::{Engine, EngineConfig};

use crate::boundary::{guard, out_string, text, Out};
use crate::status::isula_status;
use crate::streams::Ctl;

include!(concat!(env!("OUT_DIR"), "/symver_engine.rs"));

/// An open engine: opaque to C. Create with `isula_engine_open`, release with
/// `isula_engine_close`. One handle may be used from many threads at once.
pub struct isula_engine {
    /// The engine; stream threads hold clones while they run.
    pub(crate) inner: Arc<Engine>,
    /// The streams opened on this handle (stopped by `isula_engine_close`).
    pub(crate) streams: Mutex<Vec<Weak<Ctl>>>,
}

/// The borrowed handle behind a handle argument.
pub(crate) fn handle<'a>(p: *const isula_engine) -> isula_core::Result<&'a isula_engine> {
    if p.is_null() {
        return Err(isula_core::Error::invalid("argument `engine` must not be NULL"));
    }
    // SAFETY: the caller passes a live handle from `isula_engine_open` (not yet closed).
    Ok(unsafe { &*p })
}

/// The borrowed engine behind a handle argument.
pub(crate) fn engine<'a>(p: *const isula_engine) -> isula_core::Result<&'a Engine> {
    Ok(&handle(p)?.inner)
}

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, e.g. `"0.1.0"`.
///
/// Returns a static string owned by the library: never free it.
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn isula_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// Free a string that libisula returned (an `err` message or a JSON/text result).
///
/// - `s` (owned, taken): a string from libisula, or NULL (then nothing happens). It must not
///   be used afterwards, nor freed twice, nor be a string from anywhere else.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from CString::into_raw in this library (caller's contract).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Open an engine on the root and state directories named by a daemon.json document.
///
/// - `config_json` (borrowed, required): daemon.json text, the same keys as isulad's
///   (`graph`, `state`, `log-level`, `registry-mirrors`, `insecure-registries`,
///   `default-runtime`, `runtimes`, ...). `"{}"` uses the defaults (`/var/lib/isulad`,
///   `/run/isulad`). Unknown keys are ignored; a key of the wrong type is
///   `ISULA_INVALID_ARGUMENT` naming the key.
/// - `out` (borrowed, required): receives the new handle, owned by the caller and released
///   with `isula_engine_close`; set to NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Only one engine may own a root at a time: a second open of the same root, in this process
/// or another, fails with `ISULA_UNAVAILABLE`.
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_engine_open(
    config_json: *const c_char,
    out: *mut *mut isula_engine,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out, "out", ptr::null_mut())?;
        let config = EngineConfig::from_json(text(config_json, "config_json")?)?;
        let inner = Engine::open(config)?;
        let h = isula_engine { inner: Arc::new(inner), streams: Mutex::new(Vec::new()) };
        out.set(Box::into_raw(Box::new(h)));
        Ok(())
    })
}

/// Close an engine handle and release the root. Containers keep running (their supervisor
/// is not the engine); the next open reattaches to them.
///
/// Streams still open on the handle (`isula_stream`: attach, exec, stats, log follow) are
/// stopped first: when this returns none of their callbacks runs any more. Their handles stay
/// valid for `isula_stream_wait` (which then reports `ISULA_FAILED_PRECONDITION`, reason
/// `cancelled`, unless the stream had ended by itself) and must still be released with
/// `isula_stream_close`. Exec processes keep running. Event subscriptions end on their own.
///
/// - `engine` (owned, taken): a handle from `isula_engine_open`, or NULL (then nothing
///   happens). It must not be used afterwards.
///
/// Thread safety: no other call may be using `engine` while, or after, it is closed; must not
/// be called from inside a callback of one of its streams.
#[no_mangle]
pub unsafe extern "C" fn isula_engine_close(engine: *mut isula_engine) {
    if engine.is_null() {
        return;
    }
    // SAFETY: `engine` came from Box::into_raw in `isula_engine_open` (caller's contract).
    let boxed = unsafe { Box::from_raw(engine) };
    // A panic while dropping must not cross into C.
    let _ = guard(ptr::null_mut(), move || {
        let streams = std::mem::take(&mut *boxed.streams.lock().unwrap_or_else(|p| p.into_inner()));
        for s in streams.iter().filter_map(Weak::upgrade) {
            s.stop();
        }
        drop(boxed);
        Ok(())
    });
}

/// Engine-wide information (`docker info`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `out_json` (borrowed, required): receives an `Info` JSON object with Docker's field names
///   (`Containers`, `ContainersRunning`, `Images`, `Driver`, `DockerRootDir`, `CgroupVersion`,
///   `KernelVersion`, `NCPU`, `MemTotal`, ...), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_info(
    engine: *const isula_engine,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.info()?)
    })
}

/// The configuration the engine was opened with, every key filled in (defaults included),
/// as daemon.json.
///
/// - `engine` (borrowed, required): an open handle.
/// - `out_json` (borrowed, required): receives the daemon.json object (`graph`, `state`,
///   `default-runtime`, ...), owned by the caller (free with `isula_string_free`); NULL on
///   failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_engine_config(
    engine: *const isula_engine,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(self::engine(engine)?.config())
    })
}

/// Check that an OCI runtime can run containers: its binary (from `runtimes` or `PATH`) and
/// `isulad-shim` are found.
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): the runtime's name (`runc`, `crun`, a `runtimes` key).
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` names what is missing.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_engine_check_runtime(
    engine: *const isula_engine,
    name: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.check_runtime(text(name, "name")?))
}

/// Log in to a registry (`docker login`): the credentials are checked against the registry,
/// then saved under the engine's root for pulls and pushes.
///
/// - `engine` (borrowed, required): an open handle.
/// - `server` (borrowed, required): the registry, e.g. `registry.example.com:5000`.
/// - `user` (borrowed, required): the user name.
/// - `password` (borrowed, required): the password or token; not kept by libisula beyond the
///   saved credentials.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_UNIMPLEMENTED` in a build without the
///   registry client.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_login(
    engine: *const isula_engine,
    server: *const c_char,
    user: *const c_char,
    password: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        e.login(text(server, "server")?, text(user, "user")?, text(password, "password")?)
    })
}

/// Forget the saved credentials of a registry (`docker logout`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `server` (borrowed, required): the registry, as given to `isula_login`.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_logout(
    engine: *const isula_engine,
    server: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.logout(text(server, "server")?))
}
