//! Checks of the image builders, cross-checked with skopeo and umoci.

use std::process::Command;

use serde_json::Value;

use super::*;
use crate::env::{require, run_ok, TestRoot};

#[test]
fn busybox_layer_has_rootfs() {
    let e = read_tar(&busybox_layer_tar());
    let bb = &e["bin/busybox"];
    assert_eq!(bb.kind, tar::EntryType::Regular);
    assert_eq!(bb.data, std::fs::read(BUSYBOX).unwrap());
    let sh = &e["bin/sh"];
    assert_eq!((sh.kind, sh.link.as_deref()), (tar::EntryType::Link, Some("bin/busybox")));
    let ls = &e["bin/ls"];
    assert_eq!((ls.kind, ls.link.as_deref()), (tar::EntryType::Symlink, Some("busybox")));
    for a in busybox_applets() {
        assert!(e.contains_key(&format!("bin/{a}")), "applet {a} missing");
    }
    assert!(busybox_applets().len() > 100);
    assert_eq!(e["tmp"].mode, 0o1777);
    assert_eq!(e["root"].mode, 0o700);
    assert_eq!(e["home/app"].uid, 1000);
    let passwd = String::from_utf8(e["etc/passwd"].data.clone()).unwrap();
    assert!(passwd.contains("app:x:1000:1000:"), "{passwd}");
    assert!(passwd.starts_with("root:x:0:0:"));
    assert!(String::from_utf8_lossy(&e["etc/group"].data).contains("app:x:1000:"));
    for d in ["proc", "sys", "dev"] {
        assert_eq!(e[d].kind, tar::EntryType::Directory, "{d}");
    }
    assert!(!e.contains_key("etc/hostname"));
}

#[test]
fn builders_are_deterministic_and_consistent() {
    let a = busybox();
    let b = busybox();
    assert_eq!(a.manifest.digest, b.manifest.digest);
    let mut ids = Vec::new();
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let img = busybox_with(c);
        assert_eq!(img.layers[0].media_type, c.media_type());
        assert_eq!(img.layers[0].digest, sha256_digest(&img.layers[0].data));
        assert_eq!(img.diff_ids, vec![sha256_digest(&img.layer_tar(0))]);
        let cfg = img.config_json();
        assert_eq!(cfg["rootfs"]["diff_ids"][0], img.diff_ids[0].as_str());
        assert_eq!(cfg["architecture"], host_arch());
        assert_eq!(cfg["os"], "linux");
        assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["sh"]));
        let m: Value = serde_json::from_slice(&img.manifest.data).unwrap();
        assert_eq!(m["config"]["digest"], img.config.digest.as_str());
        assert_eq!(m["layers"][0]["digest"], img.layers[0].digest.as_str());
        assert_eq!(m["layers"][0]["size"], img.layers[0].data.len());
        ids.push((img.id().to_string(), img.layers[0].digest.clone()));
    }
    assert!(ids.iter().all(|(id, _)| *id == ids[0].0), "config must not depend on compression");
    assert_ne!(ids[0].1, ids[1].1);
    assert_ne!(ids[1].1, ids[2].1);
    assert_eq!(ids[0].1, busybox_with(Compression::None).diff_ids[0]);
}

#[test]
fn whiteout_image_layers() {
    let img = multilayer_whiteouts();
    assert_eq!(img.layers.len(), 3);
    let l0 = read_tar(&img.layer_tar(0));
    assert!(l0.contains_key("etc/removed-file") && l0.contains_key("data/keep") && l0.contains_key("bin/sh"));
    let l1 = read_tar(&img.layer_tar(1));
    assert!(l1.contains_key("etc/.wh.removed-file"));
    assert!(l1.contains_key("data/.wh..wh..opq"));
    assert_eq!(l1["data/c"].data, b"c\n");
    let l2 = read_tar(&img.layer_tar(2));
    assert_eq!(l2.keys().collect::<Vec<_>>(), vec!["layer3"]);
}

#[test]
fn sized_image_is_incompressible_and_exact() {
    let img = sized(10 << 20, 3);
    assert_eq!(img.layers.len(), 3);
    let mut data = 0usize;
    for i in 0..3 {
        for (p, e) in read_tar(&img.layer_tar(i)) {
            if p.starts_with("data/layer") && e.kind == tar::EntryType::Regular {
                data += e.data.len();
            }
        }
    }
    assert_eq!(data, 10 << 20);
    let stored: usize = img.layers.iter().map(|l| l.data.len()).sum();
    assert!(stored > 10 << 20, "random data must not compress: {stored}");
    assert_eq!(sized(10 << 20, 3).manifest.digest, img.manifest.digest);
    let plain = sized_with(1 << 20, 1, Compression::None);
    assert_eq!(plain.layers[0].media_type, MEDIA_LAYER_TAR);
    assert_eq!(plain.layers[0].digest, plain.diff_ids[0]);
}

fn skopeo_inspect(target: &str) -> Value {
    let out = run_ok(Command::new("skopeo").args(["inspect", target]));
    serde_json::from_str(&out).unwrap()
}

fn skopeo_raw(target: &str) -> Vec<u8> {
    let out = Command::new("skopeo").args(["inspect", "--raw", target]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn skopeo_reads_oci_layout_and_archive() {
    if !require("skopeo") {
        return;
    }
    let t = TestRoot::new();
    let dir = t.path().join("layout");
    let img = busybox();
    let zimg = busybox_with(Compression::Zstd);
    write_oci_layout_dir(&img, Some("latest"), &dir);
    write_oci_layout_dir(&zimg, Some("zstd"), &dir);
    let target = format!("oci:{}:latest", dir.display());
    let v = skopeo_inspect(&target);
    assert_eq!(v["Digest"], img.manifest.digest.as_str());
    assert_eq!(v["Layers"], serde_json::json!([img.layers[0].digest]));
    assert_eq!(v["Architecture"], host_arch());
    assert_eq!(skopeo_raw(&target), img.manifest.data);
    let v = skopeo_inspect(&format!("oci:{}:zstd", dir.display()));
    assert_eq!(v["Digest"], zimg.manifest.digest.as_str());

    let archive = t.path().join("img.tar");
    std::fs::write(&archive, oci_archive(&img, Some("v1"))).unwrap();
    let v = skopeo_inspect(&format!("oci-archive:{}:v1", archive.display()));
    assert_eq!(v["Digest"], img.manifest.digest.as_str());

    // skopeo copy the layout into a fresh one: blobs must keep their digests.
    let copy = t.path().join("copy");
    run_ok(Command::new("skopeo").args([
        "copy",
        "--preserve-digests",
        &format!("oci:{}:latest", dir.display()),
        &format!("oci:{}:c", copy.display()),
    ]));
    for b in img.blobs() {
        let p = copy.join("blobs/sha256").join(b.hex());
        assert_eq!(std::fs::read(&p).unwrap(), b.data, "{}", p.display());
    }
}

#[test]
fn skopeo_reads_docker_archives() {
    if !require("skopeo") {
        return;
    }
    let t = TestRoot::new();
    let a = busybox();
    let b = multilayer_whiteouts();
    for layout in [DockerLayout::Legacy, DockerLayout::Blobs] {
        let path = t.path().join(format!("{layout:?}.tar"));
        let bytes = docker_archive(&[(&a, &["busybox:latest"]), (&b, &["example.com/wh:1", "wh:2"])], layout);
        assert_eq!(bytes, docker_archive(&[(&a, &["busybox:latest"]), (&b, &["example.com/wh:1", "wh:2"])], layout));
        std::fs::write(&path, bytes).unwrap();
        for (img, name) in [(&a, "busybox:latest"), (&b, "example.com/wh:1"), (&b, "wh:2")] {
            let target = format!("docker-archive:{}:{name}", path.display());
            let v = skopeo_inspect(&target);
            // docker archives hold uncompressed layers: their digests are the diff ids.
            assert_eq!(v["Layers"], serde_json::json!(img.diff_ids), "{layout:?} {name}");
            let cfg = run_ok(Command::new("skopeo").args(["inspect", "--config", "--raw", &target]));
            assert_eq!(cfg.as_bytes(), img.config.data, "{layout:?} {name}");
        }
        // by index: @1 is the second image
        let v = skopeo_inspect(&format!("docker-archive:{}:@1", path.display()));
        assert_eq!(v["Layers"], serde_json::json!(b.diff_ids));
    }
}

#[test]
fn docker_blobs_archive_is_also_an_oci_layout() {
    if !require("skopeo") {
        return;
    }
    let t = TestRoot::new();
    let a = busybox();
    let bytes = docker_archive(&[(&a, &["busybox:1.36"])], DockerLayout::Blobs);
    let path = t.path().join("d.tar");
    std::fs::write(&path, bytes).unwrap();
    let v = skopeo_inspect(&format!("oci-archive:{}:1.36", path.display()));
    assert_eq!(v["Layers"], serde_json::json!(a.diff_ids));
    let e = read_tar(&std::fs::read(&path).unwrap());
    let idx: Value = serde_json::from_slice(&e["index.json"].data).unwrap();
    assert_eq!(idx["manifests"][0]["annotations"][archive::IMAGE_NAME], "docker.io/library/busybox:1.36");
    let legacy = read_tar(&docker_archive(&[(&a, &["busybox:1.36"])], DockerLayout::Legacy));
    let m: Value = serde_json::from_slice(&legacy["manifest.json"].data).unwrap();
    let layer = m[0]["Layers"][0].as_str().unwrap();
    assert!(layer.ends_with("/layer.tar"));
    assert_eq!(sha256_digest(&legacy[layer].data), a.diff_ids[0]);
    assert_eq!(m[0]["Config"], format!("{}.json", a.config.hex()));
    let repos: Value = serde_json::from_slice(&legacy["repositories"].data).unwrap();
    assert_eq!(repos["busybox"]["1.36"].as_str().unwrap(), layer.trim_end_matches("/layer.tar"));
}

#[test]
fn umoci_unpacks_whiteouts() {
    if !require("umoci") {
        return;
    }
    let t = TestRoot::new();
    let dir = t.path().join("layout");
    let img = multilayer_whiteouts();
    write_oci_layout_dir(&img, Some("wh"), &dir);
    let bundle = t.path().join("bundle");
    run_ok(Command::new("umoci").args([
        "unpack",
        "--image",
        &format!("{}:wh", dir.display()),
        bundle.to_str().unwrap(),
    ]));
    let rootfs = bundle.join("rootfs");
    assert!(!rootfs.join("etc/removed-file").exists());
    let mut data: Vec<String> = std::fs::read_dir(rootfs.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    data.sort();
    assert_eq!(data, vec!["c"]);
    assert_eq!(std::fs::read(rootfs.join("layer3")).unwrap(), b"layer3\n");
    // The unpacked static busybox runs, via the hard link and via the symlink.
    let out = run_ok(Command::new(rootfs.join("bin/sh")).args(["-c", "echo ok"]));
    assert_eq!(out, "ok\n");
    let out = run_ok(Command::new(rootfs.join("bin/ls")).arg(rootfs.join("data")));
    assert_eq!(out, "c\n");
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| std::fs::metadata(rootfs.join(p)).unwrap().ino();
    assert_eq!(ino("bin/sh"), ino("bin/busybox"));
    assert!(std::fs::symlink_metadata(rootfs.join("bin/env")).unwrap().file_type().is_symlink());
}

#[test]
fn multi_platform_index_in_oci_layout() {
    if !require("skopeo") {
        return;
    }
    let t = TestRoot::new();
    let idx = multi_platform(&[(host_arch(), None), ("arm", Some("v7"))]);
    assert_ne!(idx.images[0].manifest.digest, idx.images[1].manifest.digest);
    assert_eq!(idx.images[1].config_json()["variant"], "v7");
    let dir = t.path().join("layout");
    write_oci_layout_dir_index(&idx, Some("multi"), &dir);
    write_oci_layout_dir(&busybox(), Some("single"), &dir);
    // skopeo reports the index digest and picks the host platform's image.
    let v = skopeo_inspect(&format!("oci:{}:multi", dir.display()));
    assert_eq!(v["Digest"], idx.index.digest.as_str());
    let cfg =
        run_ok(Command::new("skopeo").args(["inspect", "--config", "--raw", &format!("oci:{}:multi", dir.display())]));
    assert_eq!(cfg.as_bytes(), idx.images[0].config.data);
    assert_eq!(skopeo_raw(&format!("oci:{}:multi", dir.display())), idx.index.data);
    let v = skopeo_inspect(&format!("oci:{}:single", dir.display()));
    assert_eq!(v["Digest"], busybox().manifest.digest.as_str());
}

#[test]
fn normalize_names_like_docker() {
    assert_eq!(normalize_name("busybox"), "docker.io/library/busybox:latest");
    assert_eq!(normalize_name("user/img:1"), "docker.io/user/img:1");
    assert_eq!(normalize_name("localhost:5000/img"), "localhost:5000/img:latest");
    assert_eq!(normalize_name("example.com/a/b:2"), "example.com/a/b:2");
}
