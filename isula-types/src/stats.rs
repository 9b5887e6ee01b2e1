//! Resource usage samples (`stats`): a container's cgroup counters as Docker's `stats`
//! numbers, plus the CPU and memory percentages the engine computes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One sample of a container's resource usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// When the sample was taken.
    pub read_at: SystemTime,
    /// CPU usage.
    pub cpu: CpuStats,
    /// Memory usage.
    pub memory: MemoryStats,
    /// Process count.
    pub pids: PidsStats,
    /// Block I/O per device.
    pub blkio: BlkioStats,
}

/// CPU usage counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// CPU time consumed by the cgroup, nanoseconds.
    pub total_usage_ns: u64,
    /// Per-CPU usage in nanoseconds (v1 only).
    pub per_cpu_ns: Option<Vec<u64>>,
    /// User-mode time in nanoseconds, when known.
    pub user_ns: Option<u64>,
    /// Kernel-mode time in nanoseconds, when known.
    pub kernel_ns: Option<u64>,
    /// Host CPU time since boot from `/proc/stat`, nanoseconds (Docker's `system_cpu_usage`).
    pub system_usage_ns: u64,
    /// Online CPUs of the host.
    pub online_cpus: u32,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CFS bandwidth throttling counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    /// Enforcement periods elapsed.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total time throttled, nanoseconds.
    pub throttled_time_ns: u64,
}

/// Memory usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Current usage in bytes (page cache included).
    pub usage: u64,
    /// Limit in bytes; `None` when unlimited.
    pub limit: Option<u64>,
    /// Highest usage recorded, when the kernel keeps it.
    pub max_usage: Option<u64>,
    /// Page cache (`cache` on v1, `file` on v2).
    pub cache: u64,
    /// Anonymous memory (`rss` on v1, `anon` on v2).
    pub rss: u64,
    /// Inactive page cache (what Docker subtracts from usage).
    pub inactive_file: u64,
    /// Times the limit was hit (v1 `failcnt`, v2 `max` event).
    pub failcnt: Option<u64>,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kills: u64,
    /// The raw `memory.stat` counters.
    pub stat: BTreeMap<String, u64>,
}

impl MemoryStats {
    /// Usage without the inactive page cache, as `docker stats` shows it.
    pub fn usage_no_cache(&self) -> u64 {
        self.usage.saturating_sub(self.inactive_file)
    }
}

/// Process count of the cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Processes (tasks) now in the cgroup.
    pub current: u64,
    /// `pids.max`; `None` when unlimited.
    pub limit: Option<u64>,
}

/// Block I/O counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// One entry per device.
    pub devices: Vec<BlkioEntry>,
}

/// Block I/O counters of one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations.
    pub read_ops: u64,
    /// Write operations.
    pub write_ops: u64,
}

impl BlkioStats {
    /// Bytes read over all devices.
    pub fn read_bytes(&self) -> u64 {
        self.devices.iter().map(|d| d.read_bytes).sum()
    }
    /// Bytes written over all devices.
    pub fn write_bytes(&self) -> u64 {
        self.devices.iter().map(|d| d.write_bytes).sum()
    }
}

/// One `stats` sample of a container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerStats {
    /// Container id.
    pub id: String,
    /// Container name (without `/`).
    pub name: String,
    /// The counters; `None` when the container is not running.
    pub stats: Option<Stats>,
    /// CPU counters of the previous sample (zero for the first sample of a stream).
    pub precpu: CpuStats,
    /// CPU use between the previous sample and this one, percent of one CPU (Docker's formula).
    pub cpu_percent: f64,
    /// Memory use without inactive page cache, percent of the limit (or of host memory).
    pub memory_percent: f64,
}
