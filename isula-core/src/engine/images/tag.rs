//! `tag`: another name for an image.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::reference::Reference;

impl Engine {
    /// [`Images::tag`]: see there.
    pub(crate) fn tag(&self, source: &str, target: &str) -> Result<()> {
        let t = Reference::parse(target)?;
        if t.digest().is_some() {
            return Err(Error::invalid(format!("refusing to create a tag with a digest reference: {target}")));
        }
        let _ops = self.inner.images.lock_ops();
        let mut rec = self.resolve_image(source)?;
        let full = t.to_string();
        if !rec.names.contains(&full) {
            rec.names.push(full);
            let id = rec.id.to_string();
            self.inner.images.put(rec)?;
            self.emit_image("tag", &id, &t.familiar());
        }
        Ok(())
    }
}
