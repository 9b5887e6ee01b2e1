//! End-to-end tests of networks: attach, port publishing, bad input, containers on networks
//! (one test binary; each module was a test binary of its own before).

#[path = "../containers/containers_common.rs"]
mod containers_common;
mod network_common;

mod attach;
mod bad;
mod containers;
mod perf;
mod ports;
