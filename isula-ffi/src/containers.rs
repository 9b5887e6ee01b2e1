//! Container operations: create, start, stop, kill, remove, wait, list, inspect, exec, logs.
//!
//! NOT YET IMPLEMENTED in this build: the engine's container lifecycle is not wired in, so
//! every function here checks its arguments (NULL, UTF-8, JSON syntax) and then returns
//! `ISULA_UNIMPLEMENTED` with a message naming the operation. The signatures are final.
//! All are safe to call from many threads at once on one engine handle.

use std::ffi::c_char;

use isula_core::{Error, Result};

use crate::boundary::{guard, json_or_default, opt_text, out_string, text, Out};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

fn not_yet(op: &str, id: &str) -> Result<()> {
    Err(Error::unimplemented(format!("{op} {id}: containers are not available in this build of libisula yet")))
}

/// Create a container (`docker create`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, required): `CreateOptions` as JSON (PascalCase keys, every key
///   but `Image` optional), e.g. `{"Image":"busybox","Cmd":["echo","hello"],"Name":"web"}`.
/// - `out_id` (borrowed, required): receives the new container's id (plain text), owned by
///   the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_create(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_id: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _out = out_string(out_id, "out_id")?;
        let _e = self::engine(engine)?;
        let _o: serde_json::Value = crate::boundary::json(options_json, "options_json")?;
        not_yet("create", "container")
    })
}

/// Start a created or stopped container (`docker start`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_start(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _e = self::engine(engine)?;
        not_yet("start", text(id, "id")?)
    })
}

/// Stop a container: SIGTERM (or its stop signal), then SIGKILL after `timeout_secs`
/// (`docker stop`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `timeout_secs`: seconds to wait before SIGKILL; negative for the container's default.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_stop(
    engine: *const isula_engine,
    id: *const c_char,
    timeout_secs: i32,
    err: *mut *mut c_char,
) -> isula_status {
    let _ = timeout_secs;
    guard(err, || {
        let _e = self::engine(engine)?;
        not_yet("stop", text(id, "id")?)
    })
}

/// Send a signal to a container's main process (`docker kill`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `signal` (borrowed, optional): `"KILL"`, `"SIGTERM"`, `"15"`, ...; NULL for SIGKILL.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_kill(
    engine: *const isula_engine,
    id: *const c_char,
    signal: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _e = self::engine(engine)?;
        let _s = opt_text(signal, "signal")?;
        not_yet("kill", text(id, "id")?)
    })
}

/// Remove a container (`docker rm`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, optional): `RemoveOptions`, `{"Force":false,"Volumes":false}`;
///   NULL for defaults (a running container is then refused).
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_remove(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _e = self::engine(engine)?;
        let _o: serde_json::Value = json_or_default(options_json, "options_json")?;
        not_yet("remove", text(id, "id")?)
    })
}

/// Block until a container has exited and give its exit code (`docker wait`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `exit_code` (borrowed, required): receives the exit code (128+signal when killed by a
///   signal); set to -1 on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; blocks only the calling thread. Currently returns
/// `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_wait(
    engine: *const isula_engine,
    id: *const c_char,
    exit_code: *mut i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _out = Out::new(exit_code, "exit_code", -1)?;
        let _e = self::engine(engine)?;
        not_yet("wait", text(id, "id")?)
    })
}

/// List containers (`docker ps`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, optional): `ListOptions`,
///   `{"All":true,"Filters":["status=running","label=k=v"],"Last":0}`; NULL for running ones.
/// - `out_json` (borrowed, required): receives a JSON array of `ContainerSummary`, owned by
///   the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_list(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _out = out_string(out_json, "out_json")?;
        let _e = self::engine(engine)?;
        let _o: serde_json::Value = json_or_default(options_json, "options_json")?;
        not_yet("list", "containers")
    })
}

/// Inspect a container (`docker inspect`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `out_json` (borrowed, required): receives a `ContainerInspect` JSON object (Docker field
///   names), owned by the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_inspect(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _out = out_string(out_json, "out_json")?;
        let _e = self::engine(engine)?;
        not_yet("inspect", text(id, "id")?)
    })
}

/// Run a command in a running container and capture its output (`docker exec`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, required): `ExecOptions`,
///   `{"Cmd":["ls","/"],"Env":["A=b"],"User":"0:0","WorkingDir":"/","Tty":false}`
///   (`Detach` and `AttachStdin` are refused: this call collects the output).
/// - `out_json` (borrowed, required): receives `{"ExitCode":0,"Stdout":"...","Stderr":"..."}`
///   (output bytes that are not UTF-8 are replaced by U+FFFD), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; blocks until the command exits. Currently returns
/// `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_exec(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _out = out_string(out_json, "out_json")?;
        let _e = self::engine(engine)?;
        let _o: serde_json::Value = crate::boundary::json(options_json, "options_json")?;
        not_yet("exec in", text(id, "id")?)
    })
}

/// Read a container's logs so far (`docker logs`, without follow).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, optional): `{"Stdout":true,"Stderr":true,"Tail":100,
///   "Since":1700000000,"Until":1700000100}` (times in seconds since the epoch, every key
///   optional); NULL for everything.
/// - `out_json` (borrowed, required): receives a JSON array of entries
///   `[{"Stream":"stdout","Time":"2024-...Z","Log":"hello\n"}]`, owned by the caller (free
///   with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_container_logs(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let _out = out_string(out_json, "out_json")?;
        let _e = self::engine(engine)?;
        let _o: serde_json::Value = json_or_default(options_json, "options_json")?;
        not_yet("logs of", text(id, "id")?)
    })
}
