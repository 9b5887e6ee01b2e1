//! Containers: create options, their validation, and the OCI runtime spec built from them.
//!
//! The lifecycle (record, state machine, store) is assembled on top of these types.

pub mod archive;
pub mod caps;
pub mod health;
pub mod options;
pub mod parse;
pub mod spec;
pub mod validate;

pub use options::CreateOptions;
pub use spec::{build_spec, prepare_container, write_bundle_config, HostInfo, NamespaceResolver, SpecInput};
