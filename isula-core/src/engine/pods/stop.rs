//! Pod stop: its containers (at once), its infra process, its network (CNI DEL, namespace).

use super::infra::INFRA_STOP_TIMEOUT;
use crate::engine::Engine;
use crate::error::{ErrorKind, Result};
use crate::pod::store::Pod;

impl Engine {
    /// [`Pods::stop`](crate::Pods::stop): see there.
    pub(crate) fn pod_stop(&self, key: &str) -> Result<()> {
        let pod = self.pod(key)?;
        let _op = pod.lock_op();
        self.pod_stop_locked(&pod)
    }

    /// Stops pod `pod` (its operation lock held). Idempotent.
    pub(super) fn pod_stop_locked(&self, pod: &Pod) -> Result<()> {
        for cid in self.pod_container_ids(&pod.id) {
            match self.stop(&cid, Some(0)) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(e.context(format!("stop pod {}", pod.id))),
                _ => {}
            }
        }
        match self.stop(&pod.id, Some(INFRA_STOP_TIMEOUT)) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e.context(format!("stop the infra container of pod {}", pod.id)))
            }
            _ => {}
        }
        self.network_teardown(&pod.id).map_err(|e| e.context(format!("release the network of pod {}", pod.id)))?;
        if !pod.record().stopped {
            pod.update(|r| r.stopped = true)?;
            self.emit_pod("stop", &pod.record());
        }
        Ok(())
    }
}
