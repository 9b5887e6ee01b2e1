//! Pod inspect and list.

use isula_types::pod::{PodInspect, PodState};

use crate::engine::Engine;
use crate::error::Result;
use crate::pod::PodRecord;

impl Engine {
    fn pod_view(&self, rec: PodRecord, containers: Vec<String>) -> PodInspect {
        let pid = self.pod_infra_pid(&rec).unwrap_or(0);
        PodInspect {
            state: if pid > 0 { PodState::Ready } else { PodState::NotReady },
            containers,
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
        let rec = self.pod(key)?.record();
        let containers = self.pod_container_ids(&rec.id);
        Ok(self.pod_view(rec, containers))
    }

    /// [`Pods::list`](crate::Pods::list): see there.
    pub(crate) fn pod_list(&self) -> Result<Vec<PodInspect>> {
        let mut recs: Vec<PodRecord> = self.inner.pods.list().iter().map(|p| p.record()).collect();
        recs.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        let mut members = self.pod_members();
        Ok(recs
            .into_iter()
            .map(|r| {
                let containers = members.remove(&r.id).unwrap_or_default();
                self.pod_view(r, containers)
            })
            .collect())
    }
}
