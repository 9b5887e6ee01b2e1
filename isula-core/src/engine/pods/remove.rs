//! Pod remove: its containers and infra container (killed if running), network, cgroup
//! parent (when the engine made it) and directory.

use crate::container::types::RemoveOptions;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::pod::files::unmount_shm;
use crate::pod::record::RECORD_FILE;
use crate::pod::PodRecord;
use crate::sys;

impl Engine {
    /// [`Pods::remove`](crate::Pods::remove): see there.
    pub(crate) fn pod_remove(&self, key: &str) -> Result<()> {
        let pod = self.pod(key)?;
        let _op = pod.lock_op();
        let rec = pod.record();
        self.pod_destroy(&rec)?;
        self.inner.pods.remove(&rec.id);
        self.emit_pod("remove", &rec);
        Ok(())
    }

    /// Removes everything of pod `rec` (also of a half-made one). Missing parts are fine.
    pub(super) fn pod_destroy(&self, rec: &PodRecord) -> Result<()> {
        let o = RemoveOptions { force: true, volumes: true };
        for cid in self.pod_container_ids(&rec.id).into_iter().chain(std::iter::once(rec.id.clone())) {
            match self.remove(&cid, &o) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    return Err(e.context(format!("remove pod {}", rec.id)));
                }
                _ => {}
            }
        }
        self.network_teardown(&rec.id).map_err(|e| e.context(format!("release the network of pod {}", rec.id)))?;
        self.pod_cgroup_remove(rec)?;
        let dir = self.inner.pods.dir_of(&rec.id);
        unmount_shm(&dir)?;
        // The record first: a crash after this leaves a directory restore cleans up.
        match std::fs::remove_file(dir.join(RECORD_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir.join(RECORD_FILE), "remove", e)),
        }
        sys::fs::remove_dir_all_if_exists(&dir)
    }
}
