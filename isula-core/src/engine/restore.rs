//! Restoring containers in `Engine::open`: load every record, re-attach to live shims,
//! record exits that happened while no engine was running, finish interrupted removals,
//! clean up half-created containers and apply restart policies and AutoRemove.

use std::sync::Arc;
use std::time::Duration;

use super::containers::looks_like_id;
use super::monitor::Msg;
use super::Engine;
use crate::container::restart::restart_on_open;
use crate::container::state::Status;
use crate::container::store::{Container, ContainerRecord};
use crate::error::{Error, Result};
use crate::runtime::{RuntimeStatus, ShimHandle};
use crate::time::now;

/// How long restore waits for the shim of an interrupted start to exit once its container
/// was deleted.
const STRAY_SHIM_WAIT: Duration = Duration::from_secs(5);

impl Engine {
    /// Load and reconcile all containers (called once by `open`, before the monitor starts).
    pub(crate) fn restore_containers(&self) -> Result<()> {
        let root = self.inner.containers.root().to_path_buf();
        let mut dirs = Vec::new();
        for ent in std::fs::read_dir(&root).map_err(|e| Error::io(&root, "read", e))? {
            let ent = ent.map_err(|e| Error::io(&root, "read", e))?;
            let Some(id) = ent.file_name().to_str().map(str::to_string) else { continue };
            if looks_like_id(&id) {
                dirs.push((id, ent.path()));
            }
        }
        // Reading and parsing the records is most of a restart's work with many containers:
        // done on all cores, then registered in id order.
        dirs.sort();
        let loaded = par_map(dirs, |(id, dir)| {
            let rec = ContainerRecord::load(&dir);
            let bundle = dir.join("config.json").is_file();
            (id, dir, rec, bundle)
        });
        let mut restored = Vec::new();
        let mut cleaned = false;
        for (id, dir, rec, bundle) in loaded {
            let rec = match rec {
                Ok(r) if r.id == id && bundle => r,
                other => {
                    // Half-created (crash before the record was written) or broken: remove it.
                    let runtime =
                        other.map(|r| r.runtime).unwrap_or_else(|_| self.inner.config.default_runtime.clone());
                    log::warn!("removing half-created container {id}");
                    if let Err(e) = self.destroy_files(&id, &runtime, &[]) {
                        log::error!("cleaning up half-created container {id}: {e}");
                    }
                    cleaned = true;
                    continue;
                }
            };
            if matches!(rec.state.status, Status::Removing | Status::Dead) {
                log::warn!("finishing the interrupted removal of container {id}");
                if let Err(e) = self.destroy_files(&id, &rec.runtime, &[]) {
                    log::error!("removing container {id}: {e}");
                }
                cleaned = true;
                continue;
            }
            if let Err(e) = self.inner.containers.reserve_name(&rec.name, &id) {
                log::error!("container {id}: {e}; renaming it to its id");
                let mut r = rec.clone();
                r.name = id.clone();
                r.save(&dir, &[])?;
                self.inner.containers.reserve_name(&id, &id)?;
                let c = Arc::new(Container::new(r, dir));
                self.inner.containers.insert(c.clone());
                restored.push(c);
                continue;
            }
            let c = Arc::new(Container::new(rec, dir));
            self.inner.containers.insert(c.clone());
            restored.push(c);
        }
        // Snapshots of containers that never got a directory (crash right after prepare).
        for s in self.inner.snapshots.snapshots()? {
            if looks_like_id(&s.key) && self.inner.containers.get(&s.key).is_err() && !root.join(&s.key).exists() {
                log::warn!("removing the snapshot of half-created container {}", s.key);
                if let Err(e) = self.inner.snapshots.remove(&s.key) {
                    log::error!("removing snapshot {}: {e}", s.key);
                }
                cleaned = true;
            }
        }
        // Re-attaching checks each shim (its state file, /proc): in parallel too.
        par_map(restored, |c| {
            self.health_load(&c.record());
            self.reconcile(&c);
        });
        if cleaned {
            if let Err(e) = self.prune_image_layers() {
                log::warn!("pruning layers after restore: {e}");
            }
        }
        Ok(())
    }

    /// Bring one restored container's state in line with its shim.
    fn reconcile(&self, c: &Container) {
        let rec = c.record();
        match rec.state.status {
            // Created but never given a shim (its start failed): nothing runs, unless a
            // start was cut short after the runtime's create.
            Status::Created if rec.state.shim_pid == 0 => self.stop_unrecorded_shim(&rec),
            Status::Running | Status::Paused | Status::Created => {
                let dir = self.shim_dir(&rec.id);
                match ShimHandle::load(&dir) {
                    Ok(h) if h.shim_pid == rec.state.shim_pid && h.is_alive() => {
                        let started = rec.state.status == Status::Created && self.record_started_meanwhile(c);
                        self.inner.monitor_tx.send(Msg::Watch {
                            id: rec.id.clone(),
                            shim_pid: h.shim_pid,
                            shim_start_time: h.shim_start_time,
                        });
                        if rec.state.status == Status::Running || started {
                            // continue from the saved health (status, streak, results)
                            self.health_resume(&c.record());
                        }
                    }
                    _ => {
                        if self.record_shim_gone(c) {
                            if c.record().host_config.auto_remove {
                                self.auto_remove(&c.id);
                            } else {
                                self.restart_if_policy_on_open(c);
                            }
                        }
                    }
                }
            }
            Status::Restarting => self.schedule_restart(&rec.id, Duration::ZERO),
            Status::Exited => {
                self.stop_unrecorded_shim(&rec);
                self.restart_if_policy_on_open(c);
            }
            _ => {}
        }
    }

    /// A container recorded `Created` whose process runs: the engine stopped between the
    /// runtime's start and the record. Records it running (from now: the real start time is
    /// unknown); true when it did.
    fn record_started_meanwhile(&self, c: &Container) -> bool {
        let rec = c.record();
        let Ok(rt) = self.runtime(&rec.runtime) else { return false };
        let Ok(st) = rt.state(&rec.id) else { return false };
        if st.status != RuntimeStatus::Running {
            return false;
        }
        log::warn!("container {}: started while no engine recorded it; recording it running", rec.id);
        let res = c.update(|r| {
            r.state.status = Status::Running;
            r.state.started_at = now();
            if st.pid > 0 {
                r.state.pid = st.pid;
            }
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.manually_stopped = false;
        });
        match res {
            Ok(()) => true,
            Err(e) => {
                log::error!("container {}: record its start: {e}", rec.id);
                false
            }
        }
    }

    /// A container recorded as not running whose shim directory names a live shim that its
    /// record does not: the engine stopped between a start's runtime create and its record.
    /// That process would run unmanaged: it is killed and deleted through the runtime (the
    /// next start creates it again).
    fn stop_unrecorded_shim(&self, rec: &ContainerRecord) {
        let Ok(h) = ShimHandle::load(&self.shim_dir(&rec.id)) else { return };
        if h.shim_pid == rec.state.shim_pid || !h.is_alive() {
            return;
        }
        log::warn!("container {}: a start was cut short after the runtime's create; deleting it", rec.id);
        if let Ok(rt) = self.runtime(&rec.runtime) {
            if let Err(e) = rt.delete(&rec.id, true) {
                log::error!("container {}: delete the interrupted start: {e}", rec.id);
            }
        }
        let deadline = std::time::Instant::now() + STRAY_SHIM_WAIT;
        while h.is_alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Start a stopped container again at open when its policy says so (as Docker's daemon
    /// at start-up: `always` even after a manual stop, `unless-stopped` only without one).
    fn restart_if_policy_on_open(&self, c: &Container) {
        let rec = c.record();
        let s = &rec.state;
        if !restart_on_open(&rec.host_config.restart_policy, s.exit_code, rec.restart_count, s.manually_stopped) {
            return;
        }
        match c.update(|r| r.state.status = Status::Restarting) {
            Ok(()) => self.schedule_restart(&c.id, Duration::ZERO),
            Err(e) => log::error!("restart policy of {} at open: {e}", c.id),
        }
    }
}

/// `f` over `items` on up to one thread per core (at least 64 items per thread), results in
/// the order of `items`.
pub(super) fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = cores.min(items.len() / 64).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            chunks.into_iter().map(|c| s.spawn(move || c.into_iter().map(f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn par_map_keeps_order() {
        for n in [0, 1, 63, 64, 200, 1001] {
            let v: Vec<usize> = (0..n).collect();
            assert_eq!(super::par_map(v.clone(), |x| x * 2), v.iter().map(|x| x * 2).collect::<Vec<_>>());
        }
    }
}
