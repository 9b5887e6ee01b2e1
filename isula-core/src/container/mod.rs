//! Containers: create options, their validation, and the OCI runtime spec built from them.
//!
//! The lifecycle types: the record and its store ([`store`]), the state machine
//! ([`state`]), restart policies ([`restart`]) and the operation types ([`types`]); the
//! operations themselves are methods of [`Engine`](crate::Engine).

pub(crate) mod archive;
pub(crate) mod caps;
pub(crate) mod health;
pub(crate) mod options;
pub(crate) mod parse;
pub(crate) mod restart;
pub(crate) mod spec;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod types;
pub(crate) mod validate;

pub use options::CreateOptions;
pub(crate) use spec::HostInfo;
pub use state::{State, Status};
pub use store::{ContainerConfig, ContainerRecord, MountPoint};
pub use types::{
    start_error_exit_code, ContainerInspect, ContainerSummary, ExecOptions, ExecOutput, InspectGraphDriver,
    InspectState, ListOptions, Port, RemoveOptions, WaitCondition,
};
