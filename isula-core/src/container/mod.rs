//! Containers: create options, their validation, and the OCI runtime spec built from them.
//!
//! The lifecycle types: the record and its store ([`store`]), the state machine
//! ([`state`]), restart policies ([`restart`]) and the operation types ([`types`]); the
//! operations themselves are methods of [`Engine`](crate::Engine).

pub mod archive;
pub mod caps;
pub mod health;
pub mod options;
pub mod parse;
pub mod restart;
pub mod spec;
pub mod state;
pub mod store;
pub mod types;
pub mod validate;

pub use options::CreateOptions;
pub use spec::HostInfo;
pub use state::{State, Status};
pub use store::{ContainerConfig, ContainerRecord, MountPoint};
pub use types::{
    command_error_exit_code, start_error_exit_code, ContainerInspect, ContainerSummary, ExecOptions, ExecOutput,
    InspectGraphDriver, InspectState, ListOptions, RemoveOptions, WaitCondition,
};
