//! What the isula engine (isula-core) and `isulad-shim` share: the shim protocol
//! ([`proto`]: configuration, state and exit files, readiness messages, attach-socket
//! framing) and the Docker json-file log writer the shim writes and the engine reads
//! ([`jsonfile`]).
//!
//! It depends only on `std`, `serde` and `serde_json`, so the shim stays small: it
//! links this crate instead of all of isula-core.

pub mod jsonfile;
pub mod proto;
