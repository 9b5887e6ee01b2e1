//! isula-core: a synchronous, embeddable container engine.
//!
//! Open an [`Engine`] on a root directory and call one blocking method per
//! operation. All behaviour of the daemon, the CLI and the C ABI lives here.
//!
//! Cargo features, all on by default: `registry` (the OCI distribution client, with
//! ureq and rustls; without it pull, push, login and logout return
//! [`ErrorKind::Unimplemented`]), `xz` and `zstd` (layers and archives in those
//! compressions; without them such a stream is refused as `Unimplemented`).

pub mod cgroups;
pub mod config;
pub mod container;
pub mod content;
pub mod digest;
pub mod engine;
pub mod error;
pub mod events;
pub mod host;
pub mod image;
pub mod layer;
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
pub use error::{Error, ErrorKind, Reason, Result};
pub use oci_spec;
pub use reference::Reference;
