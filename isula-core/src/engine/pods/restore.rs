//! Pods at `Engine::open` (after the containers are restored): every record is loaded; a pod
//! whose infra container still runs stays ready, others are not ready (their network was
//! released when the infra exit was recorded). Half-made pods are removed.

use std::sync::Arc;

use crate::engine::containers::looks_like_id;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pod::store::Pod;
use crate::pod::PodRecord;

impl Engine {
    /// Loads and reconciles every pod (called once by `open`).
    pub(crate) fn restore_pods(&self) -> Result<()> {
        let root = self.inner.pods.root().to_path_buf();
        for ent in std::fs::read_dir(&root).map_err(|e| Error::io(&root, "read", e))? {
            let ent = ent.map_err(|e| Error::io(&root, "read", e))?;
            let Some(id) = ent.file_name().to_str().map(str::to_string) else { continue };
            if !looks_like_id(&id) {
                continue;
            }
            let rec = match PodRecord::load(&ent.path()) {
                Ok(r) if r.id == id => r,
                _ => {
                    log::warn!("removing half-made pod {id}");
                    // Its cgroup parent is unknown without the record: the one the engine
                    // makes for a pod without its own (left alone when the pod had its own:
                    // that path never existed then).
                    let (cgroup_parent, cgroup_owned) = self.pod_cgroup_parent(&id, "");
                    let rec = PodRecord { id: id.clone(), cgroup_parent, cgroup_owned, ..Default::default() };
                    if let Err(e) = self.pod_destroy(&rec) {
                        log::error!("removing half-made pod {id}: {e}");
                    }
                    continue;
                }
            };
            let key = PodRecord::metadata_key(&rec.config);
            if let Err(e) = self.inner.pods.reserve(&key, &id) {
                log::error!("pod {id}: {e}");
            }
            if !rec.stopped && self.pod_infra_pid(&rec).is_none() {
                // The infra process died while no engine ran: release what it held.
                if let Err(e) = self.network_teardown(&id) {
                    log::warn!("pod {id}: network teardown: {e}");
                }
            }
            self.inner.pods.insert(Arc::new(Pod::new(rec, ent.path())));
        }
        Ok(())
    }
}
