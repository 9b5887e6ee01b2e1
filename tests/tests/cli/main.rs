//! End-to-end tests of the `isula` CLI against a real `isulad` (one test binary; each module
//! was a test binary of its own before). Build first: `cargo build -p isulad -p isula -p isulad-shim`.

mod cli_support;
#[path = "../network/network_common.rs"]
mod network_common;

mod authority;
mod containers;
mod cp;
mod images;
mod network;
mod registry;
mod run_flags;
mod tls;
mod volumes;
