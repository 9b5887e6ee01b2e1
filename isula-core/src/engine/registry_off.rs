//! Registry operations of the [`Engine`](super::Engine) when isula-core is built without the
//! `registry` feature (no OCI distribution client, no HTTP or TLS stack): pull, push, login
//! and logout exist with the same signatures and return [`ErrorKind::Unimplemented`].
//!
//! [`ErrorKind::Unimplemented`]: crate::ErrorKind::Unimplemented

use super::Engine;
use crate::error::{Error, Result};

pub(crate) use crate::registry::{PullEvent, PullOptions, PullResult, PushEvent, PushResult};

/// The error of every registry operation in a build without the `registry` feature.
fn unimplemented(op: &str) -> Error {
    Error::unimplemented(format!("{op}: this isula build has no registry client (isula-core feature \"registry\")"))
}

impl Engine {
    /// Pull an image from a registry: `Unimplemented` in this build (no `registry` feature).
    pub fn pull(
        &self,
        reference: &str,
        _opts: &PullOptions,
        _progress: &mut dyn FnMut(PullEvent),
    ) -> Result<PullResult> {
        Err(unimplemented(&format!("pull {reference}")))
    }

    /// Push an image to a registry: `Unimplemented` in this build (no `registry` feature).
    pub fn push(&self, reference: &str, _progress: &mut dyn FnMut(PushEvent)) -> Result<PushResult> {
        Err(unimplemented(&format!("push {reference}")))
    }

    /// Log in to a registry: `Unimplemented` in this build (no `registry` feature).
    pub fn login(&self, server: &str, _user: &str, _password: &str) -> Result<()> {
        Err(unimplemented(&format!("login to {server}")))
    }

    /// Forget saved registry credentials: `Unimplemented` in this build (no `registry` feature).
    pub fn logout(&self, server: &str) -> Result<()> {
        Err(unimplemented(&format!("logout from {server}")))
    }
}
