//! Health checks wired into the lifecycle: a [`HealthMonitor`] per running container with a
//! health check, probing through [`Engine::exec`]; its state shows in `inspect` and its
//! status changes are `health_status: <status>` events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{Engine, EngineShared};
use crate::container::health::{ExecFn, HealthMonitor, HealthState, StatusFn};
use crate::container::store::ContainerRecord;
use crate::container::types::ExecOptions;
use crate::error::{Error, Result};

/// The persisted health of a container, in its directory.
const HEALTH_FILE: &str = "health.json";

/// The health monitors of running containers and the last state of stopped ones.
#[derive(Default)]
pub(crate) struct HealthMonitors {
    running: Mutex<HashMap<String, HealthMonitor>>,
    last: Mutex<HashMap<String, HealthState>>,
    inflight: Arc<Inflight>,
}

/// Probes still running (each holds the engine through its exec): the owning engine waits
/// for them when it closes, so that the root is free again once `Engine` is dropped.
#[derive(Default)]
struct Inflight {
    /// Exec pid (0 until known) by probe number.
    pids: Mutex<HashMap<u64, i32>>,
    next: std::sync::atomic::AtomicU64,
    idle: std::sync::Condvar,
}

/// Registration of one probe; deregisters on drop.
struct ProbeGuard {
    inflight: Arc<Inflight>,
    n: u64,
}

impl Inflight {
    fn enter(self: &Arc<Self>) -> ProbeGuard {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).insert(n, 0);
        ProbeGuard { inflight: self.clone(), n }
    }
}

impl ProbeGuard {
    fn set_pid(&self, pid: i32) {
        self.inflight.pids.lock().unwrap_or_else(|e| e.into_inner()).insert(self.n, pid);
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        let mut pids = self.inflight.pids.lock().unwrap_or_else(|e| e.into_inner());
        pids.remove(&self.n);
        if pids.is_empty() {
            self.inflight.idle.notify_all();
        }
    }
}

/// How long a closing engine waits for its killed probes to let go of it.
const PROBE_DRAIN: Duration = Duration::from_secs(5);

impl std::fmt::Debug for HealthMonitors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthMonitors").finish_non_exhaustive()
    }
}

impl HealthMonitors {
    /// Stop every monitor (the engine is closing; containers keep running).
    pub(crate) fn stop_all(&self) {
        let all: Vec<HealthMonitor> =
            self.running.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, m)| m).collect();
        for m in all {
            m.stop();
        }
        // Probes in flight: kill their processes and wait (bounded) until they are gone.
        let inflight = &self.inflight;
        let mut pids = inflight.pids.lock().unwrap_or_else(|e| e.into_inner());
        for pid in pids.values().copied().filter(|p| *p > 0) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        let deadline = std::time::Instant::now() + PROBE_DRAIN;
        while !pids.is_empty() {
            let now = std::time::Instant::now();
            if now >= deadline {
                log::warn!("{} health probe(s) still running while the engine closes", pids.len());
                break;
            }
            pids = inflight.idle.wait_timeout(pids, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// Run `argv` in container `id` through the engine's exec, kill it after `timeout`.
fn probe(
    engine: &Weak<EngineShared>,
    inflight: &Arc<Inflight>,
    id: &str,
    argv: &[String],
    timeout: Duration,
) -> Result<(i32, String)> {
    // Declared first, dropped last: deregisters once nothing here holds the engine.
    let guard = inflight.enter();
    let inner = engine.upgrade().ok_or_else(|| Error::unavailable("the engine is closed"))?;
    let eng = Engine::handle(inner);
    let ex = eng.exec(id, &ExecOptions { cmd: argv.to_vec(), ..Default::default() })?;
    drop(eng);
    let pid = ex.pid();
    guard.set_pid(pid);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("health-exec".into())
        .spawn(move || {
            let _guard = guard;
            let _ = tx.send(ex.collect());
        })
        .map_err(|e| Error::internal(format!("health check thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Ok((out.exit_code, text))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            if pid > 0 {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
            Err(Error::unavailable(format!("Health check exceeded timeout ({timeout:?})")))
        }
    }
}

impl Engine {
    /// Start the health monitor of a container that has just started (no-op without a
    /// health check). A previous monitor of the container is stopped first.
    pub(crate) fn health_start(&self, rec: &ContainerRecord) {
        self.health_stop(&rec.id);
        self.health_run(rec, HealthState::default());
    }

    /// Restart the monitor of an unpaused container, continuing from its last state.
    pub(crate) fn health_resume(&self, rec: &ContainerRecord) {
        self.health_stop(&rec.id);
        let last = self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).get(&rec.id).cloned();
        self.health_run(rec, last.unwrap_or_default());
    }

    fn health_run(&self, rec: &ContainerRecord, state: HealthState) {
        let Some(cfg) = rec.config.healthcheck.as_ref() else { return };
        let weak = Arc::downgrade(&self.inner);
        let id = rec.id.clone();
        let inflight = self.inner.health.inflight.clone();
        let exec: Arc<ExecFn> =
            Arc::new(move |argv: &[String], timeout: Duration| probe(&weak, &inflight, &id, argv, timeout));
        let weak = Arc::downgrade(&self.inner);
        let rec2 = rec.clone();
        let on_change: Arc<StatusFn> = Arc::new(move |st: &HealthState, changed: bool| {
            if let Some(inner) = weak.upgrade() {
                let engine = Engine::handle(inner);
                engine.health_save(&rec2.id, st);
                if changed {
                    engine.emit_container(&format!("health_status: {}", st.status.as_str()), &rec2, &[]);
                }
            }
        });
        match HealthMonitor::resume(&rec.id, cfg, state, exec, on_change) {
            Ok(Some(m)) => {
                self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).remove(&rec.id);
                self.inner.health.running.lock().unwrap_or_else(|e| e.into_inner()).insert(rec.id.clone(), m);
            }
            Ok(None) => {}
            Err(e) => log::warn!("container {}: health check not started: {e}", rec.id),
        }
    }

    /// Stop the health monitor of `id` (the container stopped); its last state is kept for inspect.
    pub(crate) fn health_stop(&self, id: &str) {
        let m = {
            let mut running = self.inner.health.running.lock().unwrap_or_else(|e| e.into_inner());
            let m = running.remove(id);
            // Keep the state visible at every moment: into `last` before the monitor goes.
            if let Some(m) = &m {
                self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), m.state());
            }
            m
        };
        if let Some(m) = m {
            let last = m.stop();
            self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), last);
        }
    }

    /// Persist the health of `id` (atomically, in the container's directory) so that it
    /// survives the engine: `Engine::open` loads it back ([`health_load`](Self::health_load)).
    fn health_save(&self, id: &str, st: &HealthState) {
        let dir = self.inner.containers.dir_of(id);
        if !dir.is_dir() {
            return; // being removed
        }
        if let Err(e) = crate::sys::atomic_write_json(&dir.join(HEALTH_FILE), st) {
            log::warn!("container {id}: saving its health: {e}");
        }
    }

    /// Load the persisted health of a restored container (status, failing streak, last
    /// results) as its last state: `inspect` shows it and a resumed monitor continues from it.
    pub(crate) fn health_load(&self, rec: &ContainerRecord) {
        if rec.config.healthcheck.is_none() {
            return;
        }
        let path = self.inner.containers.dir_of(&rec.id).join(HEALTH_FILE);
        if !path.is_file() {
            return;
        }
        match crate::sys::read_json::<HealthState>(&path) {
            Ok(st) => {
                self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).insert(rec.id.clone(), st);
            }
            Err(e) => log::warn!("container {}: ignoring its saved health: {e}", rec.id),
        }
    }

    /// Forget everything about the health of `id` (the container is removed).
    pub(crate) fn health_forget(&self, id: &str) {
        self.health_stop(id);
        self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// [`Containers::health`]: see there.
    pub(crate) fn container_health(&self, id: &str) -> Result<Option<HealthState>> {
        let id = self.container(id)?.id.clone();
        if let Some(m) = self.inner.health.running.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(Some(m.state()));
        }
        Ok(self.inner.health.last.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned())
    }
}
