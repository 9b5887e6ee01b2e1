//! A pod's cgroup parent: `PodConfig::cgroup_parent` when given (left alone on removal),
//! else `<engine cgroup-parent>/pod-<pod id>`, which the runtime creates with the infra
//! container's cgroup and the engine removes with the pod, in every hierarchy.
//!
//! With the systemd driver the parent is a slice: the given one (kubelet passes names like
//! `kubepods-besteffort-pod<uid>.slice`), else `system-isulapod<pod id>.slice`, which systemd
//! creates with the first scope in it and the engine stops with the pod.

use crate::cgroups::Cgroup;
use crate::engine::Engine;
use crate::error::Result;
use crate::pod::PodRecord;

impl Engine {
    /// The cgroup parent of a new pod `id` and whether the engine owns it.
    pub(super) fn pod_cgroup_parent(&self, id: &str, given: &str) -> (String, bool) {
        if !given.trim().is_empty() {
            return (given.trim().to_string(), false);
        }
        if self.systemd_cgroup() {
            return (crate::cgroups::systemd::pod_slice(&self.host_info().cgroup_parent, id), true);
        }
        let base = self.inner.config.cgroup_parent.trim_end_matches('/');
        let base = if base.starts_with('/') || base.is_empty() { base.to_string() } else { format!("/{base}") };
        (format!("{base}/pod-{id}"), true)
    }

    /// The cgroup of pod `rec`'s parent (a slice's directory with the systemd driver).
    pub(super) fn pod_cgroup(&self, rec: &PodRecord) -> Result<Cgroup> {
        let h = crate::host::cgroup_hierarchy()?;
        if self.systemd_cgroup() && crate::cgroups::systemd::is_slice_name(&rec.cgroup_parent) {
            h.slice(&rec.cgroup_parent)
        } else {
            h.cgroup(&rec.cgroup_parent)
        }
    }

    /// Removes the cgroup parent of pod `rec` when the engine made it (empty directories
    /// only: what still holds processes or children stays, with a warning).
    pub(super) fn pod_cgroup_remove(&self, rec: &PodRecord) -> Result<()> {
        if !rec.cgroup_owned || rec.cgroup_parent.is_empty() {
            return Ok(());
        }
        if self.systemd_cgroup() && crate::cgroups::systemd::is_slice_name(&rec.cgroup_parent) {
            return crate::cgroups::systemd::stop_unit(&rec.cgroup_parent)
                .map_err(|e| e.context(format!("pod {}: stop its slice", rec.id)));
        }
        let cg = self.pod_cgroup(rec)?;
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
