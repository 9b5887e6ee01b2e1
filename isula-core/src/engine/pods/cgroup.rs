//! A pod's cgroup parent: `PodConfig::cgroup_parent` when given (left alone on removal),
//! else `<engine cgroup-parent>/pod-<pod id>`, which the runtime creates with the infra
//! container's cgroup and the engine removes with the pod, in every hierarchy.

use crate::engine::Engine;
use crate::error::Result;
use crate::pod::PodRecord;

impl Engine {
    /// The cgroup parent of a new pod `id` and whether the engine owns it.
    pub(super) fn pod_cgroup_parent(&self, id: &str, given: &str) -> (String, bool) {
        if !given.trim().is_empty() {
            return (given.trim().to_string(), false);
        }
        let base = self.inner.config.cgroup_parent.trim_end_matches('/');
        let base = if base.starts_with('/') || base.is_empty() { base.to_string() } else { format!("/{base}") };
        (format!("{base}/pod-{id}"), true)
    }

    /// Removes the cgroup parent of pod `rec` when the engine made it (empty directories
    /// only: what still holds processes or children stays, with a warning).
    pub(super) fn pod_cgroup_remove(&self, rec: &PodRecord) -> Result<()> {
        if !rec.cgroup_owned || rec.cgroup_parent.is_empty() {
            return Ok(());
        }
        let cg = crate::host::cgroup_hierarchy()?.cgroup(&rec.cgroup_parent)?;
        for d in cg.all_dirs() {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("pod {}: remove cgroup {}: {e}", rec.id, d.display()),
            }
        }
        Ok(())
    }
}
