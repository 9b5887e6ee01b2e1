//! Repair and garbage collection of the image store: records whose data is gone, and layers
//! and blobs nothing references.

use std::collections::HashSet;

use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::Result;

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
        for r in self.inner.images.list() {
            if let Some(c) = r.chain_ids.iter().find(|c| !self.inner.snapshots.has_layer(c)) {
                log::warn!("dropping image {}: its layer {c} is missing", r.id);
                self.inner.images.delete(&r.id)?;
            } else if let Some(b) = [&r.id, &r.manifest].into_iter().find(|b| !self.inner.content.contains(b)) {
                log::warn!("dropping image {}: its blob {b} is missing", r.id);
                self.inner.images.delete(&r.id)?;
            }
        }
        self.prune_layers_locked()?;
        let all = self.inner.content.list()?;
        self.free_blobs(&all);
        Ok(())
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
