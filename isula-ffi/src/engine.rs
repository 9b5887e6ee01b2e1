//! Library version, string release, and the engine handle's open/close.

use std::ffi::{c_char, CString};
use std::ptr;

use isula_core::{Engine, EngineConfig};

use crate::boundary::{guard, out_string, text, Out};
use crate::status::isula_status;

/// An open engine: opaque to C. Create with `isula_engine_open`, release with
/// `isula_engine_close`. One handle may be used from many threads at once.
pub struct isula_engine {
    pub(crate) inner: Engine,
}

/// The borrowed engine behind a handle argument.
pub(crate) fn engine<'a>(p: *const isula_engine) -> isula_core::Result<&'a Engine> {
    if p.is_null() {
        return Err(isula_core::Error::invalid("argument `engine` must not be NULL"));
    }
    // SAFETY: the caller passes a live handle from `isula_engine_open` (not yet closed).
    Ok(unsafe { &(*p).inner })
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
        out.set(Box::into_raw(Box::new(isula_engine { inner })));
        Ok(())
    })
}

/// Close an engine handle and release the root. Containers keep running (their supervisor
/// is not the engine); the next open reattaches to them.
///
/// - `engine` (owned, taken): a handle from `isula_engine_open`, or NULL (then nothing
///   happens). It must not be used afterwards.
///
/// Thread safety: no other call may be using `engine` while, or after, it is closed.
#[no_mangle]
pub unsafe extern "C" fn isula_engine_close(engine: *mut isula_engine) {
    if engine.is_null() {
        return;
    }
    // SAFETY: `engine` came from Box::into_raw in `isula_engine_open` (caller's contract).
    let boxed = unsafe { Box::from_raw(engine) };
    // A panic while dropping must not cross into C.
    let _ = guard(ptr::null_mut(), move || {
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
