//! cgroup v1 and v2: hierarchy detection, a container's cgroup directories,
//! resource statistics, live resource updates and the processes inside.
//!
//! The engine never creates container cgroups itself (the OCI runtime does, from
//! `linux.cgroupsPath`); it reads and tunes them afterwards.

mod hierarchy;
mod stats;
mod top;
mod update;

pub use hierarchy::{Cgroup, CgroupMode, Hierarchy};
pub use stats::{
    cpu_percent, system_cpu_usage, BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, Stats, Throttling,
};
pub use top::{filter_ps_output, top, TopResult};
pub use update::update_resources;

#[cfg(test)]
mod real_tests;
