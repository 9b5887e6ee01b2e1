//! Crash points of image load and pull (and the registration both end with).

use isula_core::ErrorKind;
use isula_tests::env::require_root;
use isula_tests::images::{self, BuiltImage};
use isula_tests::registry::{self, Registry, RegistryMode};

use crate::support::{run_op, run_points, Case, Op};

/// The steps of `Images::load`.
pub(crate) const LOAD: &[&str] = &[
    "image.load.after-archive",
    "image.load.after-blobs",
    "image.register.after-stage",
    "image.register.after-layer-link",
    "image.register.after-layer-commit",
    "image.register.after-flush",
    "image.register.after-record",
];

/// The steps of `Images::pull`.
pub(crate) const PULL: &[&str] = &[
    "image.pull.after-blob-commit",
    "image.pull.mid-download",
    "image.pull.after-fetch",
    "image.register.after-layer-link",
    "image.register.after-layer-commit",
    "image.register.after-flush",
    "image.register.after-record",
];

/// Three layers of incompressible data (2 MiB in all): several layers to commit one by one.
fn image() -> BuiltImage {
    images::sized(2 << 20, 3)
}

/// The image is either absent or whole: its three layers, readable blobs (saved again).
fn all_or_nothing(c: &Case, img: &BuiltImage) {
    let p = c.point;
    let e = c.e();
    let ids: Vec<String> = e.images().list(&Default::default()).unwrap().into_iter().map(|i| i.id).collect();
    match ids.as_slice() {
        [] => {}
        [id] if id == img.id() => {
            let ins = e.images().inspect(id).unwrap_or_else(|err| panic!("{p}: inspect: {err}"));
            assert_eq!(ins.root_fs.layers.len(), 3, "{p}: layers of the image");
            e.images().save(&[id], &mut std::io::sink()).unwrap_or_else(|err| panic!("{p}: save: {err}"));
        }
        other => panic!("{p}: images after the crash: {other:?}"),
    }
}

/// Retry, check the image, remove everything, reopen, check that nothing is left.
fn retry_and_clean(c: &mut Case, img: &BuiltImage, arg: &str) {
    let p = c.point;
    run_op(c.e(), c.op, arg).unwrap_or_else(|err| panic!("{p}: retry: {err}"));
    let ins = c.e().images().inspect(img.id()).unwrap_or_else(|err| panic!("{p}: inspect after the retry: {err}"));
    assert_eq!(ins.root_fs.layers.len(), 3, "{p}: layers after the retry");
    c.assert_no_leftovers("after the retry", false);
    c.remove_everything();
    assert_eq!(c.e().images().inspect(img.id()).unwrap_err().kind(), ErrorKind::NotFound);
    c.reopen();
    c.assert_no_leftovers("after removing everything and reopening", false);
}

#[test]
fn load_killed_at_each_step() {
    if !require_root() {
        return;
    }
    let img = image();
    let archive = images::docker_archive(&[(&img, &["crash/img:1"])], images::DockerLayout::Legacy);
    run_points(LOAD, |p| {
        let mut c = Case::new(p, Op::Load, None);
        let path = c.root.path().join("img.tar");
        std::fs::write(&path, &archive).unwrap();
        let arg = path.display().to_string();
        c.crash(&arg);
        c.assert_no_leftovers("after the crash", false);
        all_or_nothing(&c, &img);
        retry_and_clean(&mut c, &img, &arg);
    });
}

#[test]
fn pull_killed_at_each_step() {
    let mode = RegistryMode::Http;
    if !require_root() || !registry::available(&mode) || !isula_tests::env::require("skopeo") {
        return;
    }
    let img = image();
    let reg = Registry::start(mode);
    let reference = reg.push(&img, "crash/img:1");
    run_points(PULL, |p| {
        let mut c = Case::new(p, Op::Pull, Some(reg.addr()));
        c.crash(&reference);
        c.assert_no_leftovers("after the crash", true);
        all_or_nothing(&c, &img);
        retry_and_clean(&mut c, &img, &reference);
    });
}
