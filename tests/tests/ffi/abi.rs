//! The C ABI called from Rust as a C program would: one engine handle shared by many threads
//! (concurrent list, inspect, tag and remove all succeed and the final state is exactly what
//! the operations imply); save and import through the ABI.

// Allowed: this test calls the C ABI through raw pointers, as a C program would.
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use isula::{
    isula_engine, isula_engine_close, isula_engine_open, isula_image_import, isula_image_inspect, isula_image_list,
    isula_image_load, isula_image_remove, isula_image_save, isula_image_tag, isula_status, isula_string_free,
};
use isula_tests::env::{require_root, TestRoot};
use isula_tests::images;

/// Take an owned string from libisula.
fn take(p: *mut c_char) -> String {
    assert!(!p.is_null());
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string();
    unsafe { isula_string_free(p) };
    s
}

/// Turn a status + err pair into a Result with the message.
fn check(st: isula_status, err: *mut c_char) -> Result<(), String> {
    if st == isula_status::ISULA_OK {
        assert!(err.is_null());
        Ok(())
    } else {
        Err(format!("{st:?}: {}", take(err)))
    }
}

struct Handle(*mut isula_engine);
// SAFETY: the C API states an engine handle may be shared between threads.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

#[test]
fn one_handle_many_threads() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let (img, archive) = busybox_archive(&root, images::DockerLayout::Legacy);
    let h = open(&root);
    let path = c_path(&archive);
    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
    check(unsafe { isula_image_load(h.0, path.as_ptr(), ptr::null(), &mut out, &mut err) }, err).unwrap();
    assert!(take(out).contains(img.id()));

    std::thread::scope(|s| {
        for t in 0..6 {
            let h = &h;
            let id = img.id();
            s.spawn(move || {
                for i in 0..10 {
                    let mut err = ptr::null_mut();
                    let mut out = ptr::null_mut();
                    let name = CString::new(format!("threads/t{t}:{i}")).unwrap();
                    check(unsafe { isula_image_tag(h.0, c"busybox:latest".as_ptr(), name.as_ptr(), &mut err) }, err)
                        .unwrap();
                    check(unsafe { isula_image_inspect(h.0, name.as_ptr(), &mut out, &mut err) }, err).unwrap();
                    assert!(take(out).contains(id));
                    check(unsafe { isula_image_list(h.0, ptr::null(), &mut out, &mut err) }, err).unwrap();
                    assert!(take(out).contains("busybox:latest"));
                    if i % 2 == 0 {
                        check(
                            unsafe { isula_image_remove(h.0, name.as_ptr(), ptr::null(), ptr::null_mut(), &mut err) },
                            err,
                        )
                        .unwrap();
                    }
                }
            });
        }
    });

    let mut out = ptr::null_mut();
    check(unsafe { isula_image_list(h.0, ptr::null(), &mut out, &mut err) }, err).unwrap();
    let list: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let mut tags: Vec<String> =
        list[0]["RepoTags"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    tags.sort();
    let mut want: Vec<String> =
        (0..6).flat_map(|t| (0..10).filter(|i| i % 2 == 1).map(move |i| format!("threads/t{t}:{i}"))).collect();
    want.push("busybox:latest".into());
    want.sort();
    assert_eq!(tags, want);
    unsafe { isula_engine_close(h.0) };
    assert_eq!(root.unmount_all(), 0);
}

/// busybox as a `docker save` archive (`layout`) in `root`: the image and the file.
fn busybox_archive(root: &TestRoot, layout: images::DockerLayout) -> (images::BuiltImage, std::path::PathBuf) {
    let img = images::busybox();
    let archive = root.path().join("busybox.tar");
    std::fs::write(&archive, images::docker_archive(&[(&img, &["busybox:latest"])], layout)).unwrap();
    (img, archive)
}

/// Open an engine on `root` through the ABI.
fn open(root: &TestRoot) -> Handle {
    let cfg = serde_json::json!({
        "graph": root.path().join("root"),
        "state": root.path().join("state"),
    })
    .to_string();
    let cfg = CString::new(cfg).unwrap();
    let mut engine = ptr::null_mut();
    let mut err = ptr::null_mut();
    check(unsafe { isula_engine_open(cfg.as_ptr(), &mut engine, &mut err) }, err).unwrap();
    Handle(engine)
}

fn c_path(p: &std::path::Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

#[test]
fn save_and_import_through_the_abi() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let (img, archive) = busybox_archive(&root, images::DockerLayout::Blobs);
    let h = open(&root);
    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
    check(
        unsafe {
            isula_image_load(h.0, c_path(&archive).as_ptr(), c"{\"Tag\":\"mine/bb:2\"}".as_ptr(), &mut out, &mut err)
        },
        err,
    )
    .unwrap();
    assert!(take(out).contains("docker.io/mine/bb:2"));

    // save: a docker archive with the image's config, loadable again elsewhere
    let saved = root.path().join("saved.tar");
    check(unsafe { isula_image_save(h.0, c"[\"mine/bb:2\"]".as_ptr(), c_path(&saved).as_ptr(), &mut err) }, err)
        .unwrap();
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&saved).unwrap());
    for e in ar.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
    // a failed save leaves no file behind
    let bad = root.path().join("bad.tar");
    let st = unsafe { isula_image_save(h.0, c"[\"no-such:1\"]".as_ptr(), c_path(&bad).as_ptr(), &mut err) };
    assert_eq!(st, isula_status::ISULA_NOT_FOUND, "{}", take(err));
    assert!(!bad.exists());

    // import: a rootfs tarball becomes a one-layer image under the given name
    let rootfs = root.path().join("rootfs.tar");
    std::fs::write(&rootfs, images::busybox_layer_tar()).unwrap();
    let mut id = ptr::null_mut();
    check(
        unsafe {
            isula_image_import(
                h.0,
                c_path(&rootfs).as_ptr(),
                c"{\"Reference\":\"imported:1\"}".as_ptr(),
                &mut id,
                &mut err,
            )
        },
        err,
    )
    .unwrap();
    let id = take(id);
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    check(unsafe { isula_image_inspect(h.0, c"imported:1".as_ptr(), &mut out, &mut err) }, err).unwrap();
    let inspect: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    assert_eq!(inspect["Id"], id.as_str());
    assert_eq!(inspect["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    unsafe { isula_engine_close(h.0) };

    // the saved archive loads into a fresh root with the same id
    let other = TestRoot::new();
    let h2 = open(&other);
    check(unsafe { isula_image_load(h2.0, c_path(&saved).as_ptr(), ptr::null(), &mut out, &mut err) }, err).unwrap();
    assert!(take(out).contains(img.id()));
    unsafe { isula_engine_close(h2.0) };
}
