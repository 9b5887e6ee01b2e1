//! Pod sandboxes: run, stop, remove, inspect, list and stats (the operations of
//! [`Pods`](super::Pods)), one file per operation, plus the infra container ([`infra`]), the
//! pod's network ([`network`]), its cgroup parent ([`cgroup`]), containers joining a pod
//! ([`join`]) and restore at open ([`restore`]).
//!
//! The infra container's id is the pod id, so the pod's network namespace is pinned where
//! the container network code pins the infra container's (`<state>/netns/<pod id>`) and the
//! CNI attachment is keyed by the pod id.

mod cgroup;
mod infra;
mod inspect;
mod join;
mod network;
mod remove;
mod restore;
mod run;
mod stats;
mod stop;

use std::sync::Arc;

use isula_types::pod::PodState;

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

    /// Ready (infra running, not stopped) or not.
    pub(crate) fn pod_state(&self, rec: &PodRecord) -> PodState {
        if self.pod_infra_pid(rec).is_some() {
            PodState::Ready
        } else {
            PodState::NotReady
        }
    }

    /// Ids of the containers of pod `id` other than its infra container, oldest first.
    pub(crate) fn pod_container_ids(&self, id: &str) -> Vec<String> {
        let mut v: Vec<(crate::time::Timestamp, String)> = self
            .inner
            .containers
            .list()
            .into_iter()
            .filter(|c| c.id != id)
            .map(|c| c.record())
            .filter(|r| r.host_config.pod.as_deref() == Some(id))
            .map(|r| (r.created, r.id))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
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
