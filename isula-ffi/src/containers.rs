//! Container operations: create, run, start, stop, restart, kill, pause, unpause, rename,
//! update, remove, wait, list, inspect, record, health, top, stats, exec, logs.
//!
//! JSON inputs and outputs use the engine's container types (`CreateOptions`, `ListOptions`,
//! `RemoveOptions`, `ExecOptions`, `ContainerSummary`, `ContainerInspect`), which carry
//! Docker's PascalCase field names. All functions are safe to call from many threads at once
//! on one engine handle.

use std::ffi::c_char;

use isula_core::Error;
use isula_core::{CreateOptions, ExecOptions, ListOptions, RemoveOptions, UpdateOptions, WaitCondition};
use isula_core::{LogLine, LogOptions, LogStream};
use serde::Serialize;

use crate::boundary::{guard, json, json_or_default, opt_text, out_string, text, Out};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_containers.rs"));

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

/// One entry of `isula_container_logs` and `isula_container_logs_follow`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LogEntry {
    pub(crate) stream: LogStream,
    pub(crate) time: String,
    pub(crate) log: String,
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

/// Create and start a container (`docker run -d`); returns its id. When the start fails the
/// container stays (as with Docker), with the error in its state.
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, required): `CreateOptions` as for `isula_container_create`.
/// - `out_id` (borrowed, required): receives the new container's id (plain text), owned by
///   the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_run(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_id: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_id, "out_id")?;
        let e = self::engine(engine)?;
        let opts: CreateOptions = json(options_json, "options_json")?;
        out.set_string(e.containers().run(&opts)?);
        Ok(())
    })
}

/// Stop a container (as `isula_container_stop`) and start it again (`docker restart`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `timeout_secs`: seconds to wait before SIGKILL; negative for the container's default.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_restart(
    engine: *const isula_engine,
    id: *const c_char,
    timeout_secs: i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let t = (timeout_secs >= 0).then_some(i64::from(timeout_secs));
        self::engine(engine)?.containers().restart(text(id, "id")?, t)
    })
}

/// Freeze every process of a running container (`docker pause`);
/// `ISULA_FAILED_PRECONDITION` when it is not running.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_pause(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.containers().pause(text(id, "id")?))
}

/// Thaw a paused container (`docker unpause`); `ISULA_FAILED_PRECONDITION` when it is not
/// paused.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_unpause(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.containers().unpause(text(id, "id")?))
}

/// Rename a container (`docker rename`): `ISULA_CONFLICT` when the new name is in use,
/// `ISULA_INVALID_ARGUMENT` when it is invalid or unchanged.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `new_name` (borrowed, required): the new name.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_rename(
    engine: *const isula_engine,
    id: *const c_char,
    new_name: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.containers().rename(text(id, "id")?, text(new_name, "new_name")?))
}

/// Change a container's resource limits and restart policy (`docker update`): written to the
/// running container's cgroup at once, then kept in its record; nothing is kept when the
/// live update fails.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, required): `UpdateOptions`, e.g.
///   `{"Resources":{"Memory":67108864,"CpuShares":512,"PidsLimit":100},"RestartPolicy":{"Name":"always"}}`
///   (every key optional; resource keys left out keep their values).
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_update(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let opts: UpdateOptions = json(options_json, "options_json")?;
        e.containers().update(text(id, "id")?, &opts)
    })
}

/// The processes of a running container (`docker top`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `ps_args_json` (borrowed, optional): JSON array of `ps` arguments, e.g. `["-o","pid,comm"]`;
///   NULL for `-ef`.
/// - `out_json` (borrowed, required): receives a `TopResult`
///   (`{"titles":["UID","PID",...],"processes":[["root","1234",...]]}`), owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_top(
    engine: *const isula_engine,
    id: *const c_char,
    ps_args_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let args: Vec<String> = json_or_default(ps_args_json, "ps_args_json")?;
        out.set_json(&e.containers().top(text(id, "id")?, &args)?)
    })
}

/// One resource usage sample of a container (`docker stats --no-stream`): its CPU percentage
/// covers the last second, so this takes about a second. A container that is not running
/// gives a sample without counters (`"stats":null`). See `isula_container_stats_stream` for
/// a stream.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `out_json` (borrowed, required): receives a `ContainerStats` JSON object
///   (`{"id":...,"name":...,"stats":{"cpu":{...},"memory":{...},"pids":{...},...},
///   "cpu_percent":1.5,"memory_percent":0.3}`), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_stats(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let mut sample = None;
        e.containers().stats(text(id, "id")?, false, &mut |s| {
            sample = Some(s.clone());
            false
        })?;
        let s = sample.ok_or_else(|| Error::internal("the engine gave no stats sample"))?;
        out.set_json(&s)
    })
}

/// The full record of a container as the engine keeps it (config, state, paths), for tools
/// built on the engine; `isula_container_inspect` is the Docker-shaped view.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `out_json` (borrowed, required): receives a `ContainerRecord` JSON object, owned by the
///   caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_record(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.containers().record(text(id, "id")?)?)
    })
}

/// The health of a container with a health check.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `out_json` (borrowed, required): receives a `HealthState` JSON object
///   (`{"Status":"healthy","FailingStreak":0,"Log":[...]}`), or `null` when the container has
///   no health check or it never ran; owned by the caller (free with `isula_string_free`);
///   NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_health(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.containers().health(text(id, "id")?)?)
    })
}

/// Reopen the log file of a running container with the `cri` log driver, after the caller
/// moved the old one away (log rotation as kubelet does it).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_FAILED_PRECONDITION` when the container
///   is not running or logs another way.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_reopen_log(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.containers().reopen_log(text(id, "id")?))
}
