//! Image `inspect`, in Docker's shape.

use std::collections::BTreeMap;

use super::{familiar_all, GraphDriver, ImageInspect, ManifestRef, RootFs};
use crate::engine::Engine;
use crate::error::Result;
use crate::image::archive::MAX_JSON;
use crate::image::manifest::ImageConfig;

impl Engine {
    /// [`Images::inspect`]: see there.
    pub(crate) fn inspect_image(&self, name_or_id: &str) -> Result<ImageInspect> {
        let rec = self.resolve_image(name_or_id)?;
        let cfg_bytes = self.inner.content.read(&rec.id, MAX_JSON)?;
        let cfg = ImageConfig::parse(&cfg_bytes)?;
        Ok(ImageInspect {
            id: rec.id.to_string(),
            repo_tags: familiar_all(&rec.names),
            repo_digests: familiar_all(&rec.repo_digests),
            created: cfg.created.clone().unwrap_or_default(),
            author: cfg.author.clone().unwrap_or_default(),
            size: rec.size,
            config: cfg.config.clone().unwrap_or(serde_json::Value::Object(Default::default())),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            os: cfg.os.clone(),
            root_fs: RootFs { kind: "layers".into(), layers: rec.diff_ids.iter().map(|d| d.to_string()).collect() },
            graph_driver: GraphDriver { name: "overlay2".into(), data: BTreeMap::new() },
            manifest: ManifestRef { digest: rec.manifest.to_string(), media_type: rec.manifest_media_type.clone() },
        })
    }
}
