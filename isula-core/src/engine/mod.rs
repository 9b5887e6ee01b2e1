//! The [`Engine`] facade: open a root, then one blocking method per user operation.
//!
//! Methods are grouped by subject in sibling modules (`images/`, `containers/`, …); this file
//! holds opening, locking and the parts every group shares.

mod containers;
mod copy;
mod exec;
mod health;
mod images;
mod info;
mod monitor;
mod network;
mod pods;
#[cfg(feature = "registry")]
mod registry;
#[cfg(not(feature = "registry"))]
#[path = "registry_off.rs"]
mod registry;
mod restore;
mod stats;
mod update;
mod views;
mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::config::EngineConfig;
use crate::container::store::ContainerStore;
use crate::container::HostInfo;
use crate::content::ContentStore;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::image::ImageStore;
use crate::network::NetworkStore;
use crate::pod::PodStore;
use crate::runtime::Runtime;
use crate::snapshot::Snapshotter;
use crate::sys::{self, FileLock};

pub use exec::Exec;
pub(crate) use images::*;
pub use network::network_store_config;
pub(crate) use network::*;
pub(crate) use registry::*;
pub use stats::{ContainerStats, STATS_INTERVAL};
pub use views::{Containers, Images, Networks, Pods, Volumes};

/// A container engine bound to one root directory. `Send + Sync`: share it
/// between threads (e.g. in an `Arc`) and call it concurrently.
///
/// Dropping the engine stops its monitor thread (restart policies, exit bookkeeping);
/// containers keep running under their shims and the next `open` re-attaches to them.
pub struct Engine {
    inner: Arc<EngineShared>,
    /// Present on the handle returned by `open` (stops the monitor on drop).
    monitor: Option<monitor::MonitorThread>,
}

/// The engine's state, shared with its monitor thread (reached through `Engine::inner`).
pub(crate) struct EngineShared {
    pub(crate) config: EngineConfig,
    pub(crate) content: ContentStore,
    pub(crate) snapshots: Snapshotter,
    pub(crate) images: ImageStore,
    pub(crate) networks: NetworkStore,
    pub(crate) containers: ContainerStore,
    pub(crate) pods: PodStore,
    pub(crate) events: EventBus,
    pub(crate) runtimes: Mutex<HashMap<String, Arc<dyn Runtime>>>,
    /// When set (tests only, see `Engine::open_with_runtime`), the runtime of every container.
    pub(crate) fixed_runtime: Option<Arc<dyn Runtime>>,
    pub(crate) host: OnceLock<HostInfo>,
    pub(crate) monitor_tx: monitor::MonitorSender,
    pub(crate) health: health::HealthMonitors,
    /// Held shared by container creation, exclusively by volume create/remove/prune.
    pub(crate) volume_lock: RwLock<()>,
    _root_lock: FileLock,
}

impl std::fmt::Debug for EngineShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineShared").field("root", &self.config.graph).finish()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(m) = self.monitor.take() {
            m.stop();
            self.inner.health.stop_all();
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("root", &self.inner.config.graph)
            .field("state", &self.inner.config.state)
            .finish()
    }
}

/// Name of the lock file that marks a root as owned by one engine.
const ROOT_LOCK: &str = "engine.lock";

impl Engine {
    /// Open (creating if needed) the root `config.graph` and state dir `config.state`.
    ///
    /// Only one engine may own a root at a time: a second `open` of the same root,
    /// in this process or another, fails with `Unavailable` naming the root.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        Self::open_inner(config, None)
    }

    /// [`open`](Self::open) with `runtime` standing for every configured OCI runtime (and no
    /// shim binary needed): for lifecycle tests with a
    /// [`FakeRuntime`](crate::runtime::fake::FakeRuntime). Only with the `test-util` feature.
    #[cfg(any(test, feature = "test-util"))]
    pub fn open_with_runtime(config: EngineConfig, runtime: Arc<dyn Runtime>) -> Result<Engine> {
        Self::open_inner(config, Some(runtime))
    }

    fn open_inner(config: EngineConfig, fixed_runtime: Option<Arc<dyn Runtime>>) -> Result<Engine> {
        config.validate()?;
        if config.cgroup_driver()? == crate::CgroupDriver::Systemd && !crate::cgroups::systemd::systemd_booted() {
            return Err(Error::precondition(
                "cgroup driver \"systemd\": this host was not booted with systemd (no /run/systemd/system); \
                 use the cgroupfs driver",
            ));
        }
        let root = config.graph.clone();
        sys::fs::ensure_dir(&root, 0o700)?;
        sys::fs::ensure_dir(&config.state, 0o700)?;
        let lock = FileLock::try_lock(&root.join(ROOT_LOCK))?.ok_or_else(|| {
            Error::unavailable(format!(
                "root {} is in use by another engine (is isulad already running?)",
                root.display()
            ))
        })?;
        let content = ContentStore::open(&root.join("content"))?;
        let snapshots = Snapshotter::open_limited(&root.join("snapshots"), config.storage_limits()?)?;
        let images = ImageStore::open(&root.join("images"))?;
        let networks = NetworkStore::open(network::network_store_config(&config))?;
        let containers = ContainerStore::open(&root.join("containers"))?;
        let pods = PodStore::open(&root.join("pods"))?;
        let (monitor_tx, monitor_rx) = monitor::channel()?;
        let shared = EngineShared {
            config,
            content,
            snapshots,
            images,
            networks,
            containers,
            pods,
            events: EventBus::new(),
            runtimes: Mutex::new(HashMap::new()),
            fixed_runtime,
            host: OnceLock::new(),
            monitor_tx,
            health: health::HealthMonitors::default(),
            volume_lock: RwLock::new(()),
            _root_lock: lock,
        };
        let mut engine = Engine { inner: Arc::new(shared), monitor: None };
        engine.repair()?;
        engine.restore_containers()?;
        engine.restore_pods()?;
        engine.monitor = Some(monitor::MonitorThread::spawn(Arc::downgrade(&engine.inner), monitor_rx)?);
        Ok(engine)
    }

    /// Whether containers get their cgroups from systemd (`cgroup-driver: systemd`).
    pub(crate) fn systemd_cgroup(&self) -> bool {
        self.inner.config.cgroup_driver().is_ok_and(|d| d == crate::CgroupDriver::Systemd)
    }

    /// The configuration this engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Check that OCI runtime `name` can run containers: its binary (from `runtimes` or
    /// `PATH`) and `isulad-shim` are found. `NotFound` names what is missing. The daemon
    /// checks its `default-runtime` at start-up with it.
    pub fn check_runtime(&self, name: &str) -> Result<()> {
        self.runtime(name).map(|_| ())
    }

    /// The root directory (`graph`).
    pub fn root(&self) -> &Path {
        &self.inner.config.graph
    }

    /// The state directory (`state`).
    pub fn state_dir(&self) -> &Path {
        &self.inner.config.state
    }

    /// The content store (blobs by digest).
    pub fn content(&self) -> &ContentStore {
        &self.inner.content
    }

    /// A second handle on the same engine (used by the monitor thread; does not own the monitor).
    pub(crate) fn handle(inner: Arc<EngineShared>) -> Engine {
        Engine { inner, monitor: None }
    }

    /// Directory for scratch files that must live on the root's filesystem.
    pub(crate) fn tmp_dir(&self) -> Result<PathBuf> {
        let dir = self.inner.config.graph.join("tmp");
        sys::fs::ensure_dir(&dir, 0o700)?;
        Ok(dir)
    }

    /// Start-up repair after a crash: drop scratch files and half-made state.
    fn repair(&self) -> Result<()> {
        sys::fs::remove_dir_all_if_exists(&self.inner.config.graph.join("tmp"))?;
        crate::volume::repair(&self.inner.config.graph.join("volumes"))?;
        self.repair_images()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn second_open_of_a_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EngineConfig::with_dirs(dir.path().join("root"), dir.path().join("state"));
        let first = Engine::open(cfg.clone()).unwrap();
        let err = Engine::open(cfg.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains(&dir.path().join("root").display().to_string()), "{err}");
        drop(first);
        Engine::open(cfg).unwrap();
    }
}
