//! Volumes (`docker volume`): create, list, inspect, remove, prune. JSON uses the engine's
//! volume types (`VolumeCreateOptions`, `Volume`, `VolumePruneReport`) with PascalCase keys.

use std::ffi::c_char;

use isula_core::VolumeCreateOptions;

use crate::boundary::{guard, json_or_default, out_string, text};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_volumes.rs"));

/// Create a volume (`docker volume create`); creating an existing name returns it unchanged.
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, optional): `VolumeCreateOptions`,
///   `{"Name":"data","Driver":"local","Labels":{"k":"v"}}`; NULL for an anonymous volume
///   with a random name.
/// - `out_json` (borrowed, required): receives the `Volume` JSON object (`Name`, `Driver`,
///   `Mountpoint`, `Labels`, `CreatedAt`, ...), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_volume_create(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let opts: VolumeCreateOptions = json_or_default(options_json, "options_json")?;
        out.set_json(&e.volumes().create(&opts)?)
    })
}

/// List volumes (`docker volume ls`), sorted by name.
///
/// - `engine` (borrowed, required): an open handle.
/// - `filters_json` (borrowed, optional): JSON array of filters, e.g.
///   `["name=data","label=k=v","dangling=true"]`; NULL for every volume.
/// - `out_json` (borrowed, required): receives a JSON array of `Volume`, owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_volume_list(
    engine: *const isula_engine,
    filters_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let filters: Vec<String> = json_or_default(filters_json, "filters_json")?;
        out.set_json(&e.volumes().list(&filters)?)
    })
}

/// Inspect one volume (`docker volume inspect`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): the volume's name.
/// - `out_json` (borrowed, required): receives a `Volume` JSON object, owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` for an unknown volume.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_volume_inspect(
    engine: *const isula_engine,
    name: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.volumes().inspect(text(name, "name")?)?)
    })
}

/// Remove a volume and its content (`docker volume rm`). `ISULA_CONFLICT` naming the
/// containers while any uses it (with or without `force`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): the volume's name.
/// - `force`: when true an unknown name is not an error.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` for an unknown volume.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_volume_remove(
    engine: *const isula_engine,
    name: *const c_char,
    force: bool,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.volumes().remove(text(name, "name")?, force))
}

/// Remove every volume no container uses (`docker volume prune`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `filters_json` (borrowed, optional): JSON array of filters (`label=`, `label!=`, `name=`,
///   `driver=`); NULL for none.
/// - `out_json` (borrowed, required): receives a `VolumePruneReport`
///   (`{"VolumesDeleted":["data"],"SpaceReclaimed":4096}`), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_volume_prune(
    engine: *const isula_engine,
    filters_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let filters: Vec<String> = json_or_default(filters_json, "filters_json")?;
        out.set_json(&e.volumes().prune(&filters)?)
    })
}
