//! Pod inspect and list.

use isula_types::pod::PodInspect;

use crate::engine::Engine;
use crate::error::Result;
use crate::pod::PodRecord;

impl Engine {
    fn pod_view(&self, rec: PodRecord) -> PodInspect {
        let pid = self.pod_infra_pid(&rec).unwrap_or(0);
        PodInspect {
            state: self.pod_state(&rec),
            containers: self.pod_container_ids(&rec.id),
            infra_id: rec.id.clone(),
            id: rec.id,
            config: rec.config,
            created: rec.created,
            ip: rec.ip,
            additional_ips: rec.additional_ips,
            netns_path: rec.netns_path,
            pid,
            runtime: rec.runtime,
            cgroup_parent: rec.cgroup_parent,
        }
    }

    /// [`Pods::inspect`](crate::Pods::inspect): see there.
    pub(crate) fn pod_inspect(&self, key: &str) -> Result<PodInspect> {
        Ok(self.pod_view(self.pod(key)?.record()))
    }

    /// [`Pods::list`](crate::Pods::list): see there.
    pub(crate) fn pod_list(&self) -> Result<Vec<PodInspect>> {
        let mut recs: Vec<PodRecord> = self.inner.pods.list().iter().map(|p| p.record()).collect();
        recs.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(recs.into_iter().map(|r| self.pod_view(r)).collect())
    }
}
