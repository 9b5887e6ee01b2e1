//! Hugepage limits (`linux.resources.hugepageLimits`): page sizes named as cgroups name
//! them (`2MB`, `1GB`), checked against the sizes the host offers
//! (`/sys/kernel/mm/hugepages/hugepages-<n>kB`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::{Error, Result};

/// Where the kernel lists the hugepage sizes.
const SYSFS_HUGEPAGES: &str = "/sys/kernel/mm/hugepages";

/// The cgroup name of a page size of `kb` KiB: `2048` → `2MB`, `1048576` → `1GB`, `64` → `64KB`.
pub(crate) fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

/// The hugepage sizes of the host (cgroup names), smallest first; empty without hugepages.
pub(crate) fn host_page_sizes() -> Vec<String> {
    page_sizes_in(Path::new(SYSFS_HUGEPAGES))
}

fn page_sizes_in(dir: &Path) -> Vec<String> {
    let mut kbs: Vec<u64> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    kbs.sort_unstable();
    kbs.into_iter().map(page_size_name).collect()
}

/// Check that every page size of `limits` is one the host offers.
pub(crate) fn check_limits(limits: &BTreeMap<String, u64>) -> Result<()> {
    check_against(limits, &host_page_sizes())
}

fn check_against(limits: &BTreeMap<String, u64>, host: &[String]) -> Result<()> {
    for size in limits.keys() {
        if !host.iter().any(|h| h == size) {
            return Err(Error::invalid(if host.is_empty() {
                format!("invalid hugepage size {size:?}: this host has no hugepages")
            } else {
                format!("invalid hugepage size {size:?}: this host offers {}", host.join(", "))
            }));
        }
    }
    Ok(())
}

/// The OCI `hugepageLimits` array.
pub(crate) fn limits_json(limits: &BTreeMap<String, u64>) -> Value {
    Value::Array(limits.iter().map(|(size, limit)| json!({ "pageSize": size, "limit": limit })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sizes_and_checks() {
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1 << 20), "1GB");
        assert_eq!(page_size_name(64), "64KB");
        assert_eq!(page_size_name(32 << 10), "32MB");
        let d = tempfile::tempdir().unwrap();
        for n in ["hugepages-1048576kB", "hugepages-2048kB", "other"] {
            std::fs::create_dir(d.path().join(n)).unwrap();
        }
        let sizes = page_sizes_in(d.path());
        assert_eq!(sizes, vec!["2MB", "1GB"]);
        let mut l = BTreeMap::new();
        l.insert("2MB".to_string(), 4u64 << 20);
        assert!(check_against(&l, &sizes).is_ok());
        assert_eq!(limits_json(&l), json!([{ "pageSize": "2MB", "limit": 4u64 << 20 }]));
        l.insert("4MB".into(), 1);
        let e = check_against(&l, &sizes).unwrap_err();
        assert!(e.to_string().contains("2MB, 1GB"), "{e}");
        assert!(check_against(&l, &[]).unwrap_err().to_string().contains("no hugepages"));
    }
}
