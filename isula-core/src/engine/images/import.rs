//! `import`: a root filesystem tarball becomes a one-layer image.

use std::io::Read;

use super::{synth_manifest, ImportOptions, NewBlobs, NewImage};
use crate::digest::Digest;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::manifest::{self, Descriptor};
use crate::reference::Reference;

impl Engine {
    /// [`Images::import`]: see there.
    pub(crate) fn import(&self, reader: &mut dyn Read, opts: &ImportOptions) -> Result<Digest> {
        let name = opts.reference.as_deref().map(Reference::parse).transpose()?;
        if name.as_ref().map(|n| n.digest().is_some()).unwrap_or(false) {
            return Err(Error::invalid("cannot name an imported image with a digest reference"));
        }
        let mut new = NewBlobs::default();
        let res = (|| -> Result<Digest> {
            let mut tar = manifest::auto_decompress(reader).map_err(|e| e.context("import"))?;
            let (diff_id, size) = self.inner.content.write_from(&mut tar, None, None)?;
            new.note(false, &diff_id);
            let now = crate::time::now().to_rfc3339_secs();
            let mut history = serde_json::json!({ "created": now, "created_by": "isula import" });
            if let Some(m) = &opts.message {
                history["comment"] = serde_json::Value::String(m.clone());
            }
            let cfg = serde_json::json!({
                "created": now,
                "architecture": manifest::host_arch(),
                "os": "linux",
                "config": {},
                "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
                "history": [history],
            });
            let cfg = serde_json::to_vec(&cfg)?;
            let id = self.put_blob(&mut new, &cfg, None)?;
            let layers = vec![Descriptor::new(manifest::OCI_LAYER, diff_id, size)];
            let m = synth_manifest(&id, cfg.len() as u64, &layers)?;
            let mdigest = self.put_blob(&mut new, &m, None)?;
            self.register_image(NewImage {
                manifest: mdigest,
                manifest_media_type: manifest::OCI_MANIFEST.to_string(),
                config: id.clone(),
                layers,
                names: name.into_iter().collect(),
                repo_digest: None,
            })?;
            Ok(id)
        })();
        if res.is_err() {
            let _ops = self.inner.images.lock_ops();
            self.free_blobs(&new.0);
        }
        if let Ok(id) = &res {
            self.emit_image("import", &id.to_string(), opts.reference.as_deref().unwrap_or(""));
        }
        res
    }
}
