//! The process side of containers: the [`Runtime`] trait, the OCI CLI driver
//! [`oci::OciRuntime`], and the `isulad-shim` protocol ([`shim`]).
//!
//! How the lifecycle code uses it (one shim per container and per exec):
//!
//! ```text
//! setup  : shim = locate_shim(config.shim_path.as_deref())?      (beside the exe, else PATH)
//!          rt = OciRuntime::new(name, &rc.path, rc.runtime_args, &state/"runtime"/name, &shim)?
//! create : rt.create(&CreateRequest{id, bundle, state_dir, log, terminal, open_stdin, attach:false})
//!            -> Spawned{handle: ShimHandle{shim_pid, pid, ..}, attach: None}   (status "created")
//! start  : rt.start(id)                     run = create + start
//! attach : handle.attach() -> AttachStream   (any time while the process lives)
//! wait   : handle.wait_exit(timeout) -> Option<ExitStatus>  (pidfd on the shim)
//! stop   : rt.kill(id, SIGTERM, false); wait_exit(grace); rt.kill(id, SIGKILL, true)
//! exec   : rt.exec(&ExecRequest{.., attach:true}) -> Spawned{handle, attach: Some(stream)}
//! rm     : rt.delete(id, force)  then remove the state dir
//! restore: ShimHandle::load(state_dir); handle.is_alive() / read_exit()
//!          (shim dead and no exit.json = shim was killed: ask rt.state(id), then kill/delete)
//! logs   : logs::follow_logs(log_path, &opts, &|| read_exit(state_dir) is None, sink)
//! ```

pub(crate) mod attach;
#[cfg(any(test, feature = "test-util"))]
pub(crate) mod fake;
pub(crate) mod oci;
/// The engine ↔ `isulad-shim` protocol types, from the `isula-shim-proto` crate both link.
pub(crate) use isula_shim_proto::proto;
pub(crate) mod seccomp_cache;
pub mod shim;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use seccomp_cache::ProfileKey;

pub use attach::{AttachEvent, AttachStream};
pub use oci::OciRuntime;
pub use proto::{ExitStatus, LogFormat, ShimLogConfig};
pub(crate) use shim::{find_in_path, is_shim_alive, locate_shim, read_exit, ShimHandle};

/// Status of a container as the OCI runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeStatus {
    /// Being created.
    Creating,
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Exited.
    Stopped,
    /// A status this code does not know.
    Unknown(String),
}

impl RuntimeStatus {
    /// Parse the runtime's `status` string.
    pub fn parse(s: &str) -> RuntimeStatus {
        match s {
            "creating" => RuntimeStatus::Creating,
            "created" => RuntimeStatus::Created,
            "running" => RuntimeStatus::Running,
            "paused" => RuntimeStatus::Paused,
            "stopped" => RuntimeStatus::Stopped,
            other => RuntimeStatus::Unknown(other.to_string()),
        }
    }
}

/// `runtime state ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeState {
    /// Container status.
    pub status: RuntimeStatus,
    /// Pid of the container init (0 when stopped).
    pub pid: i32,
    /// Bundle directory.
    pub bundle: PathBuf,
}

/// Create the container's init process through a new shim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// Container id.
    pub id: String,
    /// OCI bundle (holds `config.json`).
    pub bundle: PathBuf,
    /// The shim's state dir (absolute; created if missing).
    pub state_dir: PathBuf,
    /// json-file log settings; `None` = log driver `none`.
    pub log: Option<ShimLogConfig>,
    /// Use a pty (must match `process.terminal` of the spec).
    pub terminal: bool,
    /// Keep stdin open for attach clients.
    pub open_stdin: bool,
    /// Return an attach stream connected before the process is created.
    pub attach: bool,
    /// Start the process too (one `runtime run --detach`): the container is running when
    /// `create` returns, and no `start` follows.
    pub start: bool,
}

/// Run an extra process in a running container through a new shim.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// Container id.
    pub id: String,
    /// The OCI process to run (`process.terminal` must match `terminal`).
    pub process: oci_spec::runtime::Process,
    /// The exec shim's state dir (absolute; created if missing).
    pub state_dir: PathBuf,
    /// Optional json-file log of the exec's output.
    pub log: Option<ShimLogConfig>,
    /// Use a pty.
    pub terminal: bool,
    /// Keep stdin open for attach clients.
    pub open_stdin: bool,
    /// Return an attach stream connected before the process starts (sees all output).
    pub attach: bool,
}

/// A process started through a shim.
#[derive(Debug)]
pub struct Spawned {
    /// The shim and process pids, and the state dir.
    pub handle: ShimHandle,
    /// The attach stream when the request asked for one.
    pub attach: Option<AttachStream>,
}

/// An OCI runtime as the engine uses it. Implementations are `Send + Sync` and
/// stateless between calls (all state is in the runtime root and shim state dirs).
pub trait Runtime: Send + Sync {
    /// Configured name (e.g. `runc`).
    fn name(&self) -> &str;
    /// Create the container (status `created`) under a new shim.
    fn create(&self, req: &CreateRequest) -> Result<Spawned>;
    /// Start a created container.
    fn start(&self, id: &str) -> Result<()>;
    /// Send `signal` to the init (or, with `all`, to every process of the container).
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Delete the runtime's record (and cgroup); `force` kills a running container first.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// The runtime's view of the container.
    fn state(&self, id: &str) -> Result<RuntimeState>;
    /// Freeze all processes.
    fn pause(&self, id: &str) -> Result<()>;
    /// Thaw all processes.
    fn resume(&self, id: &str) -> Result<()>;
    /// Run an extra process under a new shim (already running on return).
    fn exec(&self, req: &ExecRequest) -> Result<Spawned>;
    /// Update resources: `resources` is an OCI `linux.resources` JSON object.
    fn update(&self, id: &str, resources: &serde_json::Value) -> Result<()>;
    /// Pids (host namespace) of the container's processes.
    fn pids(&self, id: &str) -> Result<Vec<i32>>;
    /// Resize the pty of the process supervised from `state_dir`.
    fn resize(&self, state_dir: &Path, rows: u16, cols: u16) -> Result<()> {
        ShimHandle::load(state_dir)?.resize(rows, cols)
    }
    /// Before a create: let the runtime reuse what it compiled earlier for `spec`'s seccomp
    /// profile. On a miss, the key to pass to [`remember_seccomp`](Self::remember_seccomp)
    /// after the create. The default caches nothing.
    fn prepare_seccomp(&self, _spec: &mut oci_spec::runtime::Spec) -> Option<ProfileKey> {
        None
    }
    /// After a create: keep what the runtime compiled for container `id`, if anything.
    fn remember_seccomp(&self, _key: &ProfileKey, _id: &str) {}
}
