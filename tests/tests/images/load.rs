//! End-to-end: loading every archive format, retagging, saving (checked with skopeo) and
//! round trips, on a real engine root with real overlay layers.

use crate::images_common;

use std::io::Write;

use images_common::*;
use isula_core::ErrorKind;
use isula_core::{ListImagesOptions, LoadOptions};
use isula_tests::images::{self, Compression};

fn load(e: &isula_core::Engine, data: &[u8], tag: Option<&str>) -> isula_core::Result<Vec<isula_core::LoadedImage>> {
    e.images().load(&mut &data[..], &LoadOptions { tag: tag.map(str::to_string) })
}

#[test]
fn load_oci_layout_with_full_name_and_bare_tag() {
    let (_root, e) = engine();
    let img = images::busybox();
    let loaded = load(&e, &images::oci_archive(&img, Some("docker.io/library/busybox:1.36")), None).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, img.id());
    assert_eq!(loaded[0].names, vec!["docker.io/library/busybox:1.36".to_string()]);
    let ins = e.images().inspect("busybox:1.36").unwrap();
    assert_eq!(ins.id, img.id());
    assert_eq!(ins.root_fs.layers, img.diff_ids);
    assert_eq!(ins.os, "linux");
    assert_eq!(ins.graph_driver.name, "overlay2");
    assert_eq!(ins.config["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(ins.manifest.digest, img.manifest.digest, "the layout's own manifest is kept");
    // Every blob of the image is in the content store, ready for a push.
    for b in img.blobs() {
        assert!(e.content().contains(&b.digest.parse().unwrap()), "{b:?}");
    }
    // A bare tag in ref.name names no repository: the image loads dangling.
    let (_root2, e2) = engine();
    load(&e2, &images::oci_archive(&img, Some("latest")), None).unwrap();
    let list = e2.images().list(&ListImagesOptions::default()).unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].repo_tags.is_empty());
}

#[test]
fn load_docker_archives_legacy_and_blobs_multi_image() {
    for layout in [images::DockerLayout::Legacy, images::DockerLayout::Blobs] {
        let (_root, e) = engine();
        let a = images::busybox();
        let b = images::multilayer_whiteouts();
        let data =
            images::docker_archive(&[(&a, &["busybox:latest", "busybox:1"]), (&b, &["localhost:5000/wh:v1"])], layout);
        let loaded = load(&e, &data, None).unwrap();
        assert_eq!(loaded.len(), 2, "{layout:?}");
        assert_eq!(loaded[0].id, a.id());
        assert_eq!(loaded[1].id, b.id());
        assert_eq!(all_tags(&e), vec!["busybox:1", "busybox:latest", "localhost:5000/wh:v1"], "{layout:?}");
        let ins = e.images().inspect("localhost:5000/wh:v1").unwrap();
        assert_eq!(ins.root_fs.layers.len(), 3);
        // One layer for busybox, three for the whiteout image.
        assert_eq!(e.image_layers_for_test().unwrap().len(), 4, "{layout:?}");
        // Synthesised or kept manifests point at blobs that exist.
        for id in [a.id(), b.id()] {
            let m = e.images().inspect(id).unwrap().manifest;
            let md: isula_core::Digest = m.digest.parse().unwrap();
            let bytes = e.content().read(&md, 1 << 20).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for l in v["layers"].as_array().unwrap() {
                assert!(e.content().contains(&l["digest"].as_str().unwrap().parse().unwrap()));
            }
            assert_eq!(v["config"]["digest"].as_str().unwrap(), id);
        }
        // Loading the same archive again is idempotent.
        load(&e, &data, None).unwrap();
        assert_eq!(e.images().list(&ListImagesOptions::default()).unwrap().len(), 2);
    }
}

#[test]
fn load_gzip_compressed_archive_and_zstd_layers() {
    let (_root, e) = engine();
    let a = images::busybox();
    let data = gzip(&images::docker_archive(&[(&a, &["gz:1"])], images::DockerLayout::Legacy));
    assert_eq!(load(&e, &data, None).unwrap()[0].id, a.id());
    let mut extra = images::LayerBuilder::new();
    extra.file("z", 0o644, b"z\n");
    let tars = vec![images::busybox_layer_tar(), extra.finish()];
    let z = images::build(&tars, Compression::Zstd, |c| c["config"]["Labels"] = serde_json::json!({"k": "zstd"}));
    let loaded = load(&e, &images::oci_archive(&z, Some("zstd/img:1")), None).unwrap();
    assert_eq!(loaded[0].id, z.id());
    assert_eq!(e.images().inspect("zstd/img:1").unwrap().root_fs.layers, z.diff_ids);
    let list = e.images().list(&ListImagesOptions { all: false, filters: vec!["label=k=zstd".into()] }).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].repo_tags, vec!["zstd/img:1"]);
}

#[test]
fn retag_on_load() {
    let (_root, e) = engine();
    let a = images::busybox();
    let loaded = load(&e, &images::oci_archive(&a, Some("busybox:latest")), Some("mine/bb:v2")).unwrap();
    assert_eq!(loaded[0].names, vec!["docker.io/mine/bb:v2"]);
    assert_eq!(all_tags(&e), vec!["mine/bb:v2"]);
    // --tag needs a single-image archive.
    let b = images::multilayer_whiteouts();
    let before = state(&e);
    let multi = images::docker_archive(&[(&a, &["a:1"]), (&b, &["b:1"])], images::DockerLayout::Legacy);
    assert_eq!(load(&e, &multi, Some("x:1")).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        load(&e, &images::oci_archive(&a, None), Some("Bad:Tag")).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(state(&e), before);
}

#[test]
fn save_is_accepted_by_skopeo_and_round_trips() {
    let (root, e) = engine();
    let a = images::busybox();
    let b = images::multilayer_whiteouts();
    load(&e, &images::oci_archive(&a, Some("busybox:latest")), None).unwrap();
    load(&e, &images::oci_archive(&b, Some("localhost:5000/wh:v1")), None).unwrap();
    let file = root.path().join("saved.tar");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        e.images().save(&["busybox", "localhost:5000/wh:v1"], &mut f).unwrap();
        f.flush().unwrap();
    }
    if isula_tests::env::require("skopeo") {
        for (name, layers) in [("busybox:latest", 1), ("localhost:5000/wh:v1", 3)] {
            let out = std::process::Command::new("skopeo")
                .args(["inspect", "--config", &format!("docker-archive:{}:{name}", file.display())])
                .output()
                .unwrap();
            assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["rootfs"]["diff_ids"].as_array().unwrap().len(), layers, "{name}");
            let out = std::process::Command::new("skopeo")
                .args(["inspect", &format!("docker-archive:{}:{name}", file.display())])
                .output()
                .unwrap();
            assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["Layers"].as_array().unwrap().len(), layers, "{name}");
        }
    }
    // skopeo copies the archive to an OCI layout, re-reading every layer.tar (diff ids must match).
    if isula_tests::env::require("skopeo") {
        let dest = root.path().join("copied");
        let out = std::process::Command::new("skopeo")
            .args(["copy", &format!("docker-archive:{}:localhost:5000/wh:v1", file.display())])
            .arg(format!("oci:{}:wh", dest.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
        // Load the copy back: skopeo rewrites the config (so the id changes) but the layers are the same.
        let (_r, e4) = engine();
        let oci_tar = root.path().join("copied.tar");
        let st =
            std::process::Command::new("tar").arg("-C").arg(&dest).arg("-cf").arg(&oci_tar).arg(".").status().unwrap();
        assert!(st.success());
        let l = e4
            .images()
            .load(&mut std::fs::File::open(&oci_tar).unwrap(), &LoadOptions { tag: Some("wh:copied".into()) })
            .unwrap();
        assert_eq!(e4.images().inspect(&l[0].id).unwrap().root_fs.layers, b.diff_ids);
    }
    // Round trip into a fresh root keeps ids and names.
    let (_root2, e2) = engine();
    let loaded = e2.images().load(&mut std::fs::File::open(&file).unwrap(), &LoadOptions::default()).unwrap();
    let mut ids: Vec<String> = loaded.iter().map(|l| l.id.clone()).collect();
    ids.sort();
    let mut want = vec![a.id().to_string(), b.id().to_string()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(all_tags(&e2), vec!["busybox:latest", "localhost:5000/wh:v1"]);
    // Saved by id: no names recorded (as docker save <id>).
    let mut by_id = Vec::new();
    e.images().save(&[&a.id()[7..19]], &mut by_id).unwrap();
    let (_root3, e3) = engine();
    let l3 = load(&e3, &by_id, None).unwrap();
    assert_eq!(l3[0].id, a.id());
    assert!(l3[0].names.is_empty());
    assert_eq!(e.images().save(&["nope:1"], &mut Vec::new()).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn overlay_mount_of_multilayer_image_applies_whiteouts() {
    if !isula_tests::env::require_root() {
        return;
    }
    let (root, e) = engine();
    let img = images::multilayer_whiteouts();
    load(&e, &images::oci_archive(&img, Some("wh:1")), None).unwrap();
    e.prepare_snapshot_for_test("c1", "wh:1").unwrap();
    let target = root.path().join("rootfs");
    std::fs::create_dir(&target).unwrap();
    e.mount_snapshot_for_test("c1", &target).unwrap();
    let check = || {
        assert!(target.join("bin/busybox").is_file());
        assert!(!target.join("etc/removed-file").exists(), "whiteout hides the file");
        assert!(target.join("etc/passwd").is_file());
        let mut data: Vec<String> = std::fs::read_dir(target.join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        data.sort();
        assert_eq!(data, vec!["c"], "opaque dir hides the lower entries");
        assert_eq!(std::fs::read(target.join("layer3")).unwrap(), b"layer3\n");
    };
    let res = std::panic::catch_unwind(check);
    e.unmount_snapshot_for_test("c1", &target).unwrap();
    e.remove_snapshot_for_test("c1").unwrap();
    assert_eq!(root.unmount_all(), 0);
    res.unwrap();
}

#[test]
fn load_oci_layout_dir_with_multi_platform_index_picks_the_host() {
    let (root, e) = engine();
    let host = images::host_arch();
    let other = if host == "amd64" { "arm64" } else { "amd64" };
    let idx = images::multi_platform(&[(other, None), (host, None), ("s390x", None)]);
    let dir = root.path().join("layout");
    images::write_oci_layout_dir_index(&idx, Some("docker.io/library/multi:1"), &dir);
    // A second, plain image in the same layout.
    images::write_oci_layout_dir(&images::multilayer_whiteouts(), Some("localhost:5000/wh:2"), &dir);
    let tar = root.path().join("layout.tar");
    let st = std::process::Command::new("tar").arg("-C").arg(&dir).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(st.success());
    let loaded = e.images().load(&mut std::fs::File::open(&tar).unwrap(), &LoadOptions::default()).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].id, idx.images[1].id(), "the host platform's image");
    let ins = e.images().inspect("multi:1").unwrap();
    assert_eq!(ins.architecture, host);
    assert_eq!(e.images().inspect("localhost:5000/wh:2").unwrap().root_fs.layers.len(), 3);
}
