//! Plain serde types of the container operations (inputs and outputs of the
//! [`Engine`](crate::Engine) container methods), in Docker's JSON shapes.

use serde::{Deserialize, Serialize};

use super::options::CreateOptions;
use super::store::{ContainerConfig, MountPoint};

pub use isula_types::container::types::{
    ContainerSummary, ExecOptions, ExecOutput, InspectGraphDriver, InspectState, ListOptions, Port, RemoveOptions,
    WaitCondition,
};

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

/// Exit code for a start error, as Docker's `run` returns it: 127 when the command was not
/// found, 126 when it could not be invoked, `None` for other errors (Docker then uses 128 in
/// the container's state, 125 from the CLI). Driven by the error's [`Reason`](crate::Reason),
/// set where the runtime's message is classified; the CLI maps the same reason.
pub fn start_error_exit_code(e: &crate::Error) -> Option<i32> {
    e.start_exit_code()
}
