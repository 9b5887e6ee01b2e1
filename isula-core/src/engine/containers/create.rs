//! Container create: image, name, rootfs, bundle and the runtime's create, undone on failure.

use std::path::PathBuf;
use std::sync::Arc;

use oci_spec::image::Config as ImageConfig;

use super::*;
use crate::container::options::CreateOptions;
use crate::container::spec::{self, files, mounts, NamespaceResolver, SpecInput};
use crate::container::state::{State, Status};
use crate::container::store::{check_name, new_id, Container, ContainerConfig, ContainerRecord, MountPoint};
use crate::container::validate::Validate;
use crate::engine::pods::CreateExtra;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::sys;
use crate::time::now;

/// Resolves `container:<x>` namespace modes to the init pid of a running container.
struct Resolver<'a>(&'a Engine);

impl NamespaceResolver for Resolver<'_> {
    fn container_pid(&self, id_or_name: &str) -> Result<u32> {
        let c = self.0.inner.containers.get(id_or_name)?;
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
            self.engine.inner.containers.release_name(&self.name, &self.id);
        }
    }
}

/// The `Mounts` entry of a container record for one planned user mount.
fn mount_point(m: &mounts::PlannedMount) -> MountPoint {
    MountPoint {
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
    }
}

impl Engine {
    /// Create step: the runtime part (`config`) of image `id`'s config blob, if it has one.
    fn image_runtime_config(&self, id: &crate::digest::Digest) -> Result<Option<ImageConfig>> {
        let cfg_bytes = self.inner.content.read(id, MAX_IMAGE_CONFIG)?;
        let cfg_json: serde_json::Value = serde_json::from_slice(&cfg_bytes)
            .map_err(|e| Error::internal(format!("image {id}: bad config JSON: {e}")))?;
        Ok(match cfg_json.get("config") {
            Some(v) if !v.is_null() => Some(
                serde_json::from_value(v.clone())
                    .map_err(|e| Error::internal(format!("image {id}: bad runtime config: {e}")))?,
            ),
            _ => None,
        })
    }
}

impl Engine {
    // ------------------------------------------------------------------ create

    /// [`Containers::create`]: see there.
    pub(crate) fn create(&self, opts: &CreateOptions) -> Result<String> {
        self.create_container(opts, false).map(|(id, _)| id)
    }

    /// [`create`](Self::create); with `start`, the shim also starts the process in the same
    /// runtime call (`run --detach`) and the container is recorded running. A command that
    /// cannot be run leaves the container created, with the exit code and error in its state,
    /// and that error is returned beside the id.
    pub(super) fn create_container(&self, opts: &CreateOptions, start: bool) -> Result<(String, Option<Error>)> {
        opts.validate()?;
        let extra = self.pod_create_extra(opts)?;
        self.create_container_with(opts, start, extra)
    }

    /// [`create_container`](Self::create_container) with what a pod adds (see [`CreateExtra`]).
    pub(crate) fn create_container_with(
        &self,
        opts: &CreateOptions,
        start: bool,
        extra: CreateExtra,
    ) -> Result<(String, Option<Error>)> {
        let spec_opts = extra.spec_options.as_ref().unwrap_or(opts);
        spec_opts.validate()?;
        let name = opts.name.as_deref().filter(|n| !n.is_empty()).map(check_name).transpose()?;
        let img = match &extra.rootfs {
            Some(_) => None,
            None => Some(self.resolve_image(&opts.image)?),
        };
        let image_cfg = match &img {
            Some(img) => self.image_runtime_config(&img.id)?,
            None => None,
        };
        let runtime_name =
            opts.runtime.clone().filter(|r| !r.is_empty()).unwrap_or(self.inner.config.default_runtime.clone());
        let rt = self.runtime(&runtime_name)?;
        let id = match &extra.id {
            Some(id) => id.clone(),
            None => new_id()?,
        };
        let name = match name {
            Some(n) => {
                self.inner.containers.reserve_name(&n, &id)?;
                n
            }
            None => self.generate_name(&id)?,
        };
        let undo =
            CreateUndo { engine: self, id: id.clone(), name: name.clone(), runtime: runtime_name.clone(), armed: true };
        let dir = self.inner.containers.dir_of(&id);
        sys::fs::ensure_dir(&dir, 0o700)?;
        let rootfs = match (&img, &extra.rootfs) {
            (Some(img), _) => {
                self.inner.snapshots.prepare(&id, img.chain_ids.last(), Some(&img.id.to_string()))?;
                let rootfs = dir.join("rootfs");
                sys::fs::ensure_dir(&rootfs, 0o755)?;
                self.inner.snapshots.mount(&id, &rootfs)?;
                crate::failpoint::hit("container.create.after-snapshot");
                rootfs
            }
            (None, Some(r)) => r.clone(),
            (None, None) => return Err(Error::internal("container without an image or a rootfs")),
        };
        // Until the record is in the store, keep volume rm/prune from deleting its volumes.
        let _volumes = self.volumes_shared();
        let volumes_root = self.volumes_root();
        let host = self.host_info();
        let resolver = Resolver(self);
        let input = SpecInput {
            id: &id,
            options: spec_opts,
            image: image_cfg.as_ref(),
            rootfs: &rootfs,
            container_dir: &dir,
            etc_files: extra.join.is_none(),
            volumes_root: &volumes_root,
            host,
            namespaces: &resolver,
        };
        let mut oci = spec::build_spec(&input)?;
        let image_exposed: Vec<String> = image_cfg.as_ref().and_then(|i| i.exposed_ports().clone()).unwrap_or_default();
        if let Some(ns) = self.container_network_create(&id, spec_opts, &image_exposed)? {
            crate::engine::network::set_netns_path(&mut oci, &ns);
        }
        if let Some(join) = &extra.join {
            join.apply(&mut oci);
        }
        let new_volumes = self.missing_volumes(opts, &id, image_cfg.as_ref())?;
        // A filter the runtime compiled for this profile before, or the key to keep this one.
        let seccomp_miss = rt.prepare_seccomp(&mut oci);
        spec::prepare_container(&input, &oci)?;
        if extra.join.is_none() {
            self.container_hosts(&id, opts, oci.hostname().as_deref().unwrap_or(""))?;
        }
        spec::write_bundle_config(&dir, &oci)?;
        crate::failpoint::hit("container.create.after-bundle");

        let image_volumes: Vec<String> = image_cfg.as_ref().and_then(|i| i.volumes().clone()).unwrap_or_default();
        let planned = mounts::user_mounts(opts, &id, &image_volumes, &volumes_root)?;
        let anonymous_volumes: Vec<String> = planned
            .iter()
            .filter_map(|m| m.volume.clone().filter(|v| *v == files::anonymous_volume_name(&id, &m.destination)))
            .collect();
        let mount_points = planned.iter().map(mount_point).collect();
        let process = oci.process().as_ref().ok_or_else(|| Error::internal("generated spec has no process"))?;
        let args: Vec<String> = process.args().clone().unwrap_or_default();
        let entrypoint = match &opts.entrypoint {
            Some(e) => e.clone(),
            None => image_cfg.as_ref().and_then(|i| i.entrypoint().clone()).unwrap_or_default(),
        };
        let cmd = args.iter().skip(entrypoint.len()).cloned().collect();
        let stop_signal = spec::stop_signal(opts, image_cfg.as_ref())?;
        let log_driver = if opts.log_config.driver.is_empty() {
            self.inner.config.container_log.driver.clone()
        } else {
            opts.log_config.driver.clone()
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: now(),
            image: img.as_ref().map(|i| i.id.to_string()).unwrap_or_default(),
            path: args.first().cloned().unwrap_or_default(),
            args: args.iter().skip(1).cloned().collect(),
            config: ContainerConfig {
                hostname: oci.hostname().clone().or_else(|| spec_opts.hostname.clone()).unwrap_or_default(),
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
            host_config: match &extra.pod {
                Some(pod) => CreateOptions { pod: Some(pod.clone()), ..opts.clone() },
                None => self.recorded_host_config(opts),
            },
            runtime: runtime_name,
            state: State::default(),
            restart_count: 0,
            rootfs,
            log_path: match log_driver.as_str() {
                "none" | "syslog" => PathBuf::new(),
                "cri" => PathBuf::from(opts.log_config.config.get("path").map(String::as_str).unwrap_or_default()),
                _ => dir.join(format!("{id}-json.log")),
            },
            mounts: mount_points,
            anonymous_volumes,
        };
        let mut rec = rec;
        let mut req = self.create_request(&rec)?;
        req.start = start;
        let mut start_error = None;
        // With `start`, the process starts inside this call: stamp its start before it, so that
        // it never comes after the exit time of a process that ends at once.
        let started_at = now();
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
                    rec.state.started_at = started_at;
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
        crate::failpoint::hit("container.create.after-runtime-create");
        // The spec step's files (hosts, config.json, ...) were written unflushed: one batch
        // makes them durable together with the record.
        let written = files::container_files(&dir);
        rec.save(&dir, &written.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
        crate::failpoint::hit("container.create.after-record");
        self.inner.containers.insert(Arc::new(Container::new(rec.clone(), dir)));
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
}
