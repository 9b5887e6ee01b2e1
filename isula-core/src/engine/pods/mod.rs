//! Pod sandboxes: run, stop, remove, inspect, list and stats (the operations of
//! [`Pods`](super::Pods)), one file per operation, plus the infra container ([`infra`]), the
//! pod's network ([`network`]), its cgroup parent ([`cgroup`]), containers joining a pod
//! ([`join`]) and restore at open ([`restore`]).
//!
//! The infra container's id is the pod id, so the pod's network namespace is pinned where
//! the container network code pins the infra container's (`<state>/netns/<pod id>`) and the
//! CNI attachment is keyed by the pod id.

mod cgroup;
mod connect;
mod infra;
mod inspect;
mod join;
mod network;
mod remove;
mod restore;
mod run;
mod stats;
mod stop;

use std::collections::HashMap;
use std::sync::Arc;

pub(crate) use join::CreateExtra;

use crate::container::state::Status;
use crate::engine::Engine;
use crate::error::Result;
use crate::pod::store::Pod;
use crate::pod::PodRecord;

impl Engine {
    /// The pod with id or unique id prefix `key` (`NotFound` when there is none).
    pub(crate) fn pod(&self, key: &str) -> Result<Arc<Pod>> {
        self.inner.pods.get(key)
    }

    /// The host pid of the infra process of pod `rec` when it runs and the pod was not stopped.
    pub(crate) fn pod_infra_pid(&self, rec: &PodRecord) -> Option<i32> {
        if rec.stopped {
            return None;
        }
        let c = self.inner.containers.get(&rec.id).ok()?;
        let r = c.record();
        (r.state.status == Status::Running && r.state.pid > 0).then_some(r.state.pid)
    }

    /// Ids of the containers of pod `id` other than its infra container, oldest first.
    pub(crate) fn pod_container_ids(&self, id: &str) -> Vec<String> {
        self.pod_members().remove(id).unwrap_or_default()
    }

    /// Pod id → ids of its containers other than the infra one (oldest first), in one pass.
    pub(crate) fn pod_members(&self) -> HashMap<String, Vec<String>> {
        let mut by_pod: HashMap<String, Vec<(crate::time::Timestamp, String)>> = HashMap::new();
        for c in self.inner.containers.list() {
            let r = c.record();
            if let Some(pod) = r.host_config.pod.as_deref().filter(|p| *p != r.id) {
                by_pod.entry(pod.to_string()).or_default().push((r.created, r.id));
            }
        }
        by_pod
            .into_iter()
            .map(|(pod, mut v)| {
                v.sort();
                (pod, v.into_iter().map(|(_, id)| id).collect())
            })
            .collect()
    }

    /// Publishes a `pod` event with the pod's name, namespace and uid.
    pub(crate) fn emit_pod(&self, action: &str, rec: &PodRecord) {
        let mut a = std::collections::BTreeMap::new();
        a.insert("name".to_string(), rec.config.name.clone());
        a.insert("namespace".to_string(), rec.config.namespace.clone());
        a.insert("uid".to_string(), rec.config.uid.clone());
        self.inner.events.emit("pod", action, &rec.id, a);
    }
}
