//! Image operations of the [`Engine`](super::Engine): load, save, import, tag, list, inspect, remove.

use super::Engine;
use crate::error::Result;

impl Engine {
    /// Start-up repair of the image store (half-written images, unreferenced layers).
    pub(super) fn repair_images(&self) -> Result<()> {
        Ok(())
    }
}
