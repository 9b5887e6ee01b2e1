//! Repair and garbage collection of the image store: records whose data is gone, and layers
//! and blobs nothing references.

use std::collections::HashSet;

use super::NewImage;
use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::Result;
use crate::image::archive::MAX_JSON;
use crate::image::manifest::{Manifest, OCI_MANIFEST};

impl Engine {
    /// Layers that must stay: those of every image and the parent chains of container snapshots.
    fn layers_in_use(&self) -> Result<HashSet<Digest>> {
        let mut keep: HashSet<Digest> = self.inner.images.list().into_iter().flat_map(|r| r.chain_ids).collect();
        for s in self.inner.snapshots.snapshots()? {
            let mut cur = s.parent.clone();
            while let Some(c) = cur {
                if !keep.insert(c.clone()) {
                    break;
                }
                cur = self.inner.snapshots.layer(&c).ok().and_then(|l| l.parent);
            }
        }
        Ok(keep)
    }

    /// Remove the layers of `chain` (top down) that nothing uses any more.
    pub(super) fn free_layers(&self, chain: &[Digest]) -> Result<()> {
        let keep = self.layers_in_use()?;
        for c in chain.iter().rev() {
            if keep.contains(c) {
                break;
            }
            if let Err(e) = self.inner.snapshots.remove_layer(c) {
                if e.kind() != crate::ErrorKind::NotFound {
                    log::warn!("removing layer {c}: {e}");
                }
            }
        }
        Ok(())
    }

    /// Start-up repair of the image store: drop records whose layers are gone, then remove
    /// layers and blobs nothing references.
    pub(in crate::engine) fn repair_images(&self) -> Result<()> {
        let _ops = self.inner.images.lock_ops();
        let max_age = self.inner.config.ingest_max_age()?;
        match self.inner.content.clean_ingests(max_age) {
            Ok(0) => {}
            Ok(n) => log::info!("removed {n} partial downloads that cannot be resumed"),
            Err(e) => log::warn!("cleaning partial downloads: {e}"),
        }
        match self.inner.snapshots.clean_staging() {
            Ok(0) => {}
            Ok(n) => log::info!("removed {n} half-unpacked layers left by an interrupted pull or load"),
            Err(e) => log::warn!("cleaning the snapshotter's staging area: {e}"),
        }
        for id in self.inner.images.broken() {
            match self.rebuild_record(&id) {
                Ok(()) => log::error!(
                    "image {id}: its record was unreadable and has been rebuilt from the content store \
                     (its names are lost: tag it again)"
                ),
                Err(e) => log::error!(
                    "image {id}: its record {} is unreadable and cannot be rebuilt ({e}); its data is kept \
                     and garbage collection of layers and blobs is off until the record is fixed or removed",
                    self.inner.images.record_path(&id).display()
                ),
            }
        }
        for r in self.inner.images.list() {
            if let Some(c) = r.chain_ids.iter().find(|c| !self.inner.snapshots.has_layer(c)) {
                log::warn!("dropping image {}: its layer {c} is missing", r.id);
                self.inner.images.delete(&r.id)?;
            } else if let Some(b) = [&r.id, &r.manifest].into_iter().find(|b| !self.inner.content.contains(b)) {
                log::warn!("dropping image {}: its blob {b} is missing", r.id);
                self.inner.images.delete(&r.id)?;
            }
        }
        // What a broken record references is unknown: collect nothing while one is left.
        if self.inner.images.broken().is_empty() {
            self.prune_layers_locked()?;
            let all = self.inner.content.list()?;
            self.free_blobs(&all);
        }
        // Last, after the layers of no image went: half-made layers and snapshots, dangling
        // short links (a crash between a layer's link and its rename), creation locks of
        // layers that are gone.
        if let Err(e) = self.inner.snapshots.repair() {
            log::warn!("repairing the snapshotter: {e}");
        }
        Ok(())
    }

    /// Write the record of image `id` again from the content store: the manifest whose config
    /// is `id`, the config, the layers (names and repo digests are not in the content store).
    fn rebuild_record(&self, id: &Digest) -> Result<()> {
        let content = &self.inner.content;
        if !content.contains(id) {
            return Err(crate::Error::not_found(format!("its config blob {id} is not in the content store")));
        }
        let found = content.list()?.into_iter().find_map(|d| {
            let bytes = content.read(&d, MAX_JSON).ok()?;
            let m: Manifest = serde_json::from_slice(&bytes).ok()?;
            (m.config.digest == *id).then_some((d, m))
        });
        let (manifest, m) =
            found.ok_or_else(|| crate::Error::not_found("no manifest in the content store refers to its config"))?;
        self.register_locked(NewImage {
            manifest,
            manifest_media_type: m.media_type.unwrap_or_else(|| OCI_MANIFEST.to_string()),
            config: id.clone(),
            layers: m.layers,
            names: Vec::new(),
            repo_digest: None,
        })
        .map(|_| ())
    }

    /// Remove the image layers that no image and no container snapshot uses (e.g. after the
    /// container of a force-removed image is deleted).
    pub(crate) fn prune_image_layers(&self) -> Result<()> {
        let _ops = self.inner.images.lock_ops();
        self.prune_layers_locked()
    }

    fn prune_layers_locked(&self) -> Result<()> {
        let keep = self.layers_in_use()?;
        let mut orphans: Vec<(usize, Digest)> = Vec::new();
        for l in self.inner.snapshots.layers()? {
            if !keep.contains(&l.chain_id) {
                let mut depth = 0;
                let mut cur = l.parent.clone();
                while let Some(p) = cur {
                    depth += 1;
                    cur = self.inner.snapshots.layer(&p).ok().and_then(|x| x.parent);
                    if depth > 1000 {
                        break;
                    }
                }
                orphans.push((depth, l.chain_id));
            }
        }
        // Children before parents.
        orphans.sort_by_key(|o| std::cmp::Reverse(o.0));
        for (_, c) in orphans {
            log::info!("removing unreferenced layer {c}");
            if let Err(e) = self.inner.snapshots.remove_layer(&c) {
                log::warn!("removing unreferenced layer {c}: {e}");
            }
        }
        Ok(())
    }
}
