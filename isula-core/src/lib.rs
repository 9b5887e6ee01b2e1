//! isula-core: a synchronous, embeddable container engine.
//!
//! Open an [`Engine`] on a root directory and call one blocking method per
//! operation. All behaviour of the daemon, the CLI and the C ABI lives here.

pub mod cgroups;
pub mod config;
pub mod container;
pub mod content;
pub mod digest;
pub mod engine;
pub mod error;
pub mod events;
pub mod image;
pub mod logs;
pub mod network;
pub mod reference;
pub mod registry;
pub mod runtime;
pub mod snapshot;
pub mod sys;
pub mod time;
pub mod volume;

pub use config::EngineConfig;
pub use digest::Digest;
pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
pub use oci_spec;
pub use reference::Reference;
