//! `images`: the filtered image list.

use super::{familiar_all, ImageSummary, ListImagesOptions};
use crate::engine::Engine;
use crate::error::Result;
use crate::image::filter::Filters;

impl Engine {
    /// [`Images::list`]: see there.
    pub(crate) fn list_images(&self, opts: &ListImagesOptions) -> Result<Vec<ImageSummary>> {
        let mut f = Filters::parse(&opts.filters)?;
        if let Some(b) = f.before_ref.clone() {
            f.before = Some(self.resolve_image(&b)?.created);
        }
        if let Some(s) = f.since_ref.clone() {
            f.since = Some(self.resolve_image(&s)?.created);
        }
        let mut out: Vec<ImageSummary> = self
            .inner
            .images
            .read()
            .images
            .values()
            .filter(|r| f.matches(r))
            .map(|r| ImageSummary {
                id: r.id.to_string(),
                repo_tags: familiar_all(&r.names),
                repo_digests: familiar_all(&r.repo_digests),
                created: r.created,
                size: r.size,
                labels: r.labels.clone(),
            })
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}
