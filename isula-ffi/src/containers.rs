//! Container operations: create, start, stop, kill, remove, wait, list, inspect, exec, logs.
//!
//! JSON inputs and outputs use the engine's container types (`CreateOptions`, `ListOptions`,
//! `RemoveOptions`, `ExecOptions`, `ContainerSummary`, `ContainerInspect`), which carry
//! Docker's PascalCase field names. All functions are safe to call from many threads at once
//! on one engine handle.

use std::ffi::c_char;

use isula_core::Error;
use isula_core::{CreateOptions, ExecOptions, ListOptions, RemoveOptions, WaitCondition};
use isula_core::{LogLine, LogOptions, LogStream};
use serde::Serialize;

use crate::boundary::{guard, json, json_or_default, opt_text, out_string, text, Out};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

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
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_create(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_id: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_id, "out_id")?;
        let e = self::engine(engine)?;
        let opts: CreateOptions = json(options_json, "options_json")?;
        out.set_string(e.containers().create(&opts)?);
        Ok(())
    })
}

/// Start a created or stopped container (`docker start`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_start(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.containers().start(text(id, "id")?))
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
/// Thread safety: safe from any thread; blocks until the container has stopped.
#[no_mangle]
pub unsafe extern "C" fn isula_container_stop(
    engine: *const isula_engine,
    id: *const c_char,
    timeout_secs: i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let t = (timeout_secs >= 0).then_some(i64::from(timeout_secs));
        self::engine(engine)?.containers().stop(text(id, "id")?, t)
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
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_kill(
    engine: *const isula_engine,
    id: *const c_char,
    signal: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let s = opt_text(signal, "signal")?.unwrap_or("KILL");
        e.containers().kill(text(id, "id")?, s)
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
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_remove(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let opts: RemoveOptions = json_or_default(options_json, "options_json")?;
        e.containers().remove(text(id, "id")?, &opts)
    })
}

/// Block until a container is not running and give its exit code (`docker wait`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `exit_code` (borrowed, required): receives the exit code (128+signal when killed by a
///   signal); set to -1 on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; blocks only the calling thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_wait(
    engine: *const isula_engine,
    id: *const c_char,
    exit_code: *mut i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(exit_code, "exit_code", -1)?;
        let e = self::engine(engine)?;
        out.set(e.containers().wait(text(id, "id")?, WaitCondition::NotRunning)?);
        Ok(())
    })
}

/// [`isula_container_wait`] with a time limit: give up after `timeout_ms` milliseconds
/// (a negative value waits forever).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `timeout_ms`: the most to wait, in milliseconds; negative for no limit.
/// - `exit_code` (borrowed, required): receives the exit code; set to -1 on failure or timeout.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Returns `ISULA_UNAVAILABLE` ("timed out …") when the container still runs at the deadline.
///
/// Thread safety: safe from any thread; blocks only the calling thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_wait_timeout(
    engine: *const isula_engine,
    id: *const c_char,
    timeout_ms: i64,
    exit_code: *mut i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(exit_code, "exit_code", -1)?;
        let e = self::engine(engine)?;
        let id = text(id, "id")?;
        let timeout = u64::try_from(timeout_ms).ok().map(std::time::Duration::from_millis);
        match e.containers().wait_timeout(id, WaitCondition::NotRunning, timeout)? {
            Some(code) => out.set(code),
            None => {
                return Err(isula_core::Error::unavailable(format!(
                    "timed out after {timeout_ms} ms waiting for container {id} to stop"
                )))
            }
        }
        Ok(())
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
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_list(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let opts: ListOptions = json_or_default(options_json, "options_json")?;
        out.set_json(&e.containers().list(&opts)?)
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
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_inspect(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        out.set_json(&e.containers().inspect(text(id, "id")?)?)
    })
}

/// Output of `isula_container_exec`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExecResult {
    exit_code: i32,
    stdout: String,
    stderr: String,
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
/// Thread safety: safe from any thread; blocks until the command exits.
#[no_mangle]
pub unsafe extern "C" fn isula_container_exec(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let id = text(id, "id")?;
        let opts: ExecOptions = json(options_json, "options_json")?;
        if opts.detach || opts.attach_stdin {
            return Err(Error::invalid(
                "exec through libisula collects the output: Detach and AttachStdin are not supported",
            ));
        }
        let r = e.containers().exec(id, &opts)?.collect()?;
        out.set_json(&ExecResult {
            exit_code: r.exit_code,
            stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&r.stderr).into_owned(),
        })
    })
}

/// One entry of `isula_container_logs`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LogEntry {
    stream: LogStream,
    time: String,
    log: String,
}

/// Read a container's logs so far (`docker logs`, without follow).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, optional): `{"Stdout":true,"Stderr":true,"Tail":100,
///   "Since":1700000000,"Until":"2023-11-14T22:15:00Z"}` (the shared `LogOptions`: times in
///   seconds since the epoch or RFC 3339, every key optional; `Follow` is ignored); NULL for everything.
/// - `out_json` (borrowed, required): receives a JSON array of entries
///   `[{"Stream":"stdout","Time":"2024-...Z","Log":"hello\n"}]`, owned by the caller (free
///   with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_logs(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let id = text(id, "id")?;
        let mut opts: LogOptions = json_or_default(options_json, "options_json")?;
        opts.follow = false;
        let mut entries = Vec::new();
        e.containers().logs(id, &opts, &mut |l: LogLine| {
            entries.push(LogEntry { stream: l.stream, time: l.time, log: l.log });
            true
        })?;
        out.set_json(&entries)
    })
}
