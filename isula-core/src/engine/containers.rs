//! Container lifecycle operations of the [`Engine`]: create, start, stop, kill, restart,
//! pause, unpause, remove, wait, rename, list, inspect, attach, logs and events.
//!
//! Every operation resolves the container by full id, unique id prefix or name (with or
//! without the leading `/`), takes that container's operation lock (never a global one)
//! and persists the record atomically after each state change.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use oci_spec::image::Config as ImageConfig;

use super::monitor::{AfterExit, Msg};
use super::Engine;
use crate::container::options::CreateOptions;
use crate::container::parse::parse_signal;
use crate::container::restart::{backoff, should_restart, BACKOFF_RESET_AFTER};
use crate::container::spec::{self, files, mounts, NamespaceResolver, SpecInput};
use crate::container::state::{State, Status};
use crate::container::store::{check_name, new_id, Container, ContainerConfig, ContainerRecord, MountPoint};
use crate::container::types::{
    ContainerInspect, ContainerSummary, InspectGraphDriver, InspectState, ListOptions, RemoveOptions, WaitCondition,
};
use crate::container::validate::Validate;
use crate::container::HostInfo;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventFilter};
use crate::logs::{follow_logs, LogLine, LogOptions};
use crate::runtime::{
    locate_shim, AttachStream, CreateRequest, ExitStatus, OciRuntime, Runtime, ShimHandle, ShimLogConfig,
};
use crate::sys;
use crate::time::{human_duration, now, parse_rfc3339, Timestamp};

/// Seconds between the stop signal and SIGKILL when neither the call nor the container says.
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;
/// How long to wait for a SIGKILLed container to be reaped before giving up.
const KILL_WAIT: Duration = Duration::from_secs(30);
/// Largest image config read.
const MAX_IMAGE_CONFIG: u64 = 16 << 20;

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Resolves `container:<x>` namespace modes to the init pid of a running container.
struct Resolver<'a>(&'a Engine);

impl NamespaceResolver for Resolver<'_> {
    fn container_pid(&self, id_or_name: &str) -> Result<u32> {
        let c = self.0.containers.get(id_or_name)?;
        let r = c.record();
        if r.state.status != Status::Running || r.state.pid <= 0 {
            return Err(Error::precondition(format!(
                "cannot join namespaces of container {id_or_name}: it is not running"
            )));
        }
        Ok(r.state.pid as u32)
    }
}

/// Undoes a half-done create when dropped before [`CreateUndo::disarm`].
struct CreateUndo<'a> {
    engine: &'a Engine,
    id: String,
    name: String,
    runtime: String,
    armed: bool,
}

impl CreateUndo<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CreateUndo<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = self.engine.destroy_files(&self.id, &self.runtime, &[]) {
                log::warn!("cleaning up after a failed create of {}: {e}", self.id);
            }
            self.engine.containers.release_name(&self.name, &self.id);
        }
    }
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
        self.host.get_or_init(|| HostInfo::detect(&self.config.cgroup_parent))
    }

    /// The shim state directory of container `id`.
    pub(crate) fn shim_dir(&self, id: &str) -> PathBuf {
        self.config.state.join("shims").join(id)
    }

    /// Root of named and anonymous volumes.
    pub(crate) fn volumes_root(&self) -> PathBuf {
        self.config.graph.join("volumes")
    }

    /// The OCI runtime called `name` (configured in `runtimes`, or a binary of that name).
    /// A missing binary is `NotFound` naming it.
    pub(crate) fn runtime(&self, name: &str) -> Result<Arc<dyn Runtime>> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::invalid(format!("invalid runtime name {name:?}")));
        }
        if let Some(rt) = &self.fixed_runtime {
            return Ok(rt.clone());
        }
        let mut cache = self.runtimes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rt) = cache.get(name) {
            return Ok(rt.clone());
        }
        let rc = self.config.runtime(name);
        let path = if rc.path.is_empty() { name.to_string() } else { rc.path.clone() };
        let shim = locate_shim(self.config.shim_path.as_deref())?;
        let root = self.config.state.join("runtime").join(name);
        let rt: Arc<dyn Runtime> = Arc::new(OciRuntime::new(name, &path, rc.runtime_args.clone(), &root, &shim)?);
        cache.insert(name.to_string(), rt.clone());
        Ok(rt)
    }

    /// Find a container by id, unique id prefix or name.
    pub(crate) fn container(&self, key: &str) -> Result<Arc<Container>> {
        self.containers.get(key)
    }

    /// Publish a container event with the usual attributes (name, image, labels) plus `extra`.
    pub(crate) fn emit_container(&self, action: &str, rec: &ContainerRecord, extra: &[(&str, String)]) {
        let mut a: BTreeMap<String, String> = rec.config.labels.clone();
        a.insert("name".into(), rec.name.clone());
        a.insert("image".into(), rec.config.image.clone());
        for (k, v) in extra {
            a.insert(k.to_string(), v.clone());
        }
        self.events.emit("container", action, &rec.id, a);
    }

    fn generate_name(&self, id: &str) -> Result<String> {
        for i in 0..32usize {
            let b = id.as_bytes();
            let x = (b[i % 64] as usize) * 31 + b[(i + 7) % 64] as usize + i;
            let y = (b[(i + 13) % 64] as usize) * 17 + b[(i + 29) % 64] as usize;
            let name = format!("{}_{}", ADJECTIVES[x % ADJECTIVES.len()], NOUNS[y % NOUNS.len()]);
            let name = if i == 0 { name } else { format!("{name}{i}") };
            if self.containers.reserve_name(&name, id).is_ok() {
                return Ok(name);
            }
        }
        let name = format!("isula_{}", &id[..12]);
        self.containers.reserve_name(&name, id)?;
        Ok(name)
    }

    /// json-file settings of a record (`None` = driver `none`).
    fn log_config(&self, rec: &ContainerRecord) -> Result<Option<ShimLogConfig>> {
        if rec.log_path.as_os_str().is_empty() {
            return Ok(None);
        }
        let o = &rec.host_config.log_config;
        let opts = if o.driver.is_empty() { &self.config.container_log.opts } else { &o.config };
        let max_size = match opts.get("max-size") {
            Some(s) => crate::logs::parse_size(s)?,
            None => 0,
        };
        let max_file = match opts.get("max-file") {
            Some(s) => s.parse::<u32>().map_err(|_| Error::invalid(format!("invalid log opt max-file={s}")))?.max(1),
            None => 1,
        };
        Ok(Some(ShimLogConfig { path: rec.log_path.clone(), max_size, max_file }))
    }

    fn create_request(&self, rec: &ContainerRecord) -> Result<CreateRequest> {
        Ok(CreateRequest {
            id: rec.id.clone(),
            bundle: self.containers.dir_of(&rec.id),
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
        self.network_teardown(id)?;
        let shim_dir = self.shim_dir(id);
        if let Ok(h) = ShimHandle::load(&shim_dir) {
            if h.is_alive() {
                let _ = h.wait_exit(Some(Duration::from_secs(5)));
            }
        }
        sys::fs::remove_dir_all_if_exists(&shim_dir)?;
        match self.snapshots.remove(id) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::InvalidArgument => {}
            Err(e) => return Err(e),
        }
        let dir = self.containers.dir_of(id);
        let rootfs = dir.join("rootfs");
        if sys::mount::is_mountpoint(&rootfs) {
            sys::mount::unmount(&rootfs, true)?;
        }
        sys::fs::remove_dir_all_if_exists(&dir)?;
        for v in volumes {
            sys::fs::remove_dir_all_if_exists(&self.volumes_root().join(v))?;
        }
        Ok(())
    }

    /// Record that the process supervised by shim `shim_pid` exited (once: returns false
    /// when the record was already updated by someone else), and publish `die`.
    pub(crate) fn mark_exited(&self, c: &Container, shim_pid: i32, exit: Option<ExitStatus>) -> bool {
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
        let Ok(c) = self.containers.get(id) else { return AfterExit::Nothing };
        // An operation in progress (a start finishing, a stop waiting) records the exit
        // itself or must finish first, so `die` never precedes `start`.
        let Some(_op) = c.try_lock_op() else { return AfterExit::Busy };
        let exit = crate::runtime::read_exit(&self.shim_dir(id)).ok().flatten();
        if !self.mark_exited(&c, shim_pid, exit) {
            return AfterExit::Nothing;
        }
        self.after_exit(&c)
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
        let Ok(c) = self.containers.get(id) else { return true };
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
        self.monitor_tx.send(Msg::Watch {
            id: id.to_string(),
            shim_pid: s.shim_pid,
            shim_start_time: s.shim_start_time,
        });
    }

    pub(crate) fn schedule_restart(&self, id: &str, delay: Duration) {
        self.monitor_tx.send(Msg::RestartAt { id: id.to_string(), at: std::time::Instant::now() + delay });
    }

    // ------------------------------------------------------------------ create

    /// Create a container from `opts` and return its id (64 hex digits).
    ///
    /// Resolves the image (`NotFound` "No such image: x"), validates the options
    /// (`InvalidArgument`), reserves the name (`Conflict` when in use), prepares and mounts
    /// the root filesystem, writes the bundle (`config.json`, hosts, resolv.conf, hostname)
    /// and has the runtime create the container under a new shim (status `created`).
    /// On any failure everything done is undone: no record, mount, snapshot or process remains.
    pub fn create(&self, opts: &CreateOptions) -> Result<String> {
        self.create_container(opts, false).map(|(id, _)| id)
    }

    /// [`create`](Self::create); with `start`, the shim also starts the process in the same
    /// runtime call (`run --detach`) and the container is recorded running. A command that
    /// cannot be run leaves the container created, with the exit code and error in its state,
    /// and that error is returned beside the id.
    fn create_container(&self, opts: &CreateOptions, start: bool) -> Result<(String, Option<Error>)> {
        opts.validate()?;
        let name = opts.name.as_deref().filter(|n| !n.is_empty()).map(check_name).transpose()?;
        let img = self.resolve_image(&opts.image)?;
        let cfg_bytes = self.content.read(&img.id, MAX_IMAGE_CONFIG)?;
        let cfg_json: serde_json::Value = serde_json::from_slice(&cfg_bytes)
            .map_err(|e| Error::internal(format!("image {}: bad config JSON: {e}", img.id)))?;
        let image_cfg: Option<ImageConfig> = match cfg_json.get("config") {
            Some(v) if !v.is_null() => Some(
                serde_json::from_value(v.clone())
                    .map_err(|e| Error::internal(format!("image {}: bad runtime config: {e}", img.id)))?,
            ),
            _ => None,
        };
        let runtime_name =
            opts.runtime.clone().filter(|r| !r.is_empty()).unwrap_or(self.config.default_runtime.clone());
        let rt = self.runtime(&runtime_name)?;
        let id = new_id()?;
        let name = match name {
            Some(n) => {
                self.containers.reserve_name(&n, &id)?;
                n
            }
            None => self.generate_name(&id)?,
        };
        let undo =
            CreateUndo { engine: self, id: id.clone(), name: name.clone(), runtime: runtime_name.clone(), armed: true };
        let dir = self.containers.dir_of(&id);
        sys::fs::ensure_dir(&dir, 0o700)?;
        self.snapshots.prepare(&id, img.chain_ids.last(), Some(&img.id.to_string()))?;
        let rootfs = dir.join("rootfs");
        sys::fs::ensure_dir(&rootfs, 0o755)?;
        self.snapshots.mount(&id, &rootfs)?;
        // Until the record is in the store, keep volume rm/prune from deleting its volumes.
        let _volumes = self.volumes_shared();
        let volumes_root = self.volumes_root();
        let host = self.host_info();
        let resolver = Resolver(self);
        let input = SpecInput {
            id: &id,
            options: opts,
            image: image_cfg.as_ref(),
            rootfs: &rootfs,
            container_dir: &dir,
            volumes_root: &volumes_root,
            host,
            namespaces: &resolver,
        };
        let mut oci = spec::build_spec(&input)?;
        let image_exposed: Vec<String> = image_cfg.as_ref().and_then(|i| i.exposed_ports().clone()).unwrap_or_default();
        if let Some(ns) = self.container_network_create(&id, opts, &image_exposed)? {
            super::network::set_netns_path(&mut oci, &ns);
        }
        let new_volumes = self.missing_volumes(opts, &id, image_cfg.as_ref())?;
        // A filter the runtime compiled for this profile before, or the key to keep this one.
        let seccomp_miss = rt.prepare_seccomp(&mut oci);
        spec::prepare_container(&input, &oci)?;
        self.container_hosts(&id, opts, oci.hostname().as_deref().unwrap_or(""))?;
        spec::write_bundle_config(&dir, &oci)?;

        let image_volumes: Vec<String> = image_cfg.as_ref().and_then(|i| i.volumes().clone()).unwrap_or_default();
        let planned = mounts::user_mounts(opts, &id, &image_volumes, &volumes_root)?;
        let anonymous_volumes: Vec<String> = planned
            .iter()
            .filter_map(|m| m.volume.clone().filter(|v| *v == files::anonymous_volume_name(&id, &m.destination)))
            .collect();
        let mount_points = planned
            .iter()
            .map(|m| MountPoint {
                kind: if m.volume.is_some() { "volume".into() } else { m.kind.clone() },
                name: m.volume.clone().unwrap_or_default(),
                source: m.source.clone(),
                destination: m.destination.clone(),
                mode: m.options.join(","),
                rw: !m.options.iter().any(|o| o == "ro"),
                propagation: m
                    .options
                    .iter()
                    .find(|o| o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave"))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        let process = oci.process().as_ref().ok_or_else(|| Error::internal("generated spec has no process"))?;
        let args: Vec<String> = process.args().clone().unwrap_or_default();
        let entrypoint = match &opts.entrypoint {
            Some(e) => e.clone(),
            None => image_cfg.as_ref().and_then(|i| i.entrypoint().clone()).unwrap_or_default(),
        };
        let cmd = args.iter().skip(entrypoint.len()).cloned().collect();
        let stop_signal = spec::stop_signal(opts, image_cfg.as_ref())?;
        let log_driver = if opts.log_config.driver.is_empty() {
            self.config.container_log.driver.clone()
        } else {
            opts.log_config.driver.clone()
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: now(),
            image: img.id.to_string(),
            path: args.first().cloned().unwrap_or_default(),
            args: args.iter().skip(1).cloned().collect(),
            config: ContainerConfig {
                hostname: oci.hostname().clone().unwrap_or_default(),
                domainname: opts.domainname.clone().unwrap_or_default(),
                user: opts
                    .user
                    .clone()
                    .or_else(|| image_cfg.as_ref().and_then(|i| i.user().clone()))
                    .unwrap_or_default(),
                env: process.env().clone().unwrap_or_default(),
                cmd,
                entrypoint,
                image: opts.image.clone(),
                working_dir: process.cwd().to_string_lossy().into_owned(),
                labels: spec::merge_labels(opts, image_cfg.as_ref()),
                tty: opts.tty,
                open_stdin: opts.open_stdin,
                stop_signal: stop_signal.to_string(),
                stop_timeout: opts.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
                healthcheck: opts.healthcheck.clone(),
            },
            host_config: self.recorded_host_config(opts),
            runtime: runtime_name,
            state: State::default(),
            restart_count: 0,
            rootfs,
            log_path: if log_driver == "none" { PathBuf::new() } else { dir.join(format!("{id}-json.log")) },
            mounts: mount_points,
            anonymous_volumes,
        };
        let mut rec = rec;
        let mut req = self.create_request(&rec)?;
        req.start = start;
        let mut start_error = None;
        match rt.create(&req) {
            Ok(spawned) => {
                if let Some(key) = &seccomp_miss {
                    rt.remember_seccomp(key, &id);
                }
                rec.state.shim_pid = spawned.handle.shim_pid;
                rec.state.shim_start_time = spawned.handle.shim_start_time;
                rec.state.pid = spawned.handle.pid;
                if start {
                    rec.state.status = Status::Running;
                    rec.state.started_at = now();
                }
            }
            // As Docker, `create` does not check that the command can be run: the container
            // is created without a shim and `start` reports the runtime's error (127/126).
            Err(e) => match e.start_exit_code() {
                Some(code) if start => {
                    rec.state.exit_code = code;
                    rec.state.error = e.to_string();
                    start_error = Some(e);
                }
                Some(_) => log::debug!("create {id}: start will fail: {e}"),
                None => return Err(e),
            },
        }
        // The spec step's files (hosts, config.json, ...) were written unflushed: one batch
        // makes them durable together with the record.
        let written = files::container_files(&dir);
        rec.save(&dir, &written.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
        self.containers.insert(Arc::new(Container::new(rec.clone(), dir)));
        undo.disarm();
        self.emit_volumes("create", &new_volumes);
        self.emit_container("create", &rec, &[]);
        if let Some(e) = &start_error {
            if let Err(te) = self.network_teardown(&id) {
                log::warn!("network teardown of {id} after a failed start: {te}");
            }
            log::debug!("run {id}: {e}");
        } else if rec.state.status == Status::Running {
            self.started(&rec);
            return Ok((id, None));
        }
        self.watch(&id, &rec.state);
        Ok((id, start_error))
    }

    // ------------------------------------------------------------------ start / run

    /// Start a created or exited container. Starting a running container is a no-op success
    /// (as Docker and iSulad). A paused one is `FailedPrecondition` (unpause it instead).
    /// When the command cannot be run the error says so; see
    /// [`start_error_exit_code`](crate::container::types::start_error_exit_code) (127/126).
    ///
    /// A container with AutoRemove whose start fails is removed (as Docker).
    pub fn start(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let res = {
            let _op = c.lock_op();
            self.start_locked(&c, false)
        };
        if res.is_err() {
            let rec = c.record();
            let failed = !rec.state.error.is_empty() && matches!(rec.state.status, Status::Created | Status::Exited);
            if failed && rec.host_config.auto_remove {
                self.auto_remove(&rec.id);
            }
        }
        res
    }

    pub(crate) fn start_locked(&self, c: &Container, by_policy: bool) -> Result<()> {
        let rec = c.record();
        let id = &rec.id;
        match rec.state.status {
            Status::Running => return Ok(()),
            Status::Paused => {
                return Err(Error::precondition(format!("cannot start a paused container {id}, try unpause instead")))
            }
            Status::Removing | Status::Dead => {
                return Err(Error::precondition(format!("cannot start container {id}: it is being removed")))
            }
            _ => {}
        }
        let rt = self.runtime(&rec.runtime)?;
        let alive_created = rec.state.status == Status::Created
            && rec.state.shim_pid > 0
            && crate::runtime::is_shim_alive(rec.state.shim_pid, rec.state.shim_start_time);
        if !alive_created {
            if let Err(e) = rt.delete(id, true) {
                log::debug!("delete old runtime state of {id}: {e}");
            }
            if !sys::mount::is_mountpoint(&rec.rootfs) {
                sys::fs::ensure_dir(&rec.rootfs, 0o755)?;
                self.snapshots.mount(id, &rec.rootfs)?;
            }
            if let Err(e) = self.container_network_up(id, &rec.host_config, &rec.config.hostname) {
                return Err(self.start_failed(c, e));
            }
            let spawned = match rt.create(&self.create_request(&rec)?) {
                Ok(s) => s,
                Err(e) => return Err(self.start_failed(c, e)),
            };
            c.update(|r| {
                r.state.status = Status::Created;
                r.state.shim_pid = spawned.handle.shim_pid;
                r.state.shim_start_time = spawned.handle.shim_start_time;
                r.state.pid = spawned.handle.pid;
            })?;
        }
        if let Err(e) = rt.start(id) {
            let _ = rt.delete(id, true);
            return Err(self.start_failed(c, e));
        }
        let started_at = now();
        c.update(|r| {
            if !by_policy {
                r.restart_count = 0;
            }
            r.state.started_at = started_at;
            r.state.manually_stopped = false;
            // The monitor may already have recorded the exit of a process that ended at once:
            // keep that exit instead of claiming the container runs.
            if r.state.status == Status::Exited {
                return;
            }
            r.state.status = Status::Running;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.oom_killed = false;
        })?;
        self.started(&c.record());
        Ok(())
    }

    /// After the runtime started a container (`start`, or `run` in one call): publish
    /// `start`, start health checks, and have the monitor watch the shim — last, so that
    /// an exit it sees is published after `start`.
    fn started(&self, rec: &ContainerRecord) {
        self.emit_container("start", rec, &[]);
        if rec.state.status == Status::Running {
            self.health_start(rec);
        }
        self.watch(&rec.id, &rec.state);
    }

    /// Note a failed start in the record (exit code 127/126/128, error text) and pass the error on.
    /// As Docker, a container that never ran stays `created`; one that ran before is `exited`.
    fn start_failed(&self, c: &Container, e: Error) -> Error {
        let code = e.start_exit_code().unwrap_or(128);
        let _ = c.update(|r| {
            if r.state.status != Status::Created || !r.state.started_at.is_zero() {
                r.state.status = Status::Exited;
                r.state.finished_at = now();
            }
            r.state.pid = 0;
            r.state.shim_pid = 0;
            r.state.exit_code = code;
            r.state.error = e.to_string();
        });
        if let Err(te) = self.network_teardown(&c.id) {
            log::warn!("network teardown of {} after a failed start: {te}", c.id);
        }
        e
    }

    /// Create and start a container; returns its id. When the start fails the container is
    /// left in place (as Docker), with the error and exit code in its state (removed with
    /// AutoRemove). The runtime creates and starts it in one call, under the new shim.
    pub fn run(&self, opts: &CreateOptions) -> Result<String> {
        match self.create_container(opts, true)? {
            (id, None) => Ok(id),
            (id, Some(e)) => {
                if opts.auto_remove {
                    self.auto_remove(&id);
                }
                Err(e)
            }
        }
    }

    // ------------------------------------------------------------------ stop / kill / restart

    /// Stop a container: its stop signal, then SIGKILL after `timeout` seconds (default: the
    /// container's `StopTimeout`, else 10). Stopping a container that is not running is a
    /// no-op success. Restart policies leave a stopped container alone.
    pub fn stop(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        self.stop_locked(&c, timeout)
    }

    fn stop_locked(&self, c: &Container, timeout: Option<i64>) -> Result<()> {
        let rec = c.record();
        match rec.state.status {
            Status::Restarting => {
                c.update(|r| {
                    r.state.status = Status::Exited;
                    r.state.manually_stopped = true;
                })?;
                self.emit_container("stop", &c.record(), &[]);
                return Ok(());
            }
            Status::Running | Status::Paused => {}
            _ => return Ok(()),
        }
        c.update(|r| r.state.manually_stopped = true)?;
        let rt = self.runtime(&rec.runtime)?;
        if rec.state.status == Status::Paused {
            rt.resume(&rec.id)?;
            c.update(|r| r.state.status = Status::Running)?;
        }
        let sig: i32 = rec.config.stop_signal.parse().unwrap_or(libc::SIGTERM);
        let handle = ShimHandle::load(&self.shim_dir(&rec.id))?;
        let timeout = Duration::from_secs(timeout.unwrap_or(rec.config.stop_timeout).max(0) as u64);
        self.emit_container("kill", &rec, &[("signal", sig.to_string())]);
        if let Err(e) = rt.kill(&rec.id, sig, false) {
            log::debug!("stop signal to {}: {e}", rec.id);
        }
        let mut exit = handle.wait_exit(Some(timeout)).ok().flatten();
        if exit.is_none() && handle.is_alive() {
            self.emit_container("kill", &rec, &[("signal", libc::SIGKILL.to_string())]);
            if let Err(e) = rt.kill(&rec.id, libc::SIGKILL, true) {
                log::debug!("SIGKILL to {}: {e}", rec.id);
            }
            exit = handle.wait_exit(Some(KILL_WAIT)).ok().flatten();
            if exit.is_none() && handle.is_alive() {
                return Err(Error::unavailable(format!("container {} did not exit after SIGKILL", rec.id)));
            }
        }
        self.mark_exited(c, rec.state.shim_pid, exit);
        self.emit_container("stop", &c.record(), &[]);
        Ok(())
    }

    /// Send `signal` (name like `TERM`/`SIGKILL` or number; empty = SIGKILL) to the
    /// container's init. `FailedPrecondition` when it is not running.
    ///
    /// As with Docker, a kill with SIGKILL or the container's stop signal counts as a manual
    /// stop: restart policies leave the container alone once it exits (until it is started again; see
    /// [`restart_on_open`](crate::container::restart::restart_on_open) for `Engine::open`),
    /// and a container waiting for a policy restart just stays exited.
    pub fn kill(&self, id: &str, signal: &str) -> Result<()> {
        let sig = if signal.is_empty() { libc::SIGKILL } else { parse_signal(signal)? };
        let c = self.container(id)?;
        if c.status() == Status::Restarting {
            let _op = c.lock_op();
            let cancelled = c.update(|r| {
                let restarting = r.state.status == Status::Restarting;
                if restarting {
                    r.state.status = Status::Exited;
                    r.state.manually_stopped = true;
                }
                restarting
            })?;
            if cancelled {
                self.emit_container("kill", &c.record(), &[("signal", sig.to_string())]);
                return Ok(());
            }
        }
        let rec = c.record();
        if !rec.state.status.can_kill() {
            return Err(Error::precondition(format!("Container {} is not running", rec.id))
                .with_reason(crate::Reason::NotRunning));
        }
        let rt = self.runtime(&rec.runtime)?;
        // Only a signal meant to end the container (SIGKILL or its stop signal) is a manual
        // stop; a reload signal such as HUP or USR1 leaves the restart policy in force (the
        // behaviour Docker adopted for `always`, extended here to `unless-stopped`).
        let ends = sig == libc::SIGKILL || parse_signal(&rec.config.stop_signal).is_ok_and(|s| s == sig);
        if ends {
            c.update(|r| r.state.manually_stopped = true)?;
        }
        if let Err(e) = rt.kill(&rec.id, sig, false) {
            // The process ended between our check and the signal (as Docker: not an error,
            // the manual stop is recorded).
            let gone = !crate::runtime::is_shim_alive(rec.state.shim_pid, rec.state.shim_start_time)
                || e.reason() == Some(crate::Reason::NotRunning);
            if !gone {
                return Err(e);
            }
            log::debug!("kill {}: the process already exited: {e}", rec.id);
        }
        self.emit_container("kill", &rec, &[("signal", sig.to_string())]);
        Ok(())
    }

    /// Stop (as [`stop`](Self::stop)) and start again.
    pub fn restart(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        self.stop_locked(&c, timeout)?;
        self.start_locked(&c, false)?;
        self.emit_container("restart", &c.record(), &[]);
        Ok(())
    }

    // ------------------------------------------------------------------ pause

    /// Freeze all processes of a running container (`FailedPrecondition` otherwise).
    pub fn pause(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if !rec.state.status.can_pause() {
            return Err(match rec.state.status {
                Status::Paused => Error::precondition(format!("Container {} is already paused", rec.id)),
                _ => Error::precondition(format!("Container {} is not running", rec.id))
                    .with_reason(crate::Reason::NotRunning),
            });
        }
        self.runtime(&rec.runtime)?.pause(&rec.id)?;
        c.update(|r| r.state.status = Status::Paused)?;
        self.health_stop(&rec.id);
        self.emit_container("pause", &rec, &[]);
        Ok(())
    }

    /// Thaw a paused container (`FailedPrecondition` when it is not paused).
    pub fn unpause(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if !rec.state.status.can_unpause() {
            return Err(Error::precondition(format!("Container {} is not paused", rec.id)));
        }
        self.runtime(&rec.runtime)?.resume(&rec.id)?;
        c.update(|r| r.state.status = Status::Running)?;
        self.health_resume(&rec);
        self.emit_container("unpause", &rec, &[]);
        Ok(())
    }

    // ------------------------------------------------------------------ remove

    /// Remove a container: a running (or paused, restarting) one only with `force`
    /// (it is killed), else `FailedPrecondition` "You cannot remove a running container …".
    /// Deletes the runtime state, unmounts and removes the root filesystem, the record and,
    /// with `volumes`, its anonymous volumes.
    pub fn remove(&self, id: &str, opts: &RemoveOptions) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        let st = rec.state.status;
        if !st.can_remove() && !opts.force {
            return Err(Error::precondition(format!(
                "You cannot remove a {st} container {}. Stop the container before attempting removal or force remove",
                rec.id
            )));
        }
        if st.is_active() || st == Status::Created {
            let rt = self.runtime(&rec.runtime)?;
            if st == Status::Paused {
                let _ = rt.resume(&rec.id);
            }
            if let Err(e) = rt.kill(&rec.id, libc::SIGKILL, true) {
                log::debug!("kill {} for removal: {e}", rec.id);
            }
            let exit = ShimHandle::load(&self.shim_dir(&rec.id))
                .ok()
                .and_then(|h| h.wait_exit(Some(KILL_WAIT)).ok().flatten());
            self.mark_exited(&c, rec.state.shim_pid, exit);
        }
        c.update(|r| r.state.status = Status::Removing)?;
        let vols: &[String] = if opts.volumes { &rec.anonymous_volumes } else { &[] };
        if let Err(e) = self.destroy_files(&rec.id, &rec.runtime, vols) {
            let _ = c.update(|r| r.state.status = Status::Dead);
            return Err(e.context(format!("remove container {}", rec.id)));
        }
        self.containers.remove(&rec.id);
        c.update(|_| ()).ok();
        self.health_forget(&rec.id);
        self.emit_container("destroy", &rec, &[]);
        self.emit_volumes("destroy", vols);
        // Layers outlive their image only while a container uses them (image removed with
        // force): prune only then, not on every removal (pruning reads every snapshot).
        let image_gone = match Digest::parse(&rec.image) {
            Ok(d) => self.images.get(&d).is_none(),
            Err(_) => true,
        };
        if image_gone {
            if let Err(e) = self.prune_image_layers() {
                log::warn!("pruning layers after removing {}: {e}", rec.id);
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------ wait / rename

    /// Block until `condition` holds and return the container's exit code. Works for
    /// containers started before the engine was reopened. `Removed` returns the last exit
    /// code once the container is gone.
    pub fn wait(&self, id: &str, condition: WaitCondition) -> Result<i32> {
        Ok(self.wait_timeout(id, condition, None)?.unwrap_or(-1))
    }

    /// [`wait`](Self::wait) that gives up after `timeout` (`None` waits forever):
    /// `Ok(None)` when the condition was not met in time.
    pub fn wait_timeout(&self, id: &str, condition: WaitCondition, timeout: Option<Duration>) -> Result<Option<i32>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let c = self.container(id)?;
        let active = |r: &ContainerRecord| {
            matches!(r.state.status, Status::Running | Status::Paused | Status::Restarting | Status::Removing)
        };
        let first_finish = c.record().state.finished_at;
        let r = match condition {
            WaitCondition::NotRunning => self.wait_record(&c, deadline, Duration::from_secs(1), |r| !active(r)),
            WaitCondition::NextExit => self.wait_record(&c, deadline, Duration::from_secs(1), |r| {
                !active(r) && r.state.finished_at != first_finish
            }),
            WaitCondition::Removed => self.wait_record(&c, deadline, Duration::from_millis(200), |_| false),
        };
        Ok(r.map(|r| r.state.exit_code))
    }

    /// Wait on `c`'s record until `done` holds or the container has left the store; the
    /// record then, or `None` once `deadline` has passed. Woken by every record change;
    /// removal is looked for every `slice`.
    fn wait_record(
        &self,
        c: &Container,
        deadline: Option<std::time::Instant>,
        slice: Duration,
        done: impl Fn(&ContainerRecord) -> bool,
    ) -> Option<ContainerRecord> {
        loop {
            let left = deadline.map(|t| t.saturating_duration_since(std::time::Instant::now()));
            let r = c.wait_until(left.map_or(slice, |l| l.min(slice)), &done);
            if done(&r) || self.containers.get(&c.id).is_err() {
                return Some(r);
            }
            if left.is_some_and(|l| l.is_zero()) {
                return None;
            }
        }
    }

    /// Block until the container's recorded finish time differs from `finished_at` (an exit
    /// recorded after the one the caller saw), the container is gone, or `timeout` passes;
    /// true unless the time ran out. For streams that must not report an exit before the
    /// record does (attach: an `rm` right after a foreground `run` must find it stopped).
    pub fn wait_finish_after(&self, id: &str, finished_at: Timestamp, timeout: Duration) -> bool {
        let Ok(c) = self.container(id) else { return true };
        let deadline = Some(std::time::Instant::now() + timeout);
        self.wait_record(&c, deadline, Duration::from_millis(200), |r| r.state.finished_at != finished_at).is_some()
    }

    /// Rename a container (`Conflict` when the new name is in use, `InvalidArgument` when it
    /// is invalid or the same as the current one).
    pub fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let new_name = check_name(new_name)?;
        let c = self.container(id)?;
        let _op = c.lock_op();
        let rec = c.record();
        if rec.name == new_name {
            return Err(Error::invalid(format!(
                "Renaming a container with the same name as its current name: {new_name}"
            )));
        }
        self.containers.reserve_name(&new_name, &rec.id)?;
        if let Err(e) = c.update(|r| r.name = new_name.clone()) {
            self.containers.release_name(&new_name, &rec.id);
            return Err(e);
        }
        self.containers.release_name(&rec.name, &rec.id);
        self.emit_container("rename", &c.record(), &[("oldName", format!("/{}", rec.name))]);
        Ok(())
    }

    // ------------------------------------------------------------------ list / inspect

    /// List containers (`ps`): running ones, or all with `opts.all`; newest first.
    /// Filters `id=` (prefix), `name=` (substring), `label=k[=v]`, `status=`, `ancestor=`
    /// (image name or id); an unknown filter is `InvalidArgument`.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        let mut filters: Vec<(String, String)> = Vec::new();
        for f in &opts.filters {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| Error::invalid(format!("bad format of filter (expected name=value): {f}")))?;
            match k {
                "id" | "name" | "label" | "ancestor" => {}
                "status" => {
                    Status::parse(v)?;
                }
                _ => return Err(Error::invalid(format!("invalid filter '{k}'"))),
            }
            filters.push((k.to_string(), v.to_string()));
        }
        let ancestors: Vec<String> = filters
            .iter()
            .filter(|(k, _)| k == "ancestor")
            .map(|(_, v)| self.resolve_image(v).map(|i| i.id.to_string()).unwrap_or_else(|_| v.clone()))
            .collect();
        let all = opts.all || opts.last > 0 || filters.iter().any(|(k, _)| k == "status");
        let mut recs: Vec<ContainerRecord> = self.containers.list().iter().map(|c| c.record()).collect();
        recs.retain(|r| all || r.state.status.is_active());
        recs.retain(|r| {
            let group = |key: &str, f: &dyn Fn(&str) -> bool| {
                let vals: Vec<&String> = filters.iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect();
                vals.is_empty() || vals.iter().any(|v| f(v))
            };
            group("id", &|v| r.id.starts_with(v))
                && group("name", &|v| r.name.contains(v.trim_start_matches('/')))
                && group("status", &|v| r.state.status.as_str() == v)
                && group("ancestor", &|_| ancestors.iter().any(|a| *a == r.image || *a == r.config.image))
                && filters.iter().filter(|(k, _)| k == "label").all(|(_, v)| match v.split_once('=') {
                    Some((lk, lv)) => r.config.labels.get(lk).map(|x| x == lv).unwrap_or(false),
                    None => r.config.labels.contains_key(v.as_str()),
                })
        });
        recs.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        if opts.last > 0 {
            recs.truncate(opts.last);
        }
        let now = now();
        Ok(recs.iter().map(|r| summary(r, now)).collect())
    }

    /// Docker-shaped details of a container.
    pub fn inspect_container(&self, id: &str) -> Result<ContainerInspect> {
        let r = self.container(id)?.record();
        let s = &r.state;
        let mut data = BTreeMap::new();
        if let Ok(opts) = self.snapshots.mount_options(&r.id) {
            let base = self.snapshots.dir();
            for kv in opts.split(',') {
                if let Some((k, v)) = kv.split_once('=') {
                    let abs = |p: &str| base.join(p).to_string_lossy().into_owned();
                    match k {
                        "lowerdir" => {
                            let l: Vec<String> = v.split(':').map(abs).collect();
                            data.insert("LowerDir".to_string(), l.join(":"));
                        }
                        "upperdir" => {
                            data.insert("UpperDir".to_string(), abs(v));
                        }
                        "workdir" => {
                            data.insert("WorkDir".to_string(), abs(v));
                        }
                        _ => {}
                    }
                }
            }
            data.insert("MergedDir".to_string(), r.rootfs.to_string_lossy().into_owned());
        }
        Ok(ContainerInspect {
            id: r.id.clone(),
            created: r.created,
            path: r.path.clone(),
            args: r.args.clone(),
            state: InspectState {
                status: s.status.as_str().into(),
                running: s.status.is_active(),
                paused: s.status == Status::Paused,
                restarting: s.status == Status::Restarting,
                oom_killed: s.oom_killed,
                dead: s.status == Status::Dead,
                pid: if s.status.is_active() { s.pid } else { 0 },
                exit_code: s.exit_code,
                error: s.error.clone(),
                started_at: s.started_at,
                finished_at: s.finished_at,
                health: self.health_json(&r.id),
            },
            image: r.image.clone(),
            name: format!("/{}", r.name),
            restart_count: r.restart_count,
            driver: "overlay2".into(),
            runtime: r.runtime.clone(),
            log_path: r.log_path.to_string_lossy().into_owned(),
            config: r.config.clone(),
            host_config: r.host_config.clone(),
            mounts: r.mounts.clone(),
            graph_driver: InspectGraphDriver { name: "overlay2".into(), data },
            network_settings: self.container_network_settings(&r.id),
        })
    }

    /// The full record of a container (for tools built on the engine: stats, top, export, cp,
    /// health checks). Read-only copy.
    pub fn container_record(&self, id: &str) -> Result<ContainerRecord> {
        Ok(self.container(id)?.record())
    }

    // ------------------------------------------------------------------ attach / logs / events

    /// Connect to the stdio of a running container's init: output produced from now on,
    /// stdin when the container was created with `OpenStdin`. `FailedPrecondition` when it
    /// is not running.
    pub fn attach(&self, id: &str) -> Result<AttachStream> {
        let c = self.container(id)?;
        let rec = c.record();
        if !matches!(rec.state.status, Status::Running | Status::Paused | Status::Created) {
            return Err(Error::precondition(format!(
                "You cannot attach to a stopped container {}, start it first",
                rec.id
            )));
        }
        let s = if rec.state.status == Status::Created && rec.state.shim_pid == 0 {
            AttachStream::closed()? // no process: `start` will say why
        } else {
            ShimHandle::load(&self.shim_dir(&rec.id))?.attach()?
        };
        self.emit_container("attach", &rec, &[]);
        Ok(s)
    }

    /// Read the container's json-file log into `sink` (which returns false to stop). With
    /// `opts.follow`, keeps reading until the container stops (or `sink` says stop).
    pub fn logs(&self, id: &str, opts: &LogOptions, sink: &mut dyn FnMut(LogLine) -> bool) -> Result<()> {
        let c = self.container(id)?;
        let rec = c.record();
        if rec.log_path.as_os_str().is_empty() {
            return Err(Error::precondition(format!(
                "configured logging driver does not support reading (container {} logs to none)",
                rec.id
            )));
        }
        let keep = || c.status().is_active() || c.status() == Status::Restarting;
        follow_logs(&rec.log_path, opts, &keep, sink)
    }

    /// Subscribe to engine events: past events matching `filter` (when `since` is set) and a
    /// receiver of future ones. Dropping the receiver ends the subscription.
    pub fn events(&self, filter: &EventFilter) -> (Vec<Event>, Receiver<Event>) {
        self.events.subscribe(filter)
    }
}

/// The `Status` column of `ps`.
pub fn status_text(s: &State, now: Timestamp) -> String {
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", human_duration(now.since(s.started_at))),
        Status::Paused => format!("Up {} (Paused)", human_duration(now.since(s.started_at))),
        Status::Restarting => {
            format!("Restarting ({}) {} ago", s.exit_code, human_duration(now.since(s.finished_at)))
        }
        Status::Exited if s.finished_at.is_zero() => "Created".into(),
        Status::Exited => format!("Exited ({}) {} ago", s.exit_code, human_duration(now.since(s.finished_at))),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

fn summary(r: &ContainerRecord, now: Timestamp) -> ContainerSummary {
    let mut command = r.path.clone();
    for a in &r.args {
        command.push(' ');
        command.push_str(a);
    }
    ContainerSummary {
        id: r.id.clone(),
        names: vec![format!("/{}", r.name)],
        image: r.config.image.clone(),
        image_id: r.image.clone(),
        command,
        created: r.created.unix_secs(),
        state: r.state.status.as_str().into(),
        status: status_text(&r.state, now),
        labels: r.config.labels.clone(),
    }
}

/// Whether `s` looks like a container id (for restore).
pub(crate) fn looks_like_id(s: &str) -> bool {
    is_hex64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_status() {
        assert_eq!(human_duration(Duration::from_millis(10)), "Less than a second");
        assert_eq!(human_duration(Duration::from_secs(3)), "3 seconds");
        assert_eq!(human_duration(Duration::from_secs(70)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(180)), "3 minutes");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
        let now = parse_rfc3339("2024-01-01T00:10:00Z").unwrap();
        let st = State {
            status: Status::Exited,
            exit_code: 3,
            finished_at: parse_rfc3339("2024-01-01T00:08:00Z").unwrap(),
            started_at: parse_rfc3339("2024-01-01T00:07:00Z").unwrap(),
            ..State::default()
        };
        assert_eq!(status_text(&st, now), "Exited (3) 2 minutes ago");
        let run = State { status: Status::Running, ..st.clone() };
        assert_eq!(status_text(&run, now), "Up 3 minutes");
        assert_eq!(status_text(&State::default(), now), "Created");
    }
}
