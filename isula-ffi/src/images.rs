//! Image operations: load, save, import, list, inspect, tag, remove, pull, push.
//!
//! Every function here is safe to call from many threads at once on one engine handle.

use std::ffi::{c_char, c_void, CString};
use std::fs::File;
use std::time::Duration;

use isula_core::Error;
use isula_core::ResultExt as _;
use isula_core::{ImportOptions, ListImagesOptions, LoadOptions, RemoveImageOptions};
use isula_core::{PullEvent, PullOptions, PushEvent};

use crate::boundary::{guard, json, json_or_default, out_string, path, text};
use crate::engine::{engine, isula_engine};
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_images.rs"));

/// A callback that receives one JSON document (a progress or event record).
///
/// - `json` (borrowed): valid only during the call; copy it to keep it.
/// - `user`: the `user` pointer given to the call that takes the callback.
///
/// Callbacks run on the thread that made the call, before that call returns. They must not
/// unwind (C++ exceptions, longjmp) through libisula and must not close the engine.
pub type isula_json_cb = Option<unsafe extern "C" fn(json: *const c_char, user: *mut c_void)>;

/// Load the images of an archive file: a `docker save` archive or an OCI image layout tar,
/// plain or gzip/zstd/xz compressed (detected).
///
/// - `engine` (borrowed, required): an open handle.
/// - `archive_path` (borrowed, required): the archive file's path (any bytes but NUL).
/// - `options_json` (borrowed, optional): `LoadOptions`, e.g. `{"Tag":"myimage:1"}`
///   (renames the image of a single-image archive); NULL for none.
/// - `out_json` (borrowed, required): receives a JSON array of `LoadedImage`
///   (`[{"Id":"sha256:...","Names":["docker.io/library/busybox:latest"]}]`), owned by the
///   caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// On failure nothing new is left in the store. Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_load(
    engine: *const isula_engine,
    archive_path: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let p = path(archive_path, "archive_path")?;
        let opts: LoadOptions = json_or_default(options_json, "options_json")?;
        let mut f = File::open(&p).map_err(|x| Error::io(&p, "open image archive", x))?;
        let loaded = e.images().load(&mut f, &opts).ctx(format!("load {}", p.display()))?;
        out.set_json(&loaded)
    })
}

/// Write images to a `docker save` archive file (created or truncated).
///
/// - `engine` (borrowed, required): an open handle.
/// - `names_json` (borrowed, required): JSON array of image names or ids, e.g. `["busybox"]`.
/// - `archive_path` (borrowed, required): the file to write; removed again on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_save(
    engine: *const isula_engine,
    names_json: *const c_char,
    archive_path: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        let names: Vec<String> = json(names_json, "names_json")?;
        let p = path(archive_path, "archive_path")?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut f = File::create(&p).map_err(|x| Error::io(&p, "create archive", x))?;
        let r =
            e.images().save(&refs, &mut f).and_then(|()| f.sync_all().map_err(|x| Error::io(&p, "write archive", x)));
        if r.is_err() {
            let _ = std::fs::remove_file(&p);
        }
        r
    })
}

/// Import a root filesystem tarball (plain or compressed) as a one-layer image.
///
/// - `engine` (borrowed, required): an open handle.
/// - `tar_path` (borrowed, required): the tarball's path.
/// - `options_json` (borrowed, optional): `ImportOptions`,
///   `{"Reference":"name:tag","Message":"..."}`; NULL for none.
/// - `out_id` (borrowed, required): receives the new image id (`sha256:<hex>`, plain text),
///   owned by the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_import(
    engine: *const isula_engine,
    tar_path: *const c_char,
    options_json: *const c_char,
    out_id: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_id, "out_id")?;
        let e = self::engine(engine)?;
        let p = path(tar_path, "tar_path")?;
        let opts: ImportOptions = json_or_default(options_json, "options_json")?;
        let mut f = File::open(&p).map_err(|x| Error::io(&p, "open tarball", x))?;
        let id = e.images().import(&mut f, &opts).ctx(format!("import {}", p.display()))?;
        out.set_string(id.to_string());
        Ok(())
    })
}

/// List images (`docker images`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, optional): `ListImagesOptions`,
///   `{"All":false,"Filters":["reference=busy*","dangling=false","label=k=v"]}`; NULL for all.
/// - `out_json` (borrowed, required): receives a JSON array of `ImageSummary`
///   (`Id`, `RepoTags`, `RepoDigests`, `Created`, `Size`, `Labels`), owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_list(
    engine: *const isula_engine,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let opts: ListImagesOptions = json_or_default(options_json, "options_json")?;
        out.set_json(&e.images().list(&opts)?)
    })
}

/// Inspect one image (`docker image inspect`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): a name (`busybox`, `busybox:latest`, full name), a
///   `name@digest`, an id or a unique id prefix.
/// - `out_json` (borrowed, required): receives an `ImageInspect` JSON object with Docker's
///   field names (`Id`, `RepoTags`, `Config`, `RootFS`, ...), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` for an unknown image.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_inspect(
    engine: *const isula_engine,
    name: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        out.set_json(&e.images().inspect(text(name, "name")?)?)
    })
}

/// Give an image another name (`docker tag`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `source` (borrowed, required): an existing image's name or id.
/// - `target` (borrowed, required): the new name (`repo[:tag]`); moves it if another image
///   had it.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_tag(
    engine: *const isula_engine,
    source: *const c_char,
    target: *const c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let e = self::engine(engine)?;
        e.images().tag(text(source, "source")?, text(target, "target")?)
    })
}

/// Remove an image or one of its names (`docker rmi`).
///
/// - `engine` (borrowed, required): an open handle.
/// - `name` (borrowed, required): a name (untags it; deletes the image with its last name)
///   or an id (deletes the image; `ISULA_CONFLICT` when it has several names, unless forced).
/// - `options_json` (borrowed, optional): `RemoveImageOptions`,
///   `{"Force":false,"NoPrune":false}`; NULL for defaults.
/// - `out_json` (borrowed, optional): when not NULL, receives a JSON array of
///   `RemovedImage` (`[{"Untagged":"busybox:latest"},{"Deleted":"sha256:..."}]`), owned by
///   the caller (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_remove(
    engine: *const isula_engine,
    name: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = if out_json.is_null() { None } else { Some(out_string(out_json, "out_json")?) };
        let e = self::engine(engine)?;
        let n = text(name, "name")?;
        let opts: RemoveImageOptions = json_or_default(options_json, "options_json")?;
        let removed = e.images().remove(n, &opts)?;
        match out {
            Some(o) => o.set_json(&removed),
            None => Ok(()),
        }
    })
}

/// Options of `isula_image_pull` as JSON: `PullOptions` of the Rust API with the timeout in
/// seconds (`Duration` has no JSON form there).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct PullOptionsJson {
    platform: Option<String>,
    max_concurrent_downloads: Option<usize>,
    timeout_secs: Option<u64>,
}

/// Pull an image from a registry, reporting progress (`docker pull`). Registry mirrors,
/// insecure registries and saved credentials come from the engine's config and root.
///
/// - `engine` (borrowed, required): an open handle.
/// - `reference` (borrowed, required): `name[:tag|@digest]`, e.g. `busybox:latest` or
///   `127.0.0.1:5000/test/busybox:1`.
/// - `options_json` (borrowed, optional): `{"platform":"linux/arm64","max_concurrent_downloads":3,
///   "timeout_secs":60}` (every key optional); NULL for defaults.
/// - `progress` (optional): called with each `PullEvent` as JSON, e.g.
///   `{"Resolved":{"reference":...,"digest":...}}`,
///   `{"Layer":{"digest":"sha256:...","progress":{"Downloading":{"current":1024,"total":4096}}}}`,
///   `{"Layer":{"digest":...,"progress":"Done"}}`; see `isula_json_cb`. NULL for none.
/// - `user` (borrowed, optional): passed back to `progress` unchanged; never dereferenced.
/// - `out_json` (borrowed, required): receives the `PullResult` JSON
///   (`{"id":"sha256:...","reference":"...","digest":"sha256:..."}`), owned by the caller
///   (free with `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// On failure no new image is registered. Thread safety: safe from any thread; `progress`
/// runs on the calling thread, before this function returns.
#[no_mangle]
pub unsafe extern "C" fn isula_image_pull(
    engine: *const isula_engine,
    reference: *const c_char,
    options_json: *const c_char,
    progress: isula_json_cb,
    user: *mut c_void,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let r = text(reference, "reference")?;
        let o: PullOptionsJson = json_or_default(options_json, "options_json")?;
        let opts = PullOptions {
            platform: o.platform,
            max_concurrent_downloads: o.max_concurrent_downloads,
            timeout: o.timeout_secs.map(Duration::from_secs),
            ..Default::default()
        };
        let mut report = |ev: PullEvent| {
            if let (Some(cb), Ok(text)) = (progress, serde_json::to_string(&ev)) {
                if let Ok(c) = CString::new(text) {
                    // SAFETY: a C function pointer given by the caller for this purpose, called
                    // with a NUL-terminated string that lives during the call.
                    unsafe { cb(c.as_ptr(), user) };
                }
            }
        };
        let result = e.images().pull(r, &opts, &mut report)?;
        out.set_json(&result)
    })
}

/// Push a local image to its registry (`docker push`), reporting progress. Credentials saved
/// by `isula_login` are used.
///
/// - `engine` (borrowed, required): an open handle.
/// - `reference` (borrowed, required): the local image's name, e.g. `127.0.0.1:5000/test/app:1`.
/// - `progress` (optional): called with each `PushEvent` as JSON; see `isula_json_cb`. NULL
///   for none.
/// - `user` (borrowed, optional): passed back to `progress` unchanged; never dereferenced.
/// - `out_json` (borrowed, required): receives the `PushResult` JSON
///   (`{"digest":"sha256:..."}`, the manifest's digest as pushed), owned by the caller (free with
///   `isula_string_free`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_UNIMPLEMENTED` in a build without the
///   registry client.
///
/// Thread safety: safe from any thread; `progress` runs on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn isula_image_push(
    engine: *const isula_engine,
    reference: *const c_char,
    progress: isula_json_cb,
    user: *mut c_void,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = out_string(out_json, "out_json")?;
        let e = self::engine(engine)?;
        let r = text(reference, "reference")?;
        let mut report = |ev: PushEvent| {
            if let (Some(cb), Ok(text)) = (progress, serde_json::to_string(&ev)) {
                if let Ok(c) = CString::new(text) {
                    // SAFETY: the caller's callback, with a NUL-terminated string valid during the call.
                    unsafe { cb(c.as_ptr(), user) };
                }
            }
        };
        out.set_json(&e.images().push(r, &mut report)?)
    })
}
