//! What the isula engine (isula-core) and `isulad-shim` share: the shim protocol
//! ([`proto`]: configuration, state and exit files, readiness messages, attach-socket
//! framing) and the log writers the shim writes and the engine reads: Docker's json-file
//! ([`jsonfile`]) and the CRI format ([`crifile`]), and the `syslog` driver's sender ([`syslog`]).
//!
//! It depends only on `std`, `serde` and `serde_json`, so the shim stays small: it
//! links this crate instead of all of isula-core.

pub mod crifile;
pub mod jsonfile;
pub mod proto;
pub mod syslog;
