//! The subject views of the [`Engine`]: `engine.containers()`, `engine.images()`,
//! `engine.networks()` and `engine.volumes()`, each a borrowed handle with one method per
//! operation (`engine.containers().create(&opts)`, `engine.images().pull(..)`, …).
//! Engine-wide operations (`open`, `config`, `events`, `login`) stay on [`Engine`].
//!
//! The views only name the operations; each one is implemented in its subject's file
//! (`containers/create.rs`, `images/archive.rs`, …).

use std::io::{Read, Write};
use std::time::Duration;

use super::*;
use crate::cgroups::TopResult;
use crate::container::archive::{CopyToOptions, PathStat};
use crate::container::health::HealthState;
use crate::container::options::UpdateOptions;
use crate::container::{
    ContainerInspect, ContainerRecord, ContainerSummary, CreateOptions, ExecOptions, ListOptions, RemoveOptions,
    WaitCondition,
};
use crate::digest::Digest;
use crate::logs::{LogLine, LogOptions};
use crate::runtime::AttachStream;
use crate::volume::{Volume, VolumeCreateOptions, VolumePruneReport};
use isula_types::pod::{PodConfig, PodInspect};

impl Engine {
    /// The containers of this engine (see [`Containers`]).
    pub fn containers(&self) -> Containers<'_> {
        Containers { engine: self }
    }

    /// The images of this engine (see [`Images`]).
    pub fn images(&self) -> Images<'_> {
        Images { engine: self }
    }

    /// The networks of this engine (see [`Networks`]).
    pub fn networks(&self) -> Networks<'_> {
        Networks { engine: self }
    }

    /// The volumes of this engine (see [`Volumes`]).
    pub fn volumes(&self) -> Volumes<'_> {
        Volumes { engine: self }
    }

    /// The pod sandboxes of this engine (see [`Pods`]).
    pub fn pods(&self) -> Pods<'_> {
        Pods { engine: self }
    }
}

/// Container operations, from [`Engine::containers`]: one method per operation
/// (`create`, `start`, `inspect`, `list`, …). A container is named by full id, unique id
/// prefix or name.
#[derive(Clone, Copy, Debug)]
pub struct Containers<'e> {
    engine: &'e Engine,
}

impl Containers<'_> {
    /// Create a container from `opts` and return its id (64 hex digits).
    ///
    /// Resolves the image (`NotFound` "No such image: x"), validates the options
    /// (`InvalidArgument`), reserves the name (`Conflict` when in use), prepares and mounts
    /// the root filesystem, writes the bundle (`config.json`, hosts, resolv.conf, hostname)
    /// and has the runtime create the container under a new shim (status `created`).
    /// On any failure everything done is undone: no record, mount, snapshot or process remains.
    pub fn create(&self, opts: &CreateOptions) -> Result<String> {
        self.engine.create(opts)
    }

    /// Create and start a container; returns its id. When the start fails the container is
    /// left in place (as Docker), with the error and exit code in its state (removed with
    /// AutoRemove). The runtime creates and starts it in one call, under the new shim.
    pub fn run(&self, opts: &CreateOptions) -> Result<String> {
        self.engine.run(opts)
    }

    /// Start a created or exited container. Starting a running container is a no-op success
    /// (as Docker and iSulad). A paused one is `FailedPrecondition` (unpause it instead).
    /// When the command cannot be run the error says so; see
    /// [`start_error_exit_code`](crate::container::types::start_error_exit_code) (127/126).
    ///
    /// A container with AutoRemove whose start fails is removed (as Docker).
    pub fn start(&self, id: &str) -> Result<()> {
        self.engine.start(id)
    }

    /// Stop a container: its stop signal, then SIGKILL after `timeout` seconds (default: the
    /// container's `StopTimeout`, else 10). Stopping a container that is not running is a
    /// no-op success. Restart policies leave a stopped container alone.
    pub fn stop(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        self.engine.stop(id, timeout)
    }

    /// Send `signal` (name like `TERM`/`SIGKILL` or number; empty = SIGKILL) to the
    /// container's init. `FailedPrecondition` when it is not running.
    ///
    /// As with Docker, a kill with SIGKILL or the container's stop signal counts as a manual
    /// stop: restart policies leave the container alone once it exits (until it is started again; see
    /// [`restart_on_open`](crate::container::restart::restart_on_open) for `Engine::open`),
    /// and a container waiting for a policy restart just stays exited.
    pub fn kill(&self, id: &str, signal: &str) -> Result<()> {
        self.engine.kill(id, signal)
    }

    /// Stop (as [`stop`](Engine::stop)) and start again.
    pub fn restart(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        self.engine.restart(id, timeout)
    }

    /// Freeze all processes of a running container (`FailedPrecondition` otherwise).
    pub fn pause(&self, id: &str) -> Result<()> {
        self.engine.pause(id)
    }

    /// Thaw a paused container (`FailedPrecondition` when it is not paused).
    pub fn unpause(&self, id: &str) -> Result<()> {
        self.engine.unpause(id)
    }

    /// Remove a container: a running (or paused, restarting) one only with `force`
    /// (it is killed), else `FailedPrecondition` "You cannot remove a running container …".
    /// Deletes the runtime state, unmounts and removes the root filesystem, the record and,
    /// with `volumes`, its anonymous volumes.
    pub fn remove(&self, id: &str, opts: &RemoveOptions) -> Result<()> {
        self.engine.remove(id, opts)
    }

    /// Block until `condition` holds and return the container's exit code. Works for
    /// containers started before the engine was reopened. `Removed` returns the last exit
    /// code once the container is gone.
    pub fn wait(&self, id: &str, condition: WaitCondition) -> Result<i32> {
        self.engine.wait(id, condition)
    }

    /// [`wait`](Engine::wait) that gives up after `timeout` (`None` waits forever):
    /// `Ok(None)` when the condition was not met in time.
    pub fn wait_timeout(&self, id: &str, condition: WaitCondition, timeout: Option<Duration>) -> Result<Option<i32>> {
        self.engine.wait_timeout(id, condition, timeout)
    }

    /// Block until the container's recorded finish time differs from `finished_at` (an exit
    /// recorded after the one the caller saw), the container is gone, or `timeout` passes;
    /// true unless the time ran out. For streams that must not report an exit before the
    /// record does (attach: an `rm` right after a foreground `run` must find it stopped).
    pub fn wait_finish_after(&self, id: &str, finished_at: crate::time::Timestamp, timeout: Duration) -> bool {
        self.engine.wait_finish_after(id, finished_at, timeout)
    }

    /// Rename a container (`Conflict` when the new name is in use, `InvalidArgument` when it
    /// is invalid or the same as the current one).
    pub fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        self.engine.rename(id, new_name)
    }

    /// List containers (`ps`): running ones, or all with `opts.all`; newest first.
    /// Filters `id=` (prefix), `name=` (substring), `label=k[=v]`, `status=`, `ancestor=`
    /// (image name or id); an unknown filter is `InvalidArgument`.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        self.engine.list(opts)
    }

    /// Docker-shaped details of a container.
    pub fn inspect(&self, id: &str) -> Result<ContainerInspect> {
        self.engine.inspect_container(id)
    }

    /// The full record of a container (for tools built on the engine: stats, top, export, cp,
    /// health checks). Read-only copy.
    pub fn record(&self, id: &str) -> Result<ContainerRecord> {
        self.engine.container_record(id)
    }

    /// Connect to the stdio of a running container's init: output produced from now on,
    /// stdin when the container was created with `OpenStdin`. `FailedPrecondition` when it
    /// is not running.
    pub fn attach(&self, id: &str) -> Result<AttachStream> {
        self.engine.attach(id)
    }

    /// Read the container's json-file log into `sink` (which returns false to stop). With
    /// `opts.follow`, keeps reading until the container stops (or `sink` says stop).
    pub fn logs(&self, id: &str, opts: &LogOptions, sink: &mut dyn FnMut(LogLine) -> bool) -> Result<()> {
        self.engine.logs(id, opts, &|| true, sink)
    }

    /// [`logs`](Self::logs) for a reader that may go away while nothing is written: with
    /// `opts.follow`, following also ends once `wanted` returns false (asked between looks at
    /// the log, a few times a second), not only at the next line.
    pub fn logs_while(
        &self,
        id: &str,
        opts: &LogOptions,
        wanted: &dyn Fn() -> bool,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        self.engine.logs(id, opts, wanted, sink)
    }

    /// Run `opts.cmd` in running container `id` under a new shim and return the started
    /// [`Exec`] (its id, an attach stream unless `detach`, `wait`/`collect`). The process gets
    /// the container's environment (overridden by `opts.env`), user and working directory
    /// unless given. `FailedPrecondition` when the container is not running; a command that
    /// does not exist is an error (see [`start_error_exit_code`](crate::container::types::start_error_exit_code)).
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<Exec> {
        self.engine.exec(id, opts)
    }

    /// Resource usage of container `id`, given to `sink`. With `stream`, a sample every
    /// [`STATS_INTERVAL`] until the container stops or `sink` returns false; without, one
    /// sample whose CPU percentage covers the last [`STATS_INTERVAL`] (as `docker stats --no-stream`).
    /// A container that is not running gives one sample without counters.
    pub fn stats(&self, id: &str, stream: bool, sink: &mut dyn FnMut(&ContainerStats) -> bool) -> Result<()> {
        self.engine.stats(id, stream, sink)
    }

    /// `docker top`: the container's processes as the host's `ps` shows them with `ps_args`
    /// (default `-ef`). `FailedPrecondition` when the container is not running.
    pub fn top(&self, id: &str, ps_args: &[String]) -> Result<TopResult> {
        self.engine.top(id, ps_args)
    }

    /// `docker update`: apply `opts` to container `id`. Limits are validated like create's,
    /// written to the running container's cgroup at once (the kernel may refuse, e.g. a memory
    /// limit below the current usage is `FailedPrecondition`), then persisted in the record and
    /// the bundle so they survive restarts. Nothing is persisted when the live update fails.
    pub fn update(&self, id: &str, opts: &UpdateOptions) -> Result<()> {
        self.engine.update(id, opts)
    }

    /// `docker export`: the container's whole root filesystem as a tar stream on `w`.
    pub fn export(&self, id: &str, w: &mut dyn Write) -> Result<()> {
        self.engine.export(id, w)
    }

    /// Stat `path` in the container (Docker's `HEAD /containers/{id}/archive`).
    pub fn stat_path(&self, id: &str, path: &str) -> Result<PathStat> {
        self.engine.stat_container_path(id, path)
    }

    /// `docker cp CONTAINER:path -`: `path` (resolved inside the container's root) as a tar
    /// stream on `w`; a final symlink is copied as the link unless `follow_link`. NotFound
    /// when the path does not exist.
    pub fn copy_from(&self, id: &str, path: &str, follow_link: bool, w: &mut dyn Write) -> Result<PathStat> {
        self.engine.copy_from_container(id, path, follow_link, w)
    }

    /// `docker cp - CONTAINER:dir`: extract the tar stream `r` into directory `dir` of the
    /// container (a volume or bind mount when `dir` is in one). Escaping entries are refused
    /// (InvalidArgument); a read-only mount, or a read-only root filesystem outside a
    /// writable mount, is `FailedPrecondition`.
    pub fn copy_to(&self, id: &str, dir: &str, r: &mut dyn Read, opts: &CopyToOptions) -> Result<()> {
        self.engine.copy_to_container(id, dir, r, opts)
    }

    /// The health of container `id` (`None` when it has no health check or never ran).
    pub fn health(&self, id: &str) -> Result<Option<HealthState>> {
        self.engine.container_health(id)
    }

    /// Reopen the log file of a container with the `cri` log driver (after the caller moved
    /// the old one away, as kubelet does when it rotates logs). `FailedPrecondition` when the
    /// container is not running or has another log driver.
    pub fn reopen_log(&self, id: &str) -> Result<()> {
        self.engine.reopen_log(id)
    }
}

/// Image operations, from [`Engine::images`]: pull, push, load, save, import, tag,
/// list, inspect and remove. An image is named by reference or id.
#[derive(Clone, Copy, Debug)]
pub struct Images<'e> {
    engine: &'e Engine,
}

impl Images<'_> {
    /// Pull `reference` (`busybox`, `host:port/repo:tag`, `repo@sha256:…`) from its
    /// registry: the platform's manifest, config and layers (in parallel, resuming
    /// partial downloads) go into the content store, then the image is registered under
    /// the reference (when it has a tag). Saved credentials (see [`Engine::login`]) are
    /// used. On failure nothing new stays in the store but partial downloads.
    pub fn pull(&self, reference: &str, opts: &PullOptions, progress: &mut dyn FnMut(PullEvent)) -> Result<PullResult> {
        self.engine.pull(reference, opts, progress)
    }

    /// Push the local image named `reference` to its registry: blobs the registry
    /// lacks are mounted from another repository of the same registry (when the image
    /// was pulled from one) or uploaded, then the manifest is put under the tag.
    pub fn push(&self, reference: &str, progress: &mut dyn FnMut(PushEvent)) -> Result<PushResult> {
        self.engine.push(reference, progress)
    }

    /// Load images from a docker-archive (`docker save`) or OCI image layout tar, plain or
    /// gzip/zstd/xz-compressed; the format is detected. `opts.tag` renames the image of a
    /// single-image archive. Every path, digest and diff id is checked before the stores are
    /// touched; on failure the failing image leaves nothing behind (images of a multi-image
    /// archive registered before it stay, as with `docker load`).
    pub fn load(&self, reader: &mut dyn Read, opts: &LoadOptions) -> Result<Vec<LoadedImage>> {
        self.engine.load(reader, opts)
    }

    /// Write the images named in `names` (names or ids) as one docker-archive that
    /// `docker load` and `skopeo` accept; layers are written uncompressed as `docker save` does.
    pub fn save(&self, names: &[&str], writer: &mut dyn Write) -> Result<()> {
        self.engine.save(names, writer)
    }

    /// Import a root filesystem tar (plain, gzip, xz or zstd) as a single-layer image
    /// (os linux, the host architecture, created now). Returns the image id.
    pub fn import(&self, reader: &mut dyn Read, opts: &ImportOptions) -> Result<Digest> {
        self.engine.import(reader, opts)
    }

    /// Give the image `source` (name or id) the additional name `target`; the name moves
    /// from any image that had it.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        self.engine.tag(source, target)
    }

    /// List images (`docker images`), newest first, filtered by `opts.filters`.
    pub fn list(&self, opts: &ListImagesOptions) -> Result<Vec<ImageSummary>> {
        self.engine.list_images(opts)
    }

    /// Docker-shaped details of one image (name or id).
    pub fn inspect(&self, name_or_id: &str) -> Result<ImageInspect> {
        self.engine.inspect_image(name_or_id)
    }

    /// Remove an image (`docker rmi`). By name: untag; the image is deleted when that was its
    /// last name. By id: delete, refused with `Conflict` when the image has several names or
    /// a container uses it, unless `opts.force`. Deleting frees the layers and blobs no other
    /// image uses.
    pub fn remove(&self, name_or_id: &str, opts: &RemoveImageOptions) -> Result<Vec<RemovedImage>> {
        self.engine.remove_image(name_or_id, opts)
    }
}

/// Network operations, from [`Engine::networks`]: create, list, inspect and remove.
#[derive(Clone, Copy, Debug)]
pub struct Networks<'e> {
    engine: &'e Engine,
}

impl Networks<'_> {
    /// Creates a bridge network (`network create`); see [`NetworkStore::create`].
    pub fn create(&self, opts: &NetworkCreateOptions) -> Result<Network> {
        self.engine.network_create(opts)
    }

    /// Lists managed networks and those of `cni-conf-dir` matching `filters` (`network ls`).
    /// The default network is always listed when enabled (its device appears on first use).
    pub fn list(&self, filters: &NetworkFilters) -> Result<Vec<Network>> {
        self.engine.network_list(filters)
    }

    /// One network by name or unique id prefix (`network inspect`); `NotFound` when unknown.
    pub fn inspect(&self, name: &str) -> Result<Network> {
        self.engine.network_inspect(name)
    }

    /// Removes a managed network named by name or unique id prefix (`network rm`);
    /// `FailedPrecondition` while containers use it. The default network cannot be removed.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.engine.network_remove(name)
    }
}

/// Volume operations, from [`Engine::volumes`]: create, list, inspect, remove and prune.
#[derive(Clone, Copy, Debug)]
pub struct Volumes<'e> {
    engine: &'e Engine,
}

impl Volumes<'_> {
    /// Create a volume (`docker volume create`). Without a name a random 64-hex name is
    /// chosen. Only the `local` driver without driver options is accepted (`InvalidArgument`
    /// otherwise, before anything is written). Creating an existing name returns the
    /// existing volume unchanged, as Docker does. Publishes a `volume` `create` event.
    pub fn create(&self, opts: &VolumeCreateOptions) -> Result<Volume> {
        self.engine.volume_create(opts)
    }

    /// Volumes (`docker volume ls`), sorted by name, filtered by `filters` (`name=`,
    /// `label=`, `label!=`, `driver=`, `dangling=`). Includes volumes made by `-v name:/dst`
    /// and anonymous volumes.
    pub fn list(&self, filters: &[String]) -> Result<Vec<Volume>> {
        self.engine.volume_list(filters)
    }

    /// One volume (`docker volume inspect`); `NotFound` for an unknown name.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        self.engine.volume_inspect(name)
    }

    /// Remove a volume (`docker volume rm`) with its content. `NotFound` for an unknown
    /// name (ignored with `force`); `Conflict` naming the containers while any container
    /// (running or not) uses it, with or without `force`. Publishes `destroy`.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        self.engine.volume_remove(name, force)
    }

    /// Remove every volume no container uses that matches `filters` (`label=`, `label!=`,
    /// `name=`, `driver=`), as `docker volume prune` (and iSulad): named and anonymous alike.
    /// Returns the removed names and the bytes of content they held.
    pub fn prune(&self, filters: &[String]) -> Result<VolumePruneReport> {
        self.engine.volume_prune(filters)
    }
}

/// Pod sandbox operations, from [`Engine::pods`]. A pod is named by full id or unique id
/// prefix. Its containers are made with [`Containers::create`] and
/// [`CreateOptions::pod`](crate::CreateOptions::pod).
#[derive(Clone, Copy, Debug)]
pub struct Pods<'e> {
    engine: &'e Engine,
}

impl Pods<'_> {
    /// Run a pod: its network namespace (CNI with the engine's `network-plugin cni`, else
    /// loopback only; the host's with `host_network`), its infra process holding the IPC, UTS
    /// (and shared PID) namespaces, its hostname, `/etc/hosts` and `resolv.conf`. Returns the
    /// pod id. On failure everything done is undone. `AlreadyExists` when a pod with the same
    /// name, namespace, uid and attempt exists.
    pub fn run(&self, config: &PodConfig) -> Result<String> {
        self.engine.pod_run(config)
    }

    /// Stop a pod: stop its containers and infra process and release its network (CNI DEL).
    /// Stopping a stopped pod is a no-op success.
    pub fn stop(&self, id: &str) -> Result<()> {
        self.engine.pod_stop(id)
    }

    /// Remove a pod: its containers (killed if running), its infra process, network namespace,
    /// files and cgroup parent made for it.
    pub fn remove(&self, id: &str) -> Result<()> {
        self.engine.pod_remove(id)
    }

    /// The config and state of a pod.
    pub fn inspect(&self, id: &str) -> Result<PodInspect> {
        self.engine.pod_inspect(id)
    }

    /// Every pod of the engine, oldest first.
    pub fn list(&self) -> Result<Vec<PodInspect>> {
        self.engine.pod_list()
    }

    /// A TCP connection to `127.0.0.1:port` inside the pod's network namespace (the host's for
    /// a host-network pod): what port-forward relays. `FailedPrecondition` when the pod is not
    /// ready, `Unavailable` when nothing accepts on the port.
    pub fn connect(&self, id: &str, port: u16) -> Result<std::net::TcpStream> {
        self.engine.pod_connect(id, port)
    }

    /// Resource usage of the pod as a whole (its cgroup parent).
    pub fn stats(&self, id: &str) -> Result<crate::Stats> {
        self.engine.pod_stats(id)
    }
}
