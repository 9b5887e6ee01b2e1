//! Networks (`docker network`): create, list, inspect, remove. JSON uses the engine's network
//! types (`NetworkCreateOptions`, `NetworkFilters`, `Network`) with Docker's PascalCase keys.

use std::ffi::c_char;

use isula_core::{NetworkCreateOptions, NetworkFilters};

use crate::boundary::{guard, json, json_or_default, out_string, text};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_networks.rs"));

/// Create a bridge network (`docker network create`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, required): `NetworkCreateOptions`, e.g.
///   `{"Name":"net1","Driver":"bridge","Subnet":"10.10.0.0/24","Labels":{"k":"v"}}`.
/// - `out_json` (borrowed, required): receives the new `Network` JSON object (`Name`, `Id`,
///   `Driver`, `Subnet`, `Gateway`, ...), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_ALREADY_EXISTS` for a name in use.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_network_create(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let opts: NetworkCreateOptions = json(options_json, "options_json")?;
        out.set_json(&e.networks().create(&opts)?)
    })
}

/// List networks (`docker network ls`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `filters_json` (borrowed, optional): `NetworkFilters`, e.g. `{"Name":["net"],"Label":["k=v"]}`;
///   NULL for every network.
/// - `out_json` (borrowed, required): receives a JSON array of `Network`, owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_network_list(
    engine: *const isula_engine,
    filters_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let filters: NetworkFilters = json_or_default(filters_json, "filters_json")?;
        out.set_json(&e.networks().list(&filters)?)
    })
}

/// Inspect one network (`docker network inspect`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): network name or unique id prefix.
/// - `out_json` (borrowed, required): receives a `Network` JSON object, owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` for an unknown network.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_network_inspect(
    engine: *const isula_engine,
    name: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        out.set_json(&self::engine(engine)?.networks().inspect(text(name, "name")?)?)
    })
}

/// Remove a network (`docker network rm`); `ISULA_FAILED_PRECONDITION` while containers use it.
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): network name or unique id prefix.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_network_remove(
    engine: *const isula_engine,
    name: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || self::engine(engine)?.networks().remove(text(name, "name")?))
}
