//! Helpers shared by the images_* end-to-end tests.
#![allow(dead_code)]

use std::io::Write;

use isula_core::{Digest, Engine};
use isula_core::{ImageSummary, ListImagesOptions};
use isula_tests::env::TestRoot;

/// Open an engine on a fresh test root (the root is returned first so it drops last).
pub(crate) fn engine() -> (TestRoot, Engine) {
    let root = TestRoot::new();
    let e = Engine::open(root.config()).expect("open engine");
    (root, e)
}

/// Everything a failed operation must leave untouched: the list, the blobs, the layers.
#[derive(Debug, PartialEq)]
pub(crate) struct StoreState {
    pub images: Vec<ImageSummary>,
    pub blobs: Vec<Digest>,
    pub layers: Vec<Digest>,
}

pub(crate) fn state(e: &Engine) -> StoreState {
    StoreState {
        images: e.images().list(&ListImagesOptions::default()).unwrap(),
        blobs: e.content().list().unwrap(),
        layers: e.image_layers_for_test().unwrap(),
    }
}

pub(crate) use isula_tests::images::raw_tar;

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub(crate) fn sha(data: &[u8]) -> String {
    Digest::of(data).to_string()
}

pub(crate) fn hex(data: &[u8]) -> String {
    Digest::of(data).hex().to_string()
}

/// A docker-archive (blobs layout, hand made) of one image with uncompressed `layers`,
/// the config's diff ids taken from the layers as given. `RepoTags` = `tags`.
pub(crate) fn docker_archive_of(layers: &[Vec<u8>], tags: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": isula_tests::images::host_arch(), "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut layer_paths = Vec::new();
    for l in layers {
        let p = format!("blobs/sha256/{}", hex(l));
        layer_paths.push(p.clone());
        files.push((p, l.clone()));
    }
    let cfg_path = format!("blobs/sha256/{}", hex(&config));
    files.push((cfg_path.clone(), config));
    let manifest =
        serde_json::to_vec(&serde_json::json!([{"Config": cfg_path, "RepoTags": tags, "Layers": layer_paths}]))
            .unwrap();
    files.push(("manifest.json".into(), manifest));
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    raw_tar(&refs)
}

/// Names of all images, familiar, sorted.
pub(crate) fn all_tags(e: &Engine) -> Vec<String> {
    let mut v: Vec<String> =
        e.images().list(&ListImagesOptions::default()).unwrap().into_iter().flat_map(|s| s.repo_tags).collect();
    v.sort();
    v
}
