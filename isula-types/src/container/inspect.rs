//! `inspect` of a container ([`ContainerInspect`]) and its parts, in Docker's JSON shape
//! (PascalCase keys). The engine builds it; the daemon sends it as JSON; the CLI and the C
//! ABI read it back into these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::options::{CreateOptions, HealthConfig};
use crate::network::NetworkSettings;
use crate::time::Timestamp;

/// Docker-shaped `inspect` of a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// Full id.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: Timestamp,
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
    pub network_settings: NetworkSettings,
}

/// Docker's `Config` of a container: the effective values after merging the image's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    /// Hostname.
    pub hostname: String,
    /// NIS domain name.
    pub domainname: String,
    /// User (as given or from the image).
    pub user: String,
    /// Environment of the init process.
    pub env: Vec<String>,
    /// Command (after the entrypoint).
    pub cmd: Vec<String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Image as the user named it.
    pub image: String,
    /// Working directory.
    pub working_dir: String,
    /// Labels (image's, overridden by the user's).
    pub labels: BTreeMap<String, String>,
    /// A pty.
    pub tty: bool,
    /// Stdin kept open.
    pub open_stdin: bool,
    /// Stop signal number.
    pub stop_signal: String,
    /// Seconds between the stop signal and SIGKILL.
    pub stop_timeout: i64,
    /// Health check, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
}

/// One mount as `inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name (volumes only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// Mount options.
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Bind propagation.
    pub propagation: String,
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
    pub started_at: Timestamp,
    /// Time of the last exit (Go's zero time when never).
    pub finished_at: Timestamp,
    /// Health (set by the health checker when the container has a health check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
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

/// Health of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No probe has succeeded yet.
    Starting,
    /// The last probe succeeded.
    Healthy,
    /// `retries` probes in a row failed.
    Unhealthy,
}

impl HealthStatus {
    /// `starting`, `healthy` or `unhealthy` (the event and inspect spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLogEntry {
    /// When the probe started.
    pub start: Timestamp,
    /// When it ended.
    pub end: Timestamp,
    /// Its exit code; -1 when it could not run or timed out.
    pub exit_code: i32,
    /// Its output (stdout and stderr), cut to the engine's limit (4 KiB).
    pub output: String,
}

/// The health of a container as `inspect` shows it (`State.Health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    /// Current status.
    pub status: HealthStatus,
    /// Consecutive failed probes.
    pub failing_streak: u32,
    /// The last results (the engine keeps five), oldest first.
    pub log: Vec<HealthLogEntry>,
}

impl Default for HealthState {
    fn default() -> Self {
        HealthState { status: HealthStatus::Starting, failing_streak: 0, log: Vec::new() }
    }
}
