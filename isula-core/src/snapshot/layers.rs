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
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.info.chain_id.cmp(&b.info.chain_id));
        Ok(out)
    }

    /// All committed layers, ordered by chain id.
    pub(crate) fn layers(&self) -> Result<Vec<LayerInfo>> {
        Ok(self.layer_metas()?.into_iter().map(|m| m.info).collect())
    }

    /// Apply `reader` (a possibly compressed layer tar) as the layer on top of
    /// `parent`; the computed diff id must equal `diff_id` (else `InvalidArgument`
    /// and nothing is left). An existing layer is returned as is, without reading
    /// `reader`. Safe against concurrent creation of the same layer by other threads
    /// and processes.
    pub(crate) fn create_layer(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        reader: &mut dyn Read,
    ) -> Result<LayerInfo> {
        let chain = chain_id(parent, diff_id);
        if self.has_layer(&chain) {
            return self.layer(&chain);
        }
        let _creating = sys::FileLock::lock(&self.locks_dir().join(format!("{}.lock", chain.hex())))?;
        if self.has_layer(&chain) {
            return self.layer(&chain);
        }
        let parent_meta = match parent {
            None => None,
            Some(p) => Some(self.layer_meta(p).map_err(|e| e.context(format!("create layer {chain}: parent")))?),
        };

        let staging = self.staging(chain.hex());
        sys::fs::ensure_dir(&staging.join("diff"), 0o755)?;
        let guard = StagingGuard(Some(staging.clone()));
        let applied = layer::apply_layer(reader, &staging.join("diff"))
            .map_err(|e| e.context(format!("apply layer {diff_id}")))?;
        if applied.diff_id != *diff_id {
            return Err(Error::invalid(format!(
                "layer diff id mismatch: expected {diff_id}, content has {}",
                applied.diff_id
            )));
        }
        let link = links::create(&self.links_dir(), &chain)?;
        let res = self.commit_layer(&staging, &chain, parent_meta.as_ref(), diff_id, &applied, &link);
        match res {
            Ok(info) => {
                guard.disarm();
                Ok(info)
            }
            Err(e) => {
                let _ = links::remove(&self.links_dir(), &link);
                Err(e)
            }
        }
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
        sys::atomic_write_json(&staging.join("meta.json"), &meta)?;
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
        sys::fsync_dir(&self.layers_root())?;
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
