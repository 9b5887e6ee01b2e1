//! Container lifecycle operations of the [`Engine`]: create, start, stop, kill, restart,
//! pause, unpause, remove, wait, rename, list, inspect, attach, logs and events.
//!
//! Every operation resolves the container by full id, unique id prefix or name (with or
//! without the leading `/`), takes that container's operation lock (never a global one)
//! and persists the record atomically after each state change.

mod create;
mod inspect;
mod io;
mod list;
mod pause;
mod remove;
mod rename;
mod reopen_log;
mod start;
mod stop;
mod syslog;
mod wait;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::container::restart::{backoff, should_restart, BACKOFF_RESET_AFTER};
use crate::container::state::{State, Status};
use crate::container::store::{Container, ContainerRecord};
use crate::container::types::RemoveOptions;
use crate::container::HostInfo;
use crate::engine::monitor::{AfterExit, Msg};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{
    locate_shim, CreateRequest, ExitStatus, LogFormat, OciRuntime, Runtime, RuntimeStatus, ShimHandle, ShimLogConfig,
};
use crate::sys;
use crate::time::{now, parse_rfc3339};

/// Seconds between the stop signal and SIGKILL when neither the call nor the container says.
pub(super) const DEFAULT_STOP_TIMEOUT: i64 = 10;
/// How long to wait for a SIGKILLed container to be reaped before giving up.
const KILL_WAIT: Duration = Duration::from_secs(30);
/// Largest image config read.
const MAX_IMAGE_CONFIG: u64 = 16 << 20;

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lucid", "merry", "nifty",
    "proud", "quiet", "sharp", "swift", "tender", "vivid", "wise", "zen",
];
const NOUNS: &[&str] = &[
    "babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "kepler", "lovelace", "maxwell", "newton",
    "noether", "pascal", "ritchie", "shannon", "tesla", "thompson", "turing", "wozniak", "yalow",
];

impl Engine {
    // ------------------------------------------------------------------ helpers

    /// Host facts for spec generation (read once).
    pub(crate) fn host_info(&self) -> &HostInfo {
        self.inner.host.get_or_init(|| {
            if self.systemd_cgroup() {
                HostInfo::detect_systemd(&self.inner.config.cgroup_parent)
            } else {
                HostInfo::detect(&self.inner.config.cgroup_parent)
            }
        })
    }

    /// The shim state directory of container `id`.
    pub(crate) fn shim_dir(&self, id: &str) -> PathBuf {
        self.inner.config.state.join("shims").join(id)
    }

    /// Root of named and anonymous volumes.
    pub(crate) fn volumes_root(&self) -> PathBuf {
        self.inner.config.graph.join("volumes")
    }

    /// The OCI runtime called `name` (configured in `runtimes`, or a binary of that name).
    /// A missing binary is `NotFound` naming it.
    pub(crate) fn runtime(&self, name: &str) -> Result<Arc<dyn Runtime>> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::invalid(format!("invalid runtime name {name:?}")));
        }
        if let Some(rt) = &self.inner.fixed_runtime {
            return Ok(rt.clone());
        }
        let mut cache = self.inner.runtimes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rt) = cache.get(name) {
            return Ok(rt.clone());
        }
        let rc = self.inner.config.runtime(name);
        let path = if rc.path.is_empty() { name.to_string() } else { rc.path.clone() };
        let shim = locate_shim(self.inner.config.shim_path.as_deref())?;
        let root = self.inner.config.state.join("runtime").join(name);
        let mut args = rc.runtime_args.clone();
        // runc and crun take the systemd manager as a global flag.
        if self.systemd_cgroup() && !args.iter().any(|a| a == "--systemd-cgroup") {
            args.insert(0, "--systemd-cgroup".into());
        }
        let rt: Arc<dyn Runtime> = Arc::new(OciRuntime::new(name, &path, args, &root, &shim)?);
        cache.insert(name.to_string(), rt.clone());
        Ok(rt)
    }

    /// Find a container by id, unique id prefix or name.
    pub(crate) fn container(&self, key: &str) -> Result<Arc<Container>> {
        self.inner.containers.get(key)
    }

    /// Publish a container event with the usual attributes (name, image, labels) plus `extra`.
    pub(crate) fn emit_container(&self, action: &str, rec: &ContainerRecord, extra: &[(&str, String)]) {
        let mut a: BTreeMap<String, String> = rec.config.labels.clone();
        a.insert("name".into(), rec.name.clone());
        a.insert("image".into(), rec.config.image.clone());
        for (k, v) in extra {
            a.insert(k.to_string(), v.clone());
        }
        self.inner.events.emit("container", action, &rec.id, a);
    }

    fn generate_name(&self, id: &str) -> Result<String> {
        for i in 0..32usize {
            let b = id.as_bytes();
            let x = (b[i % 64] as usize) * 31 + b[(i + 7) % 64] as usize + i;
            let y = (b[(i + 13) % 64] as usize) * 17 + b[(i + 29) % 64] as usize;
            let name = format!("{}_{}", ADJECTIVES[x % ADJECTIVES.len()], NOUNS[y % NOUNS.len()]);
            let name = if i == 0 { name } else { format!("{name}{i}") };
            if self.inner.containers.reserve_name(&name, id).is_ok() {
                return Ok(name);
            }
        }
        let name = format!("isula_{}", &id[..12]);
        self.inner.containers.reserve_name(&name, id)?;
        Ok(name)
    }

    /// The shim's log settings of a record (`None` = driver `none`). For driver `cri` the
    /// log file's parent directory is created when missing.
    fn log_config(&self, rec: &ContainerRecord) -> Result<Option<ShimLogConfig>> {
        let o = &rec.host_config.log_config;
        let defaults = &self.inner.config.container_log;
        let (driver, opts) = if o.driver.is_empty() {
            (defaults.driver.as_str(), &defaults.opts)
        } else {
            (o.driver.as_str(), &o.config)
        };
        if driver == "syslog" {
            let cfg = syslog::config(rec, opts)?;
            isula_shim_proto::syslog::SyslogWriter::probe(&cfg)
                .map_err(|e| Error::precondition(format!("failed to initialize logging driver: {e}")))?;
            return Ok(Some(ShimLogConfig {
                path: PathBuf::new(),
                max_size: 0,
                max_file: 1,
                format: LogFormat::Syslog(cfg),
            }));
        }
        if rec.log_path.as_os_str().is_empty() {
            return Ok(None);
        }
        if o.driver == "cri" {
            if let Some(parent) = rec.log_path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create log directory", e))?;
            }
            return Ok(Some(ShimLogConfig {
                path: rec.log_path.clone(),
                max_size: 0,
                max_file: 1,
                format: LogFormat::Cri,
            }));
        }
        // Rotated by default, as iSulad: 1 MB files, 7 of them.
        let max_size = match opts.get("max-size") {
            Some(s) => crate::logs::parse_size(s)?,
            None => DEFAULT_LOG_MAX_SIZE,
        };
        let max_file = match opts.get("max-file") {
            Some(s) => s.parse::<u32>().map_err(|_| Error::invalid(format!("invalid log opt max-file={s}")))?.max(1),
            None => DEFAULT_LOG_MAX_FILE,
        };
        Ok(Some(ShimLogConfig { path: rec.log_path.clone(), max_size, max_file, format: LogFormat::JsonFile }))
    }

    fn create_request(&self, rec: &ContainerRecord) -> Result<CreateRequest> {
        Ok(CreateRequest {
            id: rec.id.clone(),
            bundle: self.inner.containers.dir_of(&rec.id),
            state_dir: self.shim_dir(&rec.id),
            log: self.log_config(rec)?,
            terminal: rec.config.tty,
            open_stdin: rec.config.open_stdin,
            attach: false,
            start: false,
        })
    }

    /// Remove everything of container `id` outside the store: runtime state (force), shim
    /// state, rootfs mount, snapshot, directory and the given volumes. Missing parts are fine.
    pub(crate) fn destroy_files(&self, id: &str, runtime: &str, volumes: &[String]) -> Result<()> {
        if let Ok(rt) = self.runtime(runtime) {
            if let Err(e) = rt.delete(id, true) {
                log::debug!("runtime delete of {id}: {e}");
            }
        }
        crate::failpoint::hit("container.remove.after-runtime-delete");
        self.network_teardown(id)?;
        let shim_dir = self.shim_dir(id);
        if let Ok(h) = ShimHandle::load(&shim_dir) {
            if h.is_alive() {
                let _ = h.wait_exit(Some(Duration::from_secs(5)));
            }
        }
        sys::fs::remove_dir_all_if_exists(&shim_dir)?;
        crate::failpoint::hit("container.remove.after-shim-dir");
        match self.inner.snapshots.remove(id) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::InvalidArgument => {}
            Err(e) => return Err(e),
        }
        crate::failpoint::hit("container.remove.after-snapshot");
        let dir = self.inner.containers.dir_of(id);
        let rootfs = dir.join("rootfs");
        if sys::mount::is_mountpoint(&rootfs) {
            sys::mount::unmount(&rootfs, true)?;
        }
        sys::fs::remove_dir_all_if_exists(&dir)?;
        crate::failpoint::hit("container.remove.after-dir");
        for v in volumes {
            sys::fs::remove_dir_all_if_exists(&self.volumes_root().join(v))?;
        }
        Ok(())
    }

    /// Record that the process supervised by shim `shim_pid` exited (once: returns false
    /// when the record was already updated by someone else), and publish `die`.
    pub(crate) fn mark_exited(&self, c: &Container, shim_pid: i32, exit: Option<ExitStatus>) -> bool {
        self.mark_exited_why(c, shim_pid, exit, None)
    }

    /// [`mark_exited`](Self::mark_exited) with `why` as the state's error (in the same write).
    fn mark_exited_why(&self, c: &Container, shim_pid: i32, exit: Option<ExitStatus>, why: Option<&str>) -> bool {
        // `die` (and `oom`) are published inside the update so they precede waking `wait`ers.
        let done = c.update(|r| {
            let live = matches!(r.state.status, Status::Running | Status::Paused | Status::Created);
            if !live || r.state.shim_pid != shim_pid {
                return false;
            }
            r.state.status = Status::Exited;
            r.state.pid = 0;
            match &exit {
                Some(st) => {
                    r.state.exit_code = st.code;
                    r.state.finished_at = parse_rfc3339(&st.finished_at).unwrap_or_else(now);
                    r.state.oom_killed = st.oom_killed;
                }
                None => {
                    r.state.exit_code = 255;
                    r.state.finished_at = now();
                    r.state.error = "isulad-shim died; the exit status is unknown".into();
                }
            }
            if let Some(w) = why {
                r.state.error = w.into();
            }
            if r.state.oom_killed {
                self.emit_container("oom", r, &[]);
            }
            self.emit_container("die", r, &[("exitCode", r.state.exit_code.to_string())]);
            true
        });
        match done {
            Ok(true) => {
                self.health_stop(&c.id);
                // The process is gone: release its addresses, ports and namespace (start sets them up again).
                if let Err(e) = self.network_teardown(&c.id) {
                    log::warn!("network teardown of {}: {e}", c.id);
                }
                true
            }
            Ok(false) => false,
            Err(e) => {
                log::error!("recording the exit of {}: {e}", c.id);
                false
            }
        }
    }

    /// Called by the monitor when the shim of `id` is gone.
    pub(crate) fn on_shim_exit(&self, id: &str, shim_pid: i32) -> AfterExit {
        let Ok(c) = self.inner.containers.get(id) else { return AfterExit::Nothing };
        // An operation in progress (a start finishing, a stop waiting) records the exit
        // itself or must finish first, so `die` never precedes `start`.
        let Some(_op) = c.try_lock_op() else { return AfterExit::Busy };
        if c.record().state.shim_pid != shim_pid || !self.record_shim_gone(&c) {
            return AfterExit::Nothing;
        }
        self.after_exit(&c)
    }

    /// Record the exit of container `c` whose shim is gone (the caller holds its operation
    /// lock): the exit the shim wrote, or, when the shim died first, the kill of a process
    /// that still runs. Such a process would otherwise run on unmanaged (reparented to
    /// init, unknown to stop and exec): it is killed and deleted through the runtime, and
    /// the record says so. False when the exit was already recorded.
    pub(crate) fn record_shim_gone(&self, c: &Container) -> bool {
        let rec = c.record();
        let mut exit = crate::runtime::read_exit(&self.shim_dir(&rec.id)).ok().flatten();
        let mut killed = false;
        if exit.is_none() {
            if let Ok(rt) = self.runtime(&rec.runtime) {
                let runs = rt.state(&rec.id).map(|s| s.status != RuntimeStatus::Stopped).unwrap_or(false);
                if runs {
                    log::warn!("the shim of container {} died while it ran: killing the container", rec.id);
                    if let Err(e) = rt.delete(&rec.id, true) {
                        log::error!("cannot kill container {} after its shim died: {e}", rec.id);
                    }
                    killed = true;
                    exit = Some(ExitStatus {
                        code: 128 + libc::SIGKILL,
                        signal: Some(libc::SIGKILL),
                        finished_at: now().to_rfc3339(),
                        oom_killed: false,
                    });
                }
            }
        }
        let why = killed.then_some("isulad-shim died; the container was killed");
        self.mark_exited_why(c, rec.state.shim_pid, exit, why)
    }

    /// What the restart policy and AutoRemove say after an exit; sets `Restarting`.
    pub(crate) fn after_exit(&self, c: &Container) -> AfterExit {
        let rec = c.record();
        if rec.host_config.auto_remove {
            return AfterExit::Remove;
        }
        let s = &rec.state;
        if !should_restart(&rec.host_config.restart_policy, s.exit_code, rec.restart_count, s.manually_stopped) {
            return AfterExit::Nothing;
        }
        let ran = s.finished_at.since(s.started_at);
        let delay = if ran >= BACKOFF_RESET_AFTER { backoff(0) } else { backoff(rec.restart_count) };
        match c.update(|r| r.state.status = Status::Restarting) {
            Ok(()) => AfterExit::Restart(delay),
            Err(e) => {
                log::error!("restart policy of {}: {e}", c.id);
                AfterExit::Nothing
            }
        }
    }

    /// Restart `id` by its policy (monitor). False when a user operation holds the container.
    pub(crate) fn policy_restart(&self, id: &str) -> bool {
        let Ok(c) = self.inner.containers.get(id) else { return true };
        let Some(_op) = c.try_lock_op() else { return false };
        if c.status() != Status::Restarting {
            return true;
        }
        if let Err(e) = c.update(|r| r.restart_count += 1) {
            log::error!("restart of {id}: {e}");
            return true;
        }
        if let Err(e) = self.start_locked(&c, true) {
            log::warn!("restart policy could not start {id}: {e}");
            let _ = c.update(|r| {
                if r.state.status == Status::Restarting {
                    r.state.status = Status::Exited;
                }
            });
        }
        true
    }

    /// AutoRemove after an exit (monitor).
    pub(crate) fn auto_remove(&self, id: &str) {
        if let Err(e) = self.remove(id, &RemoveOptions { force: true, volumes: true }) {
            if e.kind() != ErrorKind::NotFound {
                log::warn!("auto-remove of {id}: {e}");
            }
        }
    }

    fn watch(&self, id: &str, s: &State) {
        if s.shim_pid <= 0 {
            return; // no shim (created, but the command cannot be run)
        }
        self.inner.monitor_tx.send(Msg::Watch {
            id: id.to_string(),
            shim_pid: s.shim_pid,
            shim_start_time: s.shim_start_time,
        });
    }

    pub(crate) fn schedule_restart(&self, id: &str, delay: Duration) {
        self.inner.monitor_tx.send(Msg::RestartAt { id: id.to_string(), at: std::time::Instant::now() + delay });
    }
}

/// json-file rotation when neither the container nor the daemon sets `max-size` (iSulad's).
pub(crate) const DEFAULT_LOG_MAX_SIZE: u64 = 1 << 20;
/// Rotated json-file logs kept when `max-file` is not set (iSulad's).
pub(crate) const DEFAULT_LOG_MAX_FILE: u32 = 7;

/// Whether `s` looks like a container id (for restore).
pub(crate) fn looks_like_id(s: &str) -> bool {
    is_hex64(s)
}
