//! End-to-end: bad archives and names get the right error and leave the store exactly as it was
//! (same image list, same blobs, same layers).

use crate::images_common;

use images_common::*;
use isula_core::{Engine, ErrorKind};
use isula_core::{ListImagesOptions, LoadOptions};
use isula_tests::images;

/// An engine already holding busybox, so "unchanged" is checked against a non-empty store.
fn seeded() -> (isula_tests::env::TestRoot, Engine) {
    let (root, e) = engine();
    e.images()
        .load(&mut &images::oci_archive(&images::busybox(), Some("busybox:latest"))[..], &LoadOptions::default())
        .unwrap();
    (root, e)
}

fn assert_refused(e: &Engine, data: &[u8], kinds: &[ErrorKind], what: &str) {
    let before = state(e);
    let err = e.images().load(&mut &data[..], &LoadOptions::default()).expect_err(what);
    assert!(kinds.contains(&err.kind()), "{what}: {:?} {err}", err.kind());
    eprintln!("refused {what}: {err}");
    assert_eq!(state(e), before, "{what}: store changed");
    let tmp = e.root().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).map(|d| d.map(|x| x.unwrap().path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{what}: scratch left behind: {left:?}");
}

fn layer_with(extra: &str) -> Vec<u8> {
    let mut b = images::LayerBuilder::new();
    b.file("ok", 0o644, extra.as_bytes());
    b.finish()
}

#[test]
fn truncated_and_corrupt_archives() {
    let (_root, e) = seeded();
    let img = images::busybox_plus(Some(layer_with("t")), |_| {});
    let data = images::docker_archive(&[(&img, &["t:1"])], images::DockerLayout::Legacy);
    assert_refused(&e, &data[..data.len() / 2], &[ErrorKind::InvalidArgument, ErrorKind::NotFound], "truncated tar");
    assert_refused(
        &e,
        &data[..700],
        &[ErrorKind::InvalidArgument, ErrorKind::NotFound],
        "truncated in the first entry",
    );
    let mut gz = gzip(&data);
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    assert_refused(&e, &gz, &[ErrorKind::InvalidArgument], "corrupt gzip");
    assert_refused(&e, b"", &[ErrorKind::InvalidArgument], "empty input");
    assert_refused(&e, b"BZh91AY&SY garbage", &[ErrorKind::InvalidArgument], "bzip2 archive");
    assert_refused(&e, &raw_tar(&[("hello.txt", b"hi")]), &[ErrorKind::InvalidArgument], "neither format");
}

#[test]
fn wrong_digests_and_missing_blobs() {
    let (_root, e) = seeded();
    let l = layer_with("d");
    let good = docker_archive_of(std::slice::from_ref(&l), &["d:1"]);
    // Sanity: the hand-made archive loads in a separate root.
    let (_r2, e2) = engine();
    e2.images().load(&mut &good[..], &LoadOptions::default()).unwrap();

    // A layer whose bytes do not match its blobs/sha256/<hex> name.
    let tampered = {
        let mut t = l.clone();
        let n = t.len();
        t[n - 1100] ^= 1; // inside the file data
        let diff = sha(&l);
        let cfg = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff]}}))
        .unwrap();
        let man = serde_json::to_vec(&serde_json::json!([{"Config": format!("blobs/sha256/{}", hex(&cfg)),
            "RepoTags": ["d:1"], "Layers": [format!("blobs/sha256/{}", hex(&l))]}]))
        .unwrap();
        raw_tar(&[
            (&format!("blobs/sha256/{}", hex(&l)), &t),
            (&format!("blobs/sha256/{}", hex(&cfg)), &cfg),
            ("manifest.json", &man),
        ])
    };
    assert_refused(&e, &tampered, &[ErrorKind::InvalidArgument], "blob digest does not match its name");

    // Config diff id that does not match the layer.
    let wrong_diff = {
        let cfg = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha(b"something else")]}}))
        .unwrap();
        let man = serde_json::to_vec(
            &serde_json::json!([{"Config": "c.json", "RepoTags": ["d:1"], "Layers": ["l/layer.tar"]}]),
        )
        .unwrap();
        raw_tar(&[("l/layer.tar", &l), ("c.json", &cfg), ("manifest.json", &man)])
    };
    assert_refused(&e, &wrong_diff, &[ErrorKind::InvalidArgument], "diff id mismatch");

    // OCI layout: descriptor digest that matches no blob, and a missing layer blob.
    let img = images::busybox_plus(Some(layer_with("o")), |_| {});
    let oci = images::oci_archive(&img, Some("o:1"));
    let (_td, ar) = unpack(&oci);
    let missing_layer: Vec<(String, Vec<u8>)> =
        ar.iter().filter(|(n, _)| !n.ends_with(img.layers[1].hex())).cloned().collect();
    assert_refused(&e, &pack(&missing_layer), &[ErrorKind::NotFound, ErrorKind::InvalidArgument], "missing blob");
    let wrong_size: Vec<(String, Vec<u8>)> = ar
        .iter()
        .map(|(n, d)| {
            if n.ends_with(img.manifest.hex()) {
                let mut m: serde_json::Value = serde_json::from_slice(d).unwrap();
                m["layers"][1]["digest"] = serde_json::json!(sha(b"nope"));
                // The manifest no longer matches its own name either; fix the index to point to it.
                (n.clone(), serde_json::to_vec(&m).unwrap())
            } else {
                (n.clone(), d.clone())
            }
        })
        .collect();
    assert_refused(&e, &pack(&wrong_size), &[ErrorKind::InvalidArgument], "manifest blob altered");
}

#[test]
fn paths_outside_the_archive_are_refused() {
    let (_root, e) = seeded();
    let l = layer_with("p");
    let cfg = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(&l)]}}))
    .unwrap();
    for bad in ["../../etc/passwd", "/etc/passwd", "a/../../x"] {
        let man = serde_json::to_vec(&serde_json::json!([{"Config": "c.json", "RepoTags": ["p:1"], "Layers": [bad]}]))
            .unwrap();
        let ar = raw_tar(&[("l.tar", &l), ("c.json", &cfg), ("manifest.json", &man)]);
        assert_refused(&e, &ar, &[ErrorKind::InvalidArgument], bad);
        let man = serde_json::to_vec(&serde_json::json!([{"Config": bad, "RepoTags": ["p:1"], "Layers": ["l.tar"]}]))
            .unwrap();
        let ar = raw_tar(&[("l.tar", &l), ("c.json", &cfg), ("manifest.json", &man)]);
        assert_refused(&e, &ar, &[ErrorKind::InvalidArgument], bad);
    }
    // An archive entry itself named ../x.
    let man = serde_json::to_vec(&serde_json::json!([{"Config": "c.json", "RepoTags": ["p:1"], "Layers": ["l.tar"]}]))
        .unwrap();
    let ar = raw_tar(&[("../evil", b"x"), ("l.tar", &l), ("c.json", &cfg), ("manifest.json", &man)]);
    assert_refused(&e, &ar, &[ErrorKind::InvalidArgument], "archive entry ../evil");
    assert!(!e.root().join("evil").exists() && !e.root().parent().unwrap().join("evil").exists());
}

#[test]
fn layer_with_dotdot_entry_is_refused_after_earlier_layers_applied() {
    let (_root, e) = seeded();
    // Layer 0 is fine (and new), layer 1 escapes: layer 0 must be rolled back too.
    let good = layer_with("first");
    let evil = raw_tar(&[("../escaped", b"boom")]);
    let data = docker_archive_of(&[good, evil], &["evil:1"]);
    assert_refused(&e, &data, &[ErrorKind::InvalidArgument, ErrorKind::PermissionDenied], "layer with ../ entry");
    assert!(!e.root().join("snapshots/escaped").exists());
}

#[test]
fn unknown_layer_compression_is_refused() {
    let (_root, e) = seeded();
    let bz = b"BZh91AY&SY\x00\x01\x02 not really bzip2 but it starts like it".to_vec();
    let data = docker_archive_of(std::slice::from_ref(&bz), &["bz:1"]);
    assert_refused(&e, &data, &[ErrorKind::InvalidArgument], "bzip2 layer");
    let junk = images::pseudo_random(4096, 7);
    let data = docker_archive_of(&[junk], &["junk:1"]);
    assert_refused(&e, &data, &[ErrorKind::InvalidArgument], "random bytes as a layer");
}

#[test]
fn name_used_by_another_image_moves() {
    let (_root, e) = seeded();
    let other = images::busybox_plus(Some(layer_with("n")), |_| {});
    e.images().tag("busybox", "keep:1").unwrap();
    let loaded = e
        .images()
        .load(&mut &images::oci_archive(&other, Some("busybox:latest"))[..], &LoadOptions::default())
        .unwrap();
    assert_eq!(e.images().inspect("busybox").unwrap().id, loaded[0].id);
    assert_eq!(e.images().inspect("keep:1").unwrap().repo_tags, vec!["keep:1"], "old image keeps its other names");
    // Move the last name away: the old image becomes dangling.
    e.images().tag("busybox", "keep:1").unwrap();
    let dangling = e.images().list(&ListImagesOptions { all: false, filters: vec!["dangling=true".into()] }).unwrap();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].id, images::busybox().id());
}

#[test]
fn invalid_names() {
    let (_root, e) = seeded();
    let before = state(&e);
    let img = images::busybox_plus(Some(layer_with("i")), |_| {});
    let bad_tag = images::docker_archive(&[(&img, &["Upper/Case:1"])], images::DockerLayout::Legacy);
    assert_refused(&e, &bad_tag, &[ErrorKind::InvalidArgument], "invalid RepoTags");
    let err = e
        .images()
        .load(&mut &images::oci_archive(&img, None)[..], &LoadOptions { tag: Some("a:b:c".into()) })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.images().tag("busybox", "x::y").unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.images().remove("missing:1", &Default::default()).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(state(&e), before);
}

/// Split an archive into (name, data) pairs.
fn unpack(data: &[u8]) -> ((), Vec<(String, Vec<u8>)>) {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(data);
    for ent in ar.entries().unwrap() {
        let mut ent = ent.unwrap();
        if ent.header().entry_type().is_dir() {
            continue;
        }
        let name = ent.path().unwrap().to_string_lossy().into_owned();
        let mut d = Vec::new();
        std::io::Read::read_to_end(&mut ent, &mut d).unwrap();
        out.push((name, d));
    }
    ((), out)
}

fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    raw_tar(&refs)
}

#[test]
fn compressed_layer_not_matching_its_diff_id() {
    let (_root, e) = seeded();
    let real = layer_with("real");
    // New chain: the snapshotter's check refuses it.
    let liar = images::build(std::slice::from_ref(&real), images::Compression::Gzip, |_| {});
    let mut cfg = liar.config_json();
    cfg["rootfs"]["diff_ids"] = serde_json::json!([sha(b"another layer")]);
    let lie = images::build(std::slice::from_ref(&real), images::Compression::Gzip, |c| *c = cfg.clone());
    assert_ne!(lie.diff_ids[0], sha(b"another layer"), "build recomputes diff ids");
    // Hand-make the OCI layout with the lying config.
    let cfg_bytes = serde_json::to_vec(&cfg).unwrap();
    let layer = &lie.layers[0];
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&cfg_bytes), "size": cfg_bytes.len()},
        "layers": [layer.descriptor()]})).unwrap();
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "liar:1"}}]}))
    .unwrap();
    let files = vec![
        ("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json".to_string(), index),
        (format!("blobs/sha256/{}", hex(&cfg_bytes)), cfg_bytes.clone()),
        (format!("blobs/sha256/{}", hex(&manifest)), manifest.clone()),
        (format!("blobs/sha256/{}", layer.hex()), layer.data.clone()),
    ];
    assert_refused(&e, &pack(&files), &[ErrorKind::InvalidArgument], "gzip layer with a wrong diff id (new chain)");

    // Existing chain: claim busybox's diff id for a different gzip layer; the load itself must check.
    let bb = images::busybox();
    let mut cfg2 = bb.config_json();
    cfg2["rootfs"]["diff_ids"] = serde_json::json!([bb.diff_ids[0]]);
    let cfg2_bytes = serde_json::to_vec(&cfg2).unwrap();
    let manifest2 = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&cfg2_bytes), "size": cfg2_bytes.len()},
        "layers": [layer.descriptor()]})).unwrap();
    let index2 = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest2), "size": manifest2.len(),
        "annotations": {"org.opencontainers.image.ref.name": "liar:2"}}]}))
    .unwrap();
    let files = vec![
        ("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json".to_string(), index2),
        (format!("blobs/sha256/{}", hex(&cfg2_bytes)), cfg2_bytes),
        (format!("blobs/sha256/{}", hex(&manifest2)), manifest2),
        (format!("blobs/sha256/{}", layer.hex()), layer.data.clone()),
    ];
    assert_refused(
        &e,
        &pack(&files),
        &[ErrorKind::InvalidArgument],
        "gzip layer with a wrong diff id (existing chain)",
    );
}

/// `storage-opts` size limits: a layer over `overlay2.max-layer-size` (here a gzip bomb), or
/// layers that are each small but together over `overlay2.max-image-size`, are refused with an
/// error naming the option, and leave the store as it was; an image within both loads.
#[test]
fn storage_opts_limit_layer_and_image_sizes() {
    let root = isula_tests::env::TestRoot::new();
    let mut cfg = root.config();
    cfg.storage_opts = vec!["overlay2.max-layer-size=1m".into(), "overlay2.max-image-size=3m".into()];
    let e = Engine::open(cfg).unwrap();
    let zeros = |n: usize| {
        let mut b = images::LayerBuilder::new();
        b.file("zeros", 0o644, &vec![0u8; n]);
        b.finish()
    };
    let bomb = docker_archive_of(&[gzip(&zeros(2 << 20))], &["bomb:1"]);
    assert!(bomb.len() < 64 << 10, "the bomb is small: {}", bomb.len());
    let before = state(&e);
    let err = e.images().load(&mut &bomb[..], &LoadOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains("overlay2.max-layer-size"), "{err}");
    assert_eq!(state(&e), before, "the refused layer changed the store");

    let layers: Vec<Vec<u8>> = (0..4).map(|i| zeros((900 << 10) + i)).collect();
    let wide = docker_archive_of(&layers, &["wide:1"]);
    let err = e.images().load(&mut &wide[..], &LoadOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains("overlay2.max-image-size"), "{err}");
    assert_eq!(state(&e), before, "the refused image changed the store");
    let left: Vec<_> = std::fs::read_dir(e.root().join("snapshots/tmp")).unwrap().map(|x| x.unwrap().path()).collect();
    assert!(left.is_empty(), "staged layers left behind: {left:?}");

    let fits = docker_archive_of(&layers[..3], &["fits:1"]);
    e.images().load(&mut &fits[..], &LoadOptions::default()).unwrap();
    assert!(all_tags(&e).contains(&"fits:1".to_string()), "{:?}", all_tags(&e));

    let mut cfg = root.config();
    cfg.storage_opts = vec!["overlay2.size=10G".into()];
    drop(e);
    let Err(err) = Engine::open(cfg) else { panic!("overlay2.size is refused") };
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}
