//! Image operations of the [`Engine`](super::Engine), one file per operation: load and save
//! ([`archive`]), import, tag, list, inspect, remove, repair and layer GC ([`gc`]), and the
//! internal registration used by pulls ([`register`]). This file holds what they share:
//! name resolution, blob bookkeeping and image events.

mod archive;
mod gc;
mod import;
mod inspect;
mod list;
mod register;
mod remove;
mod tag;

use std::collections::{BTreeMap, HashSet};
#[cfg(any(test, feature = "test-util"))]
use std::path::Path;

use super::Engine;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::image::manifest::{self, Descriptor, Manifest};
use crate::image::store::ImageRecord;
use crate::reference::Reference;

/// The option and result types of these methods, also reachable as `isula_core::image::*`.
pub(crate) use crate::image::types::{
    GraphDriver, ImageInspect, ImageSummary, ImportOptions, ListImagesOptions, LoadOptions, LoadedImage, ManifestRef,
    RemoveImageOptions, RemovedImage, RootFs,
};

/// An image whose blobs are all in the content store, ready to be registered.
#[derive(Debug, Clone)]
pub(crate) struct NewImage {
    /// Manifest blob.
    pub manifest: Digest,
    /// Manifest media type.
    pub manifest_media_type: String,
    /// Config blob (becomes the image id).
    pub config: Digest,
    /// Layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
    /// Names to give the image (moved from other images that hold them).
    pub names: Vec<Reference>,
    /// `repo@sha256:<manifest digest>` the image was pulled by (normalised on registration).
    pub repo_digest: Option<String>,
}

/// Blobs a failing operation added, deleted again unless some image uses them.
#[derive(Default)]
struct NewBlobs(Vec<Digest>);

impl NewBlobs {
    fn note(&mut self, existed: bool, d: &Digest) {
        if !existed && !self.0.contains(d) {
            self.0.push(d.clone());
        }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Engine {
    /// Find an image by full or familiar name, `name@digest`, full id, `sha256:` id or unique id prefix.
    pub(crate) fn resolve_image(&self, name_or_id: &str) -> Result<ImageRecord> {
        self.resolve_with_name(name_or_id).map(|(r, _)| r)
    }

    /// Like [`Engine::resolve_image`], also returning the full name matched (None when matched by id).
    fn resolve_with_name(&self, s: &str) -> Result<(ImageRecord, Option<Reference>)> {
        let idx = self.inner.images.read();
        let id_part = s.strip_prefix("sha256:").unwrap_or(s);
        if id_part.len() == 64 && is_hex(id_part) {
            if let Some(r) = Digest::from_hex(id_part).ok().and_then(|d| idx.images.get(&d)) {
                return Ok((r.clone(), None));
            }
        }
        if !s.starts_with("sha256:") {
            if let Ok(r) = Reference::parse(s) {
                if let Some(d) = r.digest() {
                    let want = r.repository();
                    let hit = idx.images.values().find(|rec| {
                        rec.repo_digests.iter().any(|rd| {
                            Reference::parse(rd)
                                .map(|x| x.repository() == want && x.digest() == Some(d))
                                .unwrap_or(false)
                        }) || (&rec.manifest == d
                            && rec
                                .names
                                .iter()
                                .any(|n| Reference::parse(n).map(|x| x.repository() == want).unwrap_or(false)))
                    });
                    if let Some(rec) = hit {
                        return Ok((rec.clone(), Some(r)));
                    }
                } else if let Some(rec) = idx.by_name(&r.to_string()) {
                    return Ok((rec.clone(), Some(r)));
                }
            }
        }
        if is_hex(id_part) {
            let mut hits = idx
                .images
                .range(Digest::from_hex(&format!("{id_part:0<64}")).ok().unwrap_or_else(|| Digest::of(b""))..)
                .take_while(|(d, _)| d.hex().starts_with(id_part))
                .map(|(_, r)| r);
            if let Some(first) = hits.next() {
                if hits.next().is_some() {
                    return Err(Error::invalid(format!(
                        "image id prefix {s:?} is ambiguous: it matches several images"
                    )));
                }
                return Ok((first.clone(), None));
            }
        }
        Err(Error::not_found(format!("No such image: {s}")).with_reason(crate::Reason::NoSuchImage))
    }

    /// Delete blobs that no image references (errors are logged, not returned).
    fn free_blobs(&self, candidates: &[Digest]) {
        let used: HashSet<Digest> =
            self.inner.images.list().iter().flat_map(|r| r.blobs().cloned().collect::<Vec<_>>()).collect();
        for d in candidates {
            if !used.contains(d) && !self.inner.images.is_pinned(d) {
                if let Err(e) = self.inner.content.delete(d) {
                    if e.kind() != crate::ErrorKind::NotFound {
                        log::warn!("freeing blob {d}: {e}");
                    }
                }
            }
        }
    }

    /// Put `data` into the content store, noting whether it is new.
    fn put_blob(&self, new: &mut NewBlobs, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let existed = self.inner.content.contains(&Digest::of(data));
        let d = self.inner.content.put(data, expected)?;
        new.note(existed, &d);
        Ok(d)
    }

    /// Publish an image event (`name` attribute when given).
    pub(crate) fn emit_image(&self, action: &str, id: &str, name: &str) {
        let mut a = BTreeMap::new();
        if !name.is_empty() {
            a.insert("name".to_string(), name.to_string());
        }
        self.inner.events.emit("image", action, id, a);
    }
}

/// Familiar forms of full names (unparsable ones are kept as they are).
fn familiar_all(names: &[String]) -> Vec<String> {
    names.iter().map(|n| Reference::parse_named(n).map(|r| r.familiar()).unwrap_or_else(|_| n.clone())).collect()
}

/// An OCI manifest for an image that came without one.
fn synth_manifest(config: &Digest, config_size: u64, layers: &[Descriptor]) -> Result<Vec<u8>> {
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.to_string()),
        config: Descriptor::new(manifest::OCI_CONFIG, config.clone(), config_size),
        layers: layers.to_vec(),
        annotations: BTreeMap::new(),
    };
    Ok(serde_json::to_vec(&m)?)
}

/// Hooks for the end-to-end tests of the image store: only with the `test-util` feature
/// (the tests crate enables it), never part of the supported API.
#[cfg(any(test, feature = "test-util"))]
impl Engine {
    /// Chain ids of every layer in the snapshotter.
    pub fn image_layers_for_test(&self) -> Result<Vec<Digest>> {
        let mut v: Vec<Digest> = self.inner.snapshots.layers()?.into_iter().map(|l| l.chain_id).collect();
        v.sort();
        Ok(v)
    }

    /// Prepare a container snapshot `key` on image `image` (as container create will).
    pub fn prepare_snapshot_for_test(&self, key: &str, image: &str) -> Result<()> {
        let rec = self.resolve_image(image)?;
        self.inner.snapshots.prepare(key, rec.chain_ids.last(), Some(&rec.id.to_string()))?;
        Ok(())
    }

    /// Mount snapshot `key` (overlay) on the existing directory `target`.
    pub fn mount_snapshot_for_test(&self, key: &str, target: &Path) -> Result<()> {
        self.inner.snapshots.mount(key, target)
    }

    /// Unmount snapshot `key` from `target`.
    pub fn unmount_snapshot_for_test(&self, key: &str, target: &Path) -> Result<()> {
        self.inner.snapshots.unmount(key, target)
    }

    /// Remove container snapshot `key`, then the image layers nothing uses any more.
    pub fn remove_snapshot_for_test(&self, key: &str) -> Result<()> {
        self.inner.snapshots.remove(key)?;
        self.prune_image_layers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
    }
}
