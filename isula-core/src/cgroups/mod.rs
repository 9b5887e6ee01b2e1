//! cgroup v1 and v2: hierarchy detection, a container's cgroup directories,
//! resource statistics, live resource updates and the processes inside.
//!
//! The engine never creates container cgroups itself (the OCI runtime does, from
//! `linux.cgroupsPath`); it reads and tunes them afterwards.

mod hierarchy;
mod stats;
mod top;
mod update;

pub use hierarchy::{Cgroup, Hierarchy};
pub use stats::{cpu_percent, CpuStats, Stats};
pub use top::{top, TopResult};

#[cfg(test)]
mod real_tests;
