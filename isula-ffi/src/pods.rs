//! Pod sandboxes (`engine.pods()`): run, stop, remove, inspect, list, stats and a connection
//! into a pod's network namespace. JSON uses `PodConfig` and `PodInspect` (PascalCase keys);
//! a pod's containers are made with `isula_container_create` and `"Pod":"<pod id>"`.

use std::ffi::c_char;
use std::os::fd::IntoRawFd;

use isula_core::PodConfig;

use crate::boundary::{guard, json, out_string, text, Out};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_pods.rs"));

/// Run a pod: its network namespace (CNI when the engine is configured for it, else loopback
/// only), its infra process holding the shared namespaces, hostname, hosts and resolv.conf.
/// On failure everything done is undone.
///
/// - `engine` (borrowed, required): an open handle.
/// - `config_json` (borrowed, required): `PodConfig`, e.g.
///   `{"Name":"web","Namespace":"default","Uid":"u1","Attempt":0,"Hostname":"web"}`.
/// - `out_id` (borrowed, required): receives the pod id (plain text), owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_ALREADY_EXISTS` for a pod with the same
///   name, namespace, uid and attempt.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_run(
    engine: *const isula_engine,
    config_json: *const c_char,
    out_id: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_id, "out_id")?;
        let e = self::engine(engine)?;
        let config: PodConfig = json(config_json, "config_json")?;
        out.set_string(e.pods().run(&config)?);
        Ok(())
    })
}

/// Stop a pod: its containers and infra process, and release its network. Stopping a
/// stopped pod succeeds.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): pod id or unique id prefix.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_stop(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.pods().stop(text(id, "id")?))
}

/// Remove a pod: its containers (killed if running), infra process, network namespace and
/// files.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): pod id or unique id prefix.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_remove(
    engine: *const isula_engine,
    id: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.pods().remove(text(id, "id")?))
}

/// The config and state of a pod.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): pod id or unique id prefix.
/// - `out_json` (borrowed, required): receives a `PodInspect` JSON object (`Id`, `Config`,
///   `State`, `CreatedAt`, `Ip`, ...), owned by the caller (free with `isula_string_free`);
///   NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` for an unknown pod.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_inspect(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.pods().inspect(text(id, "id")?)?)
    })
}

/// Every pod of the engine, oldest first.
///
/// - `engine` (borrowed, required): an open handle.
/// - `out_json` (borrowed, required): receives a JSON array of `PodInspect`, owned by the
///   caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_list(
    engine: *const isula_engine,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.pods().list()?)
    })
}

/// Resource usage of a pod as a whole (its cgroup parent).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): pod id or unique id prefix.
/// - `out_json` (borrowed, required): receives a `Stats` JSON object
///   (`{"cpu":{...},"memory":{...},"pids":{...},...}`), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_stats(
    engine: *const isula_engine,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.pods().stats(text(id, "id")?)?)
    })
}

/// A TCP connection to `127.0.0.1:port` inside a pod's network namespace (port forwarding).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): pod id or unique id prefix.
/// - `port`: the TCP port inside the pod.
/// - `out_fd` (borrowed, required): receives the connected socket's file descriptor, owned by
///   the caller (close it with `close(2)`); -1 on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_FAILED_PRECONDITION` when the pod is not
///   ready, `ISULA_UNAVAILABLE` when nothing accepts on the port.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_pod_connect(
    engine: *const isula_engine,
    id: *const c_char,
    port: u16,
    out_fd: *mut i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out_fd, "out_fd", -1)?;
        let s = self::engine(engine)?.pods().connect(text(id, "id")?, port)?;
        out.set(s.into_raw_fd());
        Ok(())
    })
}
