//! Multi-platform images: an OCI image index over per-platform busybox images.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::archive::REF_NAME;
use super::{build, busybox_layer_tar, Blob, BuiltImage, Compression, MEDIA_INDEX};

/// An OCI image index and the images it lists (in the same order).
#[derive(Clone, Debug)]
pub struct BuiltIndex {
    /// The image index JSON (`application/vnd.oci.image.index.v1+json`).
    pub index: Blob,
    /// One image per platform.
    pub images: Vec<BuiltImage>,
}

/// A platform: `(architecture, variant)`, e.g. `("arm64", Some("v8"))`; os is always linux.
pub type Platform<'a> = (&'a str, Option<&'a str>);

/// An index over busybox images, one per platform. Every image has the host's busybox layer
/// (gzip) but its config names the given architecture/variant, so each manifest digest differs;
/// the platform also appears on the index entry. Use the host platform
/// ([`super::host_arch`]) among others to test selection.
pub fn multi_platform(platforms: &[Platform<'_>]) -> BuiltIndex {
    let tar = busybox_layer_tar();
    let images: Vec<BuiltImage> = platforms
        .iter()
        .map(|(arch, variant)| {
            build(std::slice::from_ref(&tar), Compression::Gzip, |c| {
                c["architecture"] = json!(arch);
                if let Some(v) = variant {
                    c["variant"] = json!(v);
                }
            })
        })
        .collect();
    let manifests: Vec<Value> = images
        .iter()
        .zip(platforms)
        .map(|(img, (arch, variant))| {
            let mut d = img.manifest.descriptor();
            let mut p = json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                p["variant"] = json!(v);
            }
            d["platform"] = p;
            d
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests});
    BuiltIndex { index: Blob::new(MEDIA_INDEX, serde_json::to_vec(&index).unwrap()), images }
}

/// Write `idx` into the OCI layout at `dir`: all blobs plus an `index.json` entry pointing at the
/// index blob (annotated with `ref_name`), so `oci:<dir>:<ref>` names the whole multi-platform image.
/// Extends an existing layout like [`super::write_oci_layout_dir`].
pub fn write_oci_layout_dir_index(idx: &BuiltIndex, ref_name: Option<&str>, dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("create {}: {e}", blobs.display()));
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("write oci-layout");
    for b in idx.images.iter().flat_map(|i| i.blobs()).chain(std::iter::once(&idx.index)) {
        let p = blobs.join(b.hex());
        if !p.exists() {
            std::fs::write(&p, &b.data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        }
    }
    let index_path = dir.join("index.json");
    let mut manifests: Vec<Value> = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["manifests"].as_array().cloned())
        .unwrap_or_default();
    let mut d = idx.index.descriptor();
    if let Some(r) = ref_name {
        manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(r));
        let mut ann = Map::new();
        ann.insert(REF_NAME.into(), r.into());
        d["annotations"] = Value::Object(ann);
    }
    manifests.push(d);
    let top = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests});
    std::fs::write(&index_path, serde_json::to_vec(&top).unwrap()).expect("write index.json");
}
