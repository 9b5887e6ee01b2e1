//! Plain serde types of the container operations (inputs and outputs of the
//! [`Engine`](crate::Engine) container methods), in Docker's JSON shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::options::CreateOptions;
use super::store::{ContainerConfig, MountPoint};

/// Options of `rm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RemoveOptions {
    /// Kill a running container first.
    pub force: bool,
    /// Also remove the container's anonymous volumes.
    pub volumes: bool,
}

/// Options of `ps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// `key=value` filters: `id`, `name`, `label` (`k` or `k=v`), `status`, `ancestor`.
    pub filters: Vec<String>,
    /// Only the `n` most recently created (implies `all`); 0 = no limit.
    pub last: usize,
}

/// One line of `ps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Full id.
    pub id: String,
    /// Names, each with a leading `/`.
    pub names: Vec<String>,
    /// Image as the user named it.
    pub image: String,
    /// Image id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line (path and arguments joined by spaces).
    pub command: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// `created`, `running`, `exited`, …
    pub state: String,
    /// Human status: `Up 3 minutes`, `Exited (0) 2 minutes ago`, `Created`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// `State` of inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectState {
    /// Status name.
    pub status: String,
    /// Running (also true while paused, as Docker).
    pub running: bool,
    /// Paused.
    pub paused: bool,
    /// Waiting for a restart.
    pub restarting: bool,
    /// Killed by the OOM killer.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Removal failed.
    pub dead: bool,
    /// Host pid of the init (0 when not running).
    pub pid: i32,
    /// Last exit code.
    pub exit_code: i32,
    /// Last start error.
    pub error: String,
    /// Time of the last start (Go's zero time when never).
    pub started_at: crate::time::Timestamp,
    /// Time of the last exit (Go's zero time when never).
    pub finished_at: crate::time::Timestamp,
    /// Health (set by the health checker when the container has a health check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<serde_json::Value>,
}

/// `GraphDriver` of inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectGraphDriver {
    /// `overlay2`.
    pub name: String,
    /// `LowerDir`, `UpperDir`, `WorkDir`, `MergedDir`.
    pub data: BTreeMap<String, String>,
}

/// Docker-shaped `inspect` of a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// Full id.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: crate::time::Timestamp,
    /// Executable.
    pub path: String,
    /// Arguments.
    pub args: Vec<String>,
    /// State.
    pub state: InspectState,
    /// Image id.
    pub image: String,
    /// `/name`.
    pub name: String,
    /// Restarts by the restart policy.
    pub restart_count: u32,
    /// `overlay2`.
    pub driver: String,
    /// OCI runtime name.
    pub runtime: String,
    /// json-file log path.
    pub log_path: String,
    /// Effective configuration.
    pub config: ContainerConfig,
    /// The create options.
    pub host_config: CreateOptions,
    /// Mounts.
    pub mounts: Vec<MountPoint>,
    /// Overlay directories.
    pub graph_driver: InspectGraphDriver,
    /// Networks (addresses, gateways, MACs) and published ports.
    pub network_settings: crate::network::settings::NetworkSettings,
}

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitCondition {
    /// Until the container is not running (returns at once when it is not).
    #[default]
    NotRunning,
    /// Until the next exit.
    NextExit,
    /// Until it is removed.
    Removed,
}

/// Options of `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecOptions {
    /// The command (required).
    pub cmd: Vec<String>,
    /// Extra environment `KEY=VALUE` (over the container's).
    pub env: Vec<String>,
    /// User (`name`, `uid`, `uid:gid`); the container's by default.
    pub user: Option<String>,
    /// Working directory; the container's by default.
    pub working_dir: Option<String>,
    /// A pty.
    pub tty: bool,
    /// Do not attach: the process runs on its own (its output goes nowhere).
    pub detach: bool,
    /// Keep stdin open for the attach stream.
    pub attach_stdin: bool,
}

/// Output of an exec collected to the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code (128 + signal when killed).
    pub exit_code: i32,
    /// Everything written to stdout (or the pty).
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

/// Exit code for a start error, as Docker's `run` returns it: 127 when the command was not
/// found, 126 when it could not be invoked, `None` for other errors (Docker then uses 128 in
/// the container's state, 125 from the CLI). Driven by the error's [`Reason`](crate::Reason),
/// set where the runtime's message is classified; the CLI maps the same reason.
pub fn start_error_exit_code(e: &crate::Error) -> Option<i32> {
    e.start_exit_code()
}
