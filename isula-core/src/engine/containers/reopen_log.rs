//! Reopen a container's CRI log file (after kubelet rotated it).
//!
//! Placeholder: not implemented yet.

use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// [`Containers::reopen_log`](crate::Containers::reopen_log): see there.
    pub(crate) fn reopen_log(&self, _id: &str) -> Result<()> {
        Err(Error::unimplemented("reopening a container log is not implemented yet"))
    }
}
