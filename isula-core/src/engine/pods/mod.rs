//! Pod sandboxes: run, stop, remove, inspect and list (the operations of [`Pods`](super::Pods)).
//!
//! Placeholder: each operation says it is not implemented yet.

use isula_types::pod::{PodConfig, PodInspect};

use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// [`Pods::run`](super::Pods::run): see there.
    pub(crate) fn pod_run(&self, _config: &PodConfig) -> Result<String> {
        Err(Error::unimplemented("pod sandboxes are not implemented yet"))
    }

    /// [`Pods::stop`](super::Pods::stop): see there.
    pub(crate) fn pod_stop(&self, _id: &str) -> Result<()> {
        Err(Error::unimplemented("pod sandboxes are not implemented yet"))
    }

    /// [`Pods::remove`](super::Pods::remove): see there.
    pub(crate) fn pod_remove(&self, _id: &str) -> Result<()> {
        Err(Error::unimplemented("pod sandboxes are not implemented yet"))
    }

    /// [`Pods::inspect`](super::Pods::inspect): see there.
    pub(crate) fn pod_inspect(&self, _id: &str) -> Result<PodInspect> {
        Err(Error::unimplemented("pod sandboxes are not implemented yet"))
    }

    /// [`Pods::list`](super::Pods::list): see there.
    pub(crate) fn pod_list(&self) -> Result<Vec<PodInspect>> {
        Ok(Vec::new())
    }

    /// [`Pods::stats`](super::Pods::stats): see there.
    pub(crate) fn pod_stats(&self, _id: &str) -> Result<crate::Stats> {
        Err(Error::unimplemented("pod sandboxes are not implemented yet"))
    }
}
