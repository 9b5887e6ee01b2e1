//! End-to-end tests of the container lifecycle, tools, volumes and the shim, driven through
//! `isula_core::Engine` on real runtimes (one test binary; each module was a test binary of its
//! own before).

mod containers_common;

mod cri_features;
mod fake_runtime;
mod lifecycle;
mod parallel;
mod restore;
mod runtime_shim;
mod semantics;
mod tools_copy;
mod tools_health;
mod tools_io;
mod tools_stats;
mod volumes;
