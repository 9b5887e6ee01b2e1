//! cgroup v1 and v2: hierarchy detection, a container's cgroup directories,
//! resource statistics, live resource updates and the processes inside.
//!
//! The engine never creates container cgroups itself (the OCI runtime does, from
//! `linux.cgroupsPath`, directly or through systemd); it reads and tunes them afterwards.
//! The layout is detected once per process ([`crate::host::cgroup_hierarchy`]).

mod hierarchy;
mod stats;
pub(crate) mod systemd;
mod top;
mod update;

pub(crate) use hierarchy::{Cgroup, CgroupMode, Hierarchy};
pub(crate) use stats::cpu_percent;
pub(crate) use stats::CpuStats;
pub(crate) use top::top;
pub use top::TopResult;

#[cfg(test)]
mod real_tests;
