//! Read-only image layers keyed by chain id: creation (unpack, verify, commit), lookup, removal.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{links, Snapshotter, StagingGuard};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::layer;
use crate::sys;

/// The OCI chain id of a layer: its diff id for a base layer, otherwise
/// `sha256("<parent chain id> <diff id>")`.
pub(super) fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// A layer unpacked into the snapshotter's staging area, not yet committed; removed when
/// dropped uncommitted.
#[derive(Debug)]
pub(crate) struct StagedLayer {
    staging: std::path::PathBuf,
    applied: layer::AppliedLayer,
    guard: StagingGuard,
}

/// A committed layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerInfo {
    /// The layer's chain id (its identity).
    pub chain_id: Digest,
    /// The chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// sha256 of the layer's uncompressed tar.
    pub diff_id: Digest,
    /// Bytes of file content on disk (regular files, hard links counted once).
    pub size: u64,
    /// The short link id (`l/<link>`) of the layer's diff dir.
    pub link: String,
}

/// What `layers/<hex>/meta.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LayerMeta {
    #[serde(flatten)]
    pub info: LayerInfo,
    /// Short links of all ancestors, nearest first.
    pub lowers: Vec<String>,
    /// Length of the uncompressed tar.
    pub tar_size: u64,
}

impl LayerMeta {
    /// The lowerdir entries for mounting on top of this layer, top first.
    pub(super) fn lowerdirs(&self) -> Vec<String> {
        std::iter::once(&self.info.link).chain(self.lowers.iter()).map(|l| format!("{}/{l}", links::LINK_DIR)).collect()
    }
}

impl Snapshotter {
    /// True when the layer `chain_id` is committed.
    pub(crate) fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layer_home(chain_id).join("meta.json").is_file()
    }

    pub(super) fn layer_meta(&self, chain_id: &Digest) -> Result<LayerMeta> {
        let path = self.layer_home(chain_id).join("meta.json");
        match sys::read_json(&path) {
            Ok(m) => Ok(m),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!("layer {chain_id} not found"))),
            Err(e) => Err(e),
        }
    }

    /// The committed layer `chain_id`; `NotFound` if it does not exist.
    pub(crate) fn layer(&self, chain_id: &Digest) -> Result<LayerInfo> {
        self.layer_meta(chain_id).map(|m| m.info)
    }

    pub(super) fn layer_metas(&self) -> Result<Vec<LayerMeta>> {
        let root = self.layers_root();
        let mut out = Vec::new();
        for ent in std::fs::read_dir(&root).map_err(|e| Error::io(&root, "read", e))? {
            let ent = ent.map_err(|e| Error::io(&root, "read", e))?;
            let Some(chain) = ent.file_name().to_str().and_then(|h| Digest::from_hex(h).ok()) else {
                continue;
            };
            match self.layer_meta(&chain) {
                Ok(m) => out.push(m),
                Err(e) if e.kind() == ErrorKind::NotFound => {} // being removed, or half-made
                // Written but not flushed before a power loss: no image uses it (records are
                // written after the flush); made again when an image needs it.
                Err(e) => log::warn!("layer {chain}: {e}; ignored"),
            }
        }
        out.sort_by(|a, b| a.info.chain_id.cmp(&b.info.chain_id));
        Ok(out)
    }

    /// All committed layers, ordered by chain id.
    pub(crate) fn layers(&self) -> Result<Vec<LayerInfo>> {
        Ok(self.layer_metas()?.into_iter().map(|m| m.info).collect())
    }

    /// The committed layer `chain_id`, if there is one. A layer whose metadata does not parse
    /// (written but not flushed before a power loss) is removed and reported absent, so it
    /// is made again.
    fn existing(&self, chain_id: &Digest) -> Result<Option<LayerInfo>> {
        if !self.has_layer(chain_id) {
            return Ok(None);
        }
        match self.layer_meta(chain_id) {
            Ok(m) => Ok(Some(m.info)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => {
                log::warn!("layer {chain_id}: {e}; removing it to make it again");
                let trash = {
                    let _meta_lock = self.meta_lock()?;
                    self.move_to_trash(&self.layer_home(chain_id), chain_id.hex())?
                };
                self.purge(&self.layer_home(chain_id), &trash)?;
                Ok(None)
            }
        }
    }

    /// Apply `reader` (a possibly compressed layer tar) as the layer on top of
    /// `parent`; the computed diff id must equal `diff_id` (else `InvalidArgument`
    /// and nothing is left). An existing layer is returned as is, without reading
    /// `reader`. Safe against concurrent creation of the same layer by other threads
    /// and processes. Not flushed: see [`Snapshotter::flush`]. (Registrations stage layers
    /// in parallel instead; this is the one-layer form the tests use.)
    #[cfg(test)]
    pub(crate) fn create_layer(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        reader: &mut dyn Read,
    ) -> Result<LayerInfo> {
        let chain = chain_id(parent, diff_id);
        if let Some(info) = self.existing(&chain)? {
            return Ok(info);
        }
        let _creating = sys::FileLock::lock(&self.locks_dir().join(format!("{}.lock", chain.hex())))?;
        if let Some(info) = self.existing(&chain)? {
            return Ok(info);
        }
        if let Some(p) = parent {
            self.layer_meta(p).map_err(|e| e.context(format!("create layer {chain}: parent")))?;
        }
        let staged = self.stage_layer(reader, None)?;
        self.commit_staged_locked(parent, diff_id, &chain, staged)
    }

    /// Unpack `reader` (a possibly compressed layer tar) into a private staging directory,
    /// where nobody sees it until [`Snapshotter::commit_staged`]. Several layers of one
    /// image can be staged at once (in any order, in parallel); dropping the result removes it.
    /// The layer is held to the configured layer size limit, and counted against `image`, the
    /// budget its image operation shares (see [`Snapshotter::image_budget`]).
    pub(crate) fn stage_layer(
        &self,
        reader: &mut dyn Read,
        image: Option<&std::sync::Arc<layer::ImageBudget>>,
    ) -> Result<StagedLayer> {
        let staging = self.staging("layer");
        sys::fs::ensure_dir(&staging.join("diff"), 0o755)?;
        let guard = StagingGuard(Some(staging.clone()));
        let opts = layer::ApplyOptions::limited(self.limits.max_layer_size, image.cloned());
        let applied =
            layer::apply_layer_with(reader, &staging.join("diff"), &opts).map_err(|e| e.context("apply layer"))?;
        Ok(StagedLayer { staging, applied, guard })
    }

    /// Commit a staged layer as the layer on top of `parent` (committed already); its content
    /// must have the diff id `diff_id` (else `InvalidArgument`, and it is removed). When the
    /// layer exists meanwhile (a concurrent pull of the same image), the staged copy is
    /// dropped and the existing layer returned.
    pub(crate) fn commit_staged(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        staged: StagedLayer,
    ) -> Result<LayerInfo> {
        let chain = chain_id(parent, diff_id);
        let _creating = sys::FileLock::lock(&self.locks_dir().join(format!("{}.lock", chain.hex())))?;
        if let Some(info) = self.existing(&chain)? {
            return Ok(info);
        }
        self.commit_staged_locked(parent, diff_id, &chain, staged)
    }

    /// [`Snapshotter::commit_staged`] with the creation lock of `chain` held.
    fn commit_staged_locked(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        chain: &Digest,
        staged: StagedLayer,
    ) -> Result<LayerInfo> {
        if staged.applied.diff_id != *diff_id {
            return Err(Error::invalid(format!(
                "layer diff id mismatch: expected {diff_id}, content has {}",
                staged.applied.diff_id
            )));
        }
        let parent_meta = match parent {
            None => None,
            Some(p) => Some(self.layer_meta(p).map_err(|e| e.context(format!("create layer {chain}: parent")))?),
        };
        let link = links::create(&self.links_dir(), chain)?;
        crate::failpoint::hit("image.register.after-layer-link");
        let res = self.commit_layer(&staged.staging, chain, parent_meta.as_ref(), diff_id, &staged.applied, &link);
        match res {
            Ok(info) => {
                staged.guard.disarm();
                Ok(info)
            }
            Err(e) => {
                let _ = links::remove(&self.links_dir(), &link);
                Err(e)
            }
        }
    }

    /// Make every committed layer durable: one `syncfs(2)` of the snapshotter's filesystem.
    pub(crate) fn flush(&self) -> Result<()> {
        sys::openat::DirFd::open(&self.layers_root())
            .and_then(|d| d.syncfs())
            .map_err(|e| Error::io(self.layers_root(), "sync filesystem of", e))
    }

    fn commit_layer(
        &self,
        staging: &Path,
        chain: &Digest,
        parent: Option<&LayerMeta>,
        diff_id: &Digest,
        applied: &layer::AppliedLayer,
        link: &str,
    ) -> Result<LayerInfo> {
        let info = LayerInfo {
            chain_id: chain.clone(),
            parent: parent.map(|p| p.info.chain_id.clone()),
            diff_id: diff_id.clone(),
            size: applied.content_bytes,
            link: link.to_string(),
        };
        let lowers = match parent {
            None => Vec::new(),
            Some(p) => std::iter::once(p.info.link.clone()).chain(p.lowers.iter().cloned()).collect(),
        };
        let meta = LayerMeta { info: info.clone(), lowers, tar_size: applied.size };
        // Not flushed: the image registration flushes once for all its layers.
        sys::fs::replace_file_json(&staging.join("meta.json"), &meta)?;
        let _meta_lock = self.meta_lock()?;
        if let Some(p) = parent {
            if !self.has_layer(&p.info.chain_id) {
                return Err(Error::not_found(format!(
                    "create layer {chain}: parent layer {} was removed meanwhile",
                    p.info.chain_id
                )));
            }
        }
        let home = self.layer_home(chain);
        std::fs::rename(staging, &home).map_err(|e| Error::io(&home, "commit layer", e))?;
        Ok(info)
    }

    /// Remove the layer `chain_id`. `FailedPrecondition` while a child layer or a
    /// snapshot is based on it; `NotFound` if it does not exist.
    pub(crate) fn remove_layer(&self, chain_id: &Digest) -> Result<()> {
        let _creating = sys::FileLock::lock(&self.locks_dir().join(format!("{}.lock", chain_id.hex())))?;
        let _meta_lock = self.meta_lock()?;
        let meta = self.layer_meta(chain_id)?;
        if let Some(child) = self.layer_metas()?.iter().find(|m| m.info.parent.as_ref() == Some(chain_id)) {
            return Err(Error::precondition(format!("layer {chain_id} is in use by layer {}", child.info.chain_id)));
        }
        if let Some(s) = self.snapshot_metas()?.iter().find(|s| s.parent.as_ref() == Some(chain_id)) {
            return Err(Error::precondition(format!("layer {chain_id} is in use by snapshot {}", s.key)));
        }
        // Layer first (atomically gone), then its link: a crash in between leaves only
        // a dangling link, which repair() removes.
        self.discard(&self.layer_home(chain_id), chain_id.hex())?;
        links::remove(&self.links_dir(), &meta.info.link)
    }
}
