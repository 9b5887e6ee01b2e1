//! Linux capabilities: names, Docker's default set, and `--cap-add`/`--cap-drop` arithmetic.

use crate::{Error, Result};

/// Every capability known to Linux, in bit order (`CAP_CHOWN` = 0 … `CAP_CHECKPOINT_RESTORE` = 40).
pub(crate) const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's 14 default capabilities.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Normalises a user-given capability name (`net_admin`, `CAP_NET_ADMIN`) to `CAP_NET_ADMIN`;
/// `ALL` stays `ALL`. Unknown names are an InvalidArgument error.
pub(crate) fn normalize_cap(name: &str) -> Result<String> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::invalid(format!("unknown capability {name:?}")))
    }
}

/// The bit number of a normalised capability name.
pub(crate) fn cap_index(cap: &str) -> Option<usize> {
    ALL_CAPS.iter().position(|c| *c == cap)
}

/// The capabilities the engine can grant: those the kernel knows (`/proc/sys/kernel/cap_last_cap`)
/// and that are in the engine's own bounding set (`CapBnd` of `/proc/self/status`), since a
/// process can never give a child a capability outside its bounding set.
pub(crate) fn host_caps() -> Vec<String> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(ALL_CAPS.len() - 1);
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("CapBnd:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .enumerate()
        .take(last + 1)
        .filter(|(i, _)| bounding & (1u64 << i) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// Computes the capability set: privileged → `all`; otherwise defaults, then
/// Docker's rules: `--cap-drop ALL` empties the base, `--cap-add ALL` fills it,
/// individual adds win over individual drops only when the drop is `ALL`.
pub(crate) fn compute_caps(privileged: bool, add: &[String], drop: &[String], all: &[String]) -> Result<Vec<String>> {
    if privileged {
        return Ok(all.to_vec());
    }
    let add: Vec<String> = add.iter().map(|c| normalize_cap(c)).collect::<Result<_>>()?;
    let drop: Vec<String> = drop.iter().map(|c| normalize_cap(c)).collect::<Result<_>>()?;
    let has_all = |v: &[String]| v.iter().any(|c| c == "ALL");
    let mut caps: Vec<String> = if has_all(&add) {
        all.to_vec()
    } else if has_all(&drop) {
        Vec::new()
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    if !has_all(&add) {
        caps.retain(|c| !drop.contains(c));
        for c in add.iter() {
            if !caps.contains(c) {
                caps.push(c.clone());
            }
        }
    } else if !has_all(&drop) {
        caps.retain(|c| !drop.contains(c));
    }
    if let Some(c) = caps.iter().find(|c| !all.contains(c)) {
        return Err(Error::invalid(format!("capability {c} is not available to the engine (not in its bounding set)")));
    }
    caps.sort_by_key(|c| cap_index(c));
    Ok(caps)
}

/// The 64-bit mask of a capability set (as in `/proc/<pid>/status` CapEff).
#[cfg(test)]
pub(crate) fn cap_mask(caps: &[String]) -> u64 {
    caps.iter().filter_map(|c| cap_index(c)).fold(0u64, |m, i| m | (1u64 << i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names() {
        assert_eq!(normalize_cap("net_admin").unwrap(), "CAP_NET_ADMIN");
        assert_eq!(normalize_cap("CAP_SYS_ADMIN").unwrap(), "CAP_SYS_ADMIN");
        assert_eq!(normalize_cap("all").unwrap(), "ALL");
        assert!(normalize_cap("FLY").unwrap_err().to_string().contains("FLY"));
        assert_eq!(ALL_CAPS.len(), 41);
        assert_eq!(cap_index("CAP_SETFCAP"), Some(31));
    }

    #[test]
    fn math() {
        let all: Vec<String> = ALL_CAPS.iter().map(|c| c.to_string()).collect();
        let d = compute_caps(false, &[], &[], &all).unwrap();
        assert_eq!(d.len(), 14);
        assert_eq!(cap_mask(&d), 0xa80425fb, "Docker's well-known default CapEff");
        assert!(compute_caps(false, &[], &s(&["ALL"]), &all).unwrap().is_empty());
        assert_eq!(compute_caps(false, &s(&["NET_ADMIN"]), &s(&["ALL"]), &all).unwrap(), s(&["CAP_NET_ADMIN"]));
        let c = compute_caps(false, &s(&["sys_admin"]), &s(&["CHOWN", "kill"]), &all).unwrap();
        assert_eq!(c.len(), 13);
        assert!(c.contains(&"CAP_SYS_ADMIN".to_string()) && !c.contains(&"CAP_CHOWN".to_string()));
        let c = compute_caps(false, &s(&["ALL"]), &s(&["MKNOD"]), &all).unwrap();
        assert_eq!(c.len(), all.len() - 1);
        assert_eq!(compute_caps(true, &[], &s(&["ALL"]), &all).unwrap().len(), all.len());
        assert!(compute_caps(false, &s(&["BOGUS"]), &[], &all).is_err());
        let limited: Vec<String> = all.iter().filter(|c| *c != "CAP_SYS_RESOURCE").cloned().collect();
        let e = compute_caps(false, &s(&["SYS_RESOURCE"]), &[], &limited).unwrap_err();
        assert!(e.to_string().contains("CAP_SYS_RESOURCE"), "{e}");
        assert_eq!(compute_caps(false, &s(&["ALL"]), &[], &limited).unwrap().len(), all.len() - 1);
    }
}
