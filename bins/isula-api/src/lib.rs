//! gRPC definitions shared by isulad and isula: the `isula.v1` services generated from
//! `proto/isula/v1/*.proto`, plus address parsing and a unix-socket client connector.
//!
//! Complex values (options, inspect objects, events) travel as JSON strings of the engine's
//! serde types, the same JSON the C ABI uses.

pub mod addr;
pub mod client;

/// Generated `isula.v1` messages, clients and servers.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("isula.v1");
}

/// Default daemon address.
pub const DEFAULT_HOST: &str = "unix:///run/isulad.sock";

/// API version reported by `Version`.
pub const API_VERSION: &str = "1.0";

/// gRPC metadata key of an error status carrying the engine's machine-readable reason
/// (`no_such_container`, `command_not_found`, …: `isula_types::reason::Reason`'s string form).
pub const REASON_KEY: &str = "isula-reason";
