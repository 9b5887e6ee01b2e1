//! Measurements (never asserted): load time and `images()` listing time for a ~100 MB image
//! and for 100 small images. Run with
//! `cargo test --release -p isula-tests --test images perf:: -- --ignored --nocapture`.

use crate::images_common;

use std::time::Instant;

use images_common::*;
use isula_core::{ListImagesOptions, LoadOptions};
use isula_tests::images;

#[test]
#[ignore]
fn measure_load_and_list() {
    if std::env::var_os("PERF_SMALL_ONLY").is_none() {
        measure_big();
    }
    measure_small();
}

fn measure_big() {
    let (root, e) = engine();
    let big = images::sized(100 << 20, 4);
    let ar = images::docker_archive(&[(&big, &["big:1"])], images::DockerLayout::Legacy);
    let file = root.path().join("big.tar");
    std::fs::write(&file, &ar).unwrap();
    let t = Instant::now();
    e.images().load(&mut std::fs::File::open(&file).unwrap(), &LoadOptions::default()).unwrap();
    let load_big = t.elapsed();
    let oci = images::oci_archive(&big, Some("bigoci:1"));
    let (_r2, e2) = engine();
    let t = Instant::now();
    e2.images().load(&mut &oci[..], &LoadOptions::default()).unwrap();
    let load_big_oci = t.elapsed();
    let t = Instant::now();
    let mut out = std::io::sink();
    e.images().save(&["big:1"], &mut out).unwrap();
    let save_big = t.elapsed();
    let t = Instant::now();
    let n = e.images().list(&ListImagesOptions::default()).unwrap().len();
    let list_one = t.elapsed();
    println!(
        "~100 MB image ({} bytes archive): load docker-archive {load_big:?}, load OCI gzip {load_big_oci:?}, save {save_big:?}, images() with {n} image {list_one:?}",
        ar.len()
    );
}

fn measure_small() {
    let (_r3, e3) = engine();
    let archives: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            let mut b = images::LayerBuilder::new();
            b.file("id", 0o644, format!("{i}\n").as_bytes());
            let img = images::busybox_plus(Some(b.finish()), |_| {});
            images::oci_archive(&img, Some(&format!("small/img{i}:v1")))
        })
        .collect();
    let t = Instant::now();
    for a in &archives {
        e3.images().load(&mut &a[..], &LoadOptions::default()).unwrap();
    }
    let load_small = t.elapsed();
    let t = Instant::now();
    let n = e3.images().list(&ListImagesOptions::default()).unwrap().len();
    let list_small = t.elapsed();
    let t = Instant::now();
    let f = e3
        .images()
        .list(&ListImagesOptions { all: false, filters: vec!["reference=small/img1*".into()] })
        .unwrap()
        .len();
    let list_filtered = t.elapsed();
    println!(
        "100 small images: load all {load_small:?} ({:?} each), images() of {n}: {list_small:?}, filtered ({f} hits): {list_filtered:?}",
        load_small / 100
    );
}
