//! docker-archive reader: `manifest.json` (+ `repositories`), legacy `<id>/layer.tar` and
//! the newer `blobs/sha256/<hex>` layout, one or more images.

use serde::Deserialize;

use super::{clean_path, layer_media_type, verify_layer, PendingImage, Unpacked};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::{chain_ids, Descriptor, ImageConfig};
use crate::reference::Reference;

/// One entry of `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The digest a file name promises: `blobs/sha256/<hex>` or `<hex>.json`.
fn named_digest(rel: &str) -> Option<Digest> {
    if let Some(hex) = rel.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).ok();
    }
    rel.strip_suffix(".json").and_then(|h| Digest::from_hex(h).ok())
}

/// Read every image of a docker-archive.
pub(crate) fn read(up: &Unpacked, layer_exists: &dyn Fn(&Digest) -> bool) -> Result<Vec<PendingImage>> {
    let entries: Vec<Entry> = serde_json::from_slice(&up.read_small("manifest.json")?)
        .map_err(|e| Error::invalid(format!("invalid manifest.json: {e}")))?;
    if entries.is_empty() {
        return Err(Error::invalid("manifest.json lists no images"));
    }
    entries.iter().map(|e| read_entry(up, e, layer_exists)).collect()
}

fn read_entry(up: &Unpacked, e: &Entry, layer_exists: &dyn Fn(&Digest) -> bool) -> Result<PendingImage> {
    let cfg_rel = clean_path(&e.config).map_err(|err| err.context("manifest.json Config"))?;
    let data = up.read_small(&cfg_rel)?;
    let id = Digest::of(&data);
    if let Some(named) = named_digest(&cfg_rel) {
        if named != id {
            return Err(Error::invalid(format!("config {cfg_rel:?} has digest {id}, not the {named} its name says")));
        }
    }
    let parsed = ImageConfig::parse(&data)?;
    if parsed.rootfs.diff_ids.len() != e.layers.len() {
        return Err(Error::invalid(format!(
            "image {id}: config has {} diff ids but manifest.json lists {} layers",
            parsed.rootfs.diff_ids.len(),
            e.layers.len()
        )));
    }
    let chains = chain_ids(&parsed.rootfs.diff_ids);
    let mut layers = Vec::new();
    for ((rel, diff_id), chain) in e.layers.iter().zip(&parsed.rootfs.diff_ids).zip(&chains) {
        let rel = clean_path(rel).map_err(|err| err.context("manifest.json Layers"))?;
        let (path, digest, size) = up.lookup(&rel)?;
        if let Some(named) = rel.strip_prefix("blobs/sha256/").and_then(|h| Digest::from_hex(h).ok()) {
            if named != digest {
                return Err(Error::invalid(format!(
                    "layer {rel:?} has digest {digest}, not the {named} its name says"
                )));
            }
        }
        let c = verify_layer(&path, &digest, diff_id, &rel, layer_exists(chain))?;
        layers.push((Descriptor::new(layer_media_type(c), digest, size), path));
    }
    let mut names = Vec::new();
    for t in e.repo_tags.iter().flatten() {
        names.push(Reference::parse(t).map_err(|err| err.context("manifest.json RepoTags"))?);
    }
    Ok(PendingImage { names, config: (id, data), parsed, manifest: None, layers })
}
