//! Images as OCI layouts and `docker save` archives.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{decompress, sha256_digest, Blob, BuiltImage, MEDIA_INDEX, MEDIA_LAYER_TAR, MEDIA_MANIFEST};

/// Annotation naming a manifest inside an OCI layout's index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the full image name (as docker 25+ and containerd write it).
pub const IMAGE_NAME: &str = "io.containerd.image.name";

const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

fn index_entry(img: &BuiltImage, manifest: &Blob, annotations: Map<String, Value>) -> Value {
    let cfg = img.config_json();
    let mut d = manifest.descriptor();
    if !annotations.is_empty() {
        d["annotations"] = Value::Object(annotations);
    }
    d["platform"] = json!({"architecture": cfg["architecture"], "os": cfg["os"]});
    d
}

fn index(manifests: Vec<Value>) -> Value {
    json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests})
}

/// Write `img` into the OCI image layout at `dir` (created when missing): `oci-layout`,
/// `blobs/sha256/<hex>` for config, layers and manifest, and an `index.json` entry for the
/// manifest, annotated `org.opencontainers.image.ref.name = ref_name` when given. An existing
/// layout is extended: its index keeps its other entries (an entry with the same ref name is replaced),
/// so several images can share one layout.
pub fn write_oci_layout_dir(img: &BuiltImage, ref_name: Option<&str>, dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("create {}: {e}", blobs.display()));
    std::fs::write(dir.join("oci-layout"), OCI_LAYOUT).expect("write oci-layout");
    for b in img.blobs() {
        let p = blobs.join(b.hex());
        if !p.exists() {
            std::fs::write(&p, &b.data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        }
    }
    let index_path = dir.join("index.json");
    let mut manifests: Vec<Value> = match std::fs::read(&index_path) {
        Ok(b) => {
            let v: Value = serde_json::from_slice(&b).expect("existing index.json is JSON");
            v["manifests"].as_array().cloned().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    };
    let mut ann = Map::new();
    if let Some(r) = ref_name {
        manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(r));
        ann.insert(REF_NAME.into(), r.into());
    }
    manifests.push(index_entry(img, &img.manifest, ann));
    std::fs::write(&index_path, serde_json::to_vec(&index(manifests)).unwrap()).expect("write index.json");
}

/// Deterministic tar writer for archives (fixed mtime, root-owned).
struct ArchiveWriter {
    tar: tar::Builder<Vec<u8>>,
    dirs: std::collections::BTreeSet<String>,
}

impl ArchiveWriter {
    fn new() -> Self {
        ArchiveWriter { tar: tar::Builder::new(Vec::new()), dirs: Default::default() }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(super::MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn parents(&mut self, path: &str) {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            acc.push_str(p);
            acc.push('/');
            if self.dirs.insert(acc.clone()) {
                let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
                self.tar.append_data(&mut h, &acc, std::io::empty()).expect("archive dir");
            }
        }
    }

    fn file(&mut self, path: &str, data: &[u8]) {
        self.parents(path);
        let mut h = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.tar.append_data(&mut h, path, data).expect("archive file");
    }

    fn finish(self) -> Vec<u8> {
        self.tar.into_inner().expect("finish archive")
    }
}

/// The OCI image layout of [`write_oci_layout_dir`] as a tar (what `oci-archive:` and
/// `docker load` of an OCI tarball read).
pub fn oci_archive(img: &BuiltImage, ref_name: Option<&str>) -> Vec<u8> {
    let mut w = ArchiveWriter::new();
    w.file("oci-layout", OCI_LAYOUT.as_bytes());
    let mut ann = Map::new();
    if let Some(r) = ref_name {
        ann.insert(REF_NAME.into(), r.into());
    }
    let idx = index(vec![index_entry(img, &img.manifest, ann)]);
    w.file("index.json", &serde_json::to_vec(&idx).unwrap());
    for b in img.blobs() {
        w.file(&format!("blobs/sha256/{}", b.hex()), &b.data);
    }
    w.finish()
}

/// Which `docker save` format [`docker_archive`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DockerLayout {
    /// Docker before 25: `<layer-id>/layer.tar`, `<layer-id>/json`, `<layer-id>/VERSION`,
    /// `<config-hex>.json`, `manifest.json`, `repositories`.
    Legacy,
    /// Docker 25+: every file in `blobs/sha256/<hex>` (uncompressed layers, an OCI manifest per
    /// image), `oci-layout`, `index.json` (annotated with the full name and the tag),
    /// `manifest.json` pointing into `blobs/`, `repositories`.
    Blobs,
}

/// `repo:tag` split like docker: the tag is after the last `:` that follows the last `/`.
fn split_tag(name: &str) -> (&str, &str) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, "latest"),
    }
}

/// Docker's normalised full name: `busybox:latest` -> `docker.io/library/busybox:latest`.
pub fn normalize_name(name: &str) -> String {
    let (repo, tag) = split_tag(name);
    let first = repo.split('/').next().unwrap_or("");
    let has_domain = repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_domain {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    format!("{full}:{tag}")
}

/// A `docker save` archive holding `images`, each with its `repo:tag` names (may be empty:
/// then the image is saved by id only, as `docker save <id>` does). Layers are stored
/// uncompressed as docker does; config (and so the image id) is the image's own.
/// `manifest.json` is `[{Config, RepoTags, Layers}]` in the given order; `repositories`
/// maps repo -> tag -> top layer id (Legacy) or config hex (Blobs).
pub fn docker_archive(images: &[(&BuiltImage, &[&str])], layout: DockerLayout) -> Vec<u8> {
    let mut w = ArchiveWriter::new();
    let mut manifest = Vec::new();
    let mut repositories: Map<String, Value> = Map::new();
    let mut index_entries = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    let mut put = |w: &mut ArchiveWriter, path: String, data: &[u8]| {
        if written.insert(path.clone()) {
            w.file(&path, data);
        }
    };
    for (img, tags) in images {
        let tars: Vec<Vec<u8>> = img.layers.iter().map(decompress).collect();
        let (config_path, layer_paths, top) = match layout {
            DockerLayout::Legacy => {
                let config_path = format!("{}.json", img.config.hex());
                put(&mut w, config_path.clone(), &img.config.data);
                let mut parent: Option<String> = None;
                let mut paths = Vec::new();
                for (i, tar) in tars.iter().enumerate() {
                    // v1 layer id: derived from the parent id and this layer's diff id (chain-like).
                    let seed = format!("{} {}", parent.as_deref().unwrap_or(""), img.diff_ids[i]);
                    let mut id = sha256_digest(seed.as_bytes()).trim_start_matches("sha256:").to_string();
                    if i + 1 == tars.len() {
                        // docker makes the top layer id depend on the config too.
                        let seed = format!("{id} {}", img.config.digest);
                        id = sha256_digest(seed.as_bytes()).trim_start_matches("sha256:").to_string();
                    }
                    let mut v1 = json!({"id": id, "created": super::CREATED, "os": "linux",
                        "container_config": {"Cmd": null}});
                    if let Some(p) = &parent {
                        v1["parent"] = json!(p);
                    }
                    put(&mut w, format!("{id}/VERSION"), b"1.0");
                    put(&mut w, format!("{id}/json"), &serde_json::to_vec(&v1).unwrap());
                    put(&mut w, format!("{id}/layer.tar"), tar);
                    paths.push(format!("{id}/layer.tar"));
                    parent = Some(id);
                }
                (config_path, paths, parent.unwrap_or_default())
            }
            DockerLayout::Blobs => {
                let config_path = format!("blobs/sha256/{}", img.config.hex());
                put(&mut w, config_path.clone(), &img.config.data);
                let layer_blobs: Vec<Blob> = tars.into_iter().map(|t| Blob::new(MEDIA_LAYER_TAR, t)).collect();
                let mut paths = Vec::new();
                for b in &layer_blobs {
                    let p = format!("blobs/sha256/{}", b.hex());
                    put(&mut w, p.clone(), &b.data);
                    paths.push(p);
                }
                let m = json!({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                    "config": img.config.descriptor(),
                    "layers": layer_blobs.iter().map(Blob::descriptor).collect::<Vec<_>>()});
                let m = Blob::new(MEDIA_MANIFEST, serde_json::to_vec(&m).unwrap());
                put(&mut w, format!("blobs/sha256/{}", m.hex()), &m.data);
                if tags.is_empty() {
                    index_entries.push(index_entry(img, &m, Map::new()));
                }
                for t in tags.iter() {
                    let mut ann = Map::new();
                    ann.insert(IMAGE_NAME.into(), normalize_name(t).into());
                    ann.insert(REF_NAME.into(), split_tag(t).1.into());
                    index_entries.push(index_entry(img, &m, ann));
                }
                (config_path, paths, img.config.hex().to_string())
            }
        };
        for t in tags.iter() {
            let (repo, tag) = split_tag(t);
            let e = repositories.entry(repo.to_string()).or_insert_with(|| json!({}));
            e[tag] = json!(top);
        }
        let repo_tags = if tags.is_empty() { Value::Null } else { json!(tags) };
        manifest.push(json!({"Config": config_path, "RepoTags": repo_tags, "Layers": layer_paths}));
    }
    if layout == DockerLayout::Blobs {
        w.file("oci-layout", OCI_LAYOUT.as_bytes());
        w.file("index.json", &serde_json::to_vec(&index(index_entries)).unwrap());
    }
    w.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    if !repositories.is_empty() {
        w.file("repositories", &serde_json::to_vec(&repositories).unwrap());
    }
    w.finish()
}
