//! Pod stats: one sample of the pod's cgroup parent (all its containers and the infra).

use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};

impl Engine {
    /// [`Pods::stats`](crate::Pods::stats): see there. `FailedPrecondition` when the pod's
    /// cgroup does not exist (not running).
    pub(crate) fn pod_stats(&self, key: &str) -> Result<crate::Stats> {
        let rec = self.pod(key)?.record();
        let cg = self.pod_cgroup(&rec)?;
        cg.stats().map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::precondition(format!("pod {} has no cgroup: it is not running", rec.id)),
            _ => e,
        })
    }
}
