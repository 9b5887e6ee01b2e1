//! Host probes, one implementation each: memory (`/proc/meminfo`), the cgroup layout (from
//! `/proc/self/mountinfo`, read once), kernel and OS facts. The engine's `info`, `stats` and
//! the spec builder all ask here.

use std::path::Path;
use std::sync::OnceLock;

use crate::cgroups::{CgroupMode, Hierarchy};
use crate::error::{Error, Result};

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Total memory of the host in bytes (0 when `/proc/meminfo` cannot be read).
pub fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(parse_mem_total).unwrap_or(0)
}

/// The host's cgroup hierarchies, detected once per process.
pub(crate) fn cgroup_hierarchy() -> Result<&'static Hierarchy> {
    static H: OnceLock<std::result::Result<Hierarchy, String>> = OnceLock::new();
    H.get_or_init(|| Hierarchy::detect().map_err(|e| e.to_string())).as_ref().map_err(|e| Error::unavailable(e.clone()))
}

/// Whether the host runs cgroup v2 only (the unified hierarchy).
pub fn cgroup_v2() -> bool {
    cgroup_hierarchy().is_ok_and(|h| h.mode() == CgroupMode::Unified)
}

/// `"2"` on a unified cgroup host, else `"1"` (Docker's `CgroupVersion`).
pub fn cgroup_version() -> &'static str {
    if cgroup_v2() {
        "2"
    } else {
        "1"
    }
}

/// Whether the memory controller accounts swap (always on v2; `memory.memsw.*` on v1).
pub fn swap_accounting() -> bool {
    match cgroup_hierarchy() {
        Ok(h) if h.mode() == CgroupMode::Unified => true,
        Ok(h) => h.v1_mount("memory").is_some_and(|m| m.join("memory.memsw.limit_in_bytes").exists()),
        Err(_) => false,
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The kernel release (`uname -r`).
pub fn kernel_release() -> String {
    read_trim("/proc/sys/kernel/osrelease")
}

/// The host name.
pub fn hostname() -> String {
    read_trim("/proc/sys/kernel/hostname")
}

/// `PRETTY_NAME` of an os-release text, or `"Linux"`.
pub fn parse_os_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// The host's operating system (`PRETTY_NAME` of `/etc/os-release`).
pub fn os_name() -> String {
    parse_os_name(&std::fs::read_to_string(Path::new("/etc/os-release")).unwrap_or_default())
}

/// CPUs available to this process.
pub fn cpus() -> u64 {
    std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meminfo_and_os_release() {
        assert_eq!(parse_mem_total("MemTotal:       16318412 kB\nMemFree: 1 kB\n"), Some(16318412 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
        assert!(mem_total() > 0);
        assert_eq!(parse_os_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 13\"\n"), "Debian GNU/Linux 13");
        assert_eq!(parse_os_name(""), "Linux");
    }

    #[test]
    fn cgroup_version_agrees_with_the_hierarchy() {
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        assert_eq!(cgroup_v2(), v2);
        assert_eq!(cgroup_version(), if v2 { "2" } else { "1" });
        if v2 {
            assert!(swap_accounting());
        }
    }
}
