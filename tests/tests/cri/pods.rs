//! Pod sandboxes through the core API (`engine.pods()`): run, join, stop, remove, restore.
//! Each test has its own root, cgroup parent and (for CNI) network config, bridge and subnet.

mod cni;
mod common;
mod connect;
mod infra;
mod lifecycle;
