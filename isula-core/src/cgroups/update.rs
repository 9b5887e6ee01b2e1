//! Live resource updates: writing OCI `linux.resources` limits into a cgroup's files (v1 and
//! v2), as `runc update` does. The caller converts its own options (Docker's `--cpus`, …) into
//! [`LinuxResources`] first; this module knows nothing of containers.

use std::io::Write;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::Cgroup;
use crate::error::{Error, Result};

/// CFS period kept when `cpu.max` cannot be read (v2).
const DEFAULT_PERIOD_US: u64 = 100_000;

/// The settings of a [`LinuxResources`] this module applies, with "unset" values folded to
/// `None`: a zero CPU shares, period, quota, memory, swap or blkio weight and an empty cpuset
/// leave the current setting alone (Docker's meaning of 0 in `update`).
#[derive(Debug, Default)]
struct Limits {
    cpu_shares: Option<u64>,
    cpu_quota: Option<i64>,
    cpu_period: Option<u64>,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
    memory: Option<i64>,
    memory_swap: Option<i64>,
    memory_reservation: Option<i64>,
    pids_limit: Option<i64>,
    blkio_weight: Option<u16>,
    /// (page size as cgroups name it, limit in bytes).
    hugepages: Vec<(String, u64)>,
}

impl Limits {
    fn of(r: &LinuxResources) -> Self {
        let cpu = r.cpu().as_ref();
        let mem = r.memory().as_ref();
        let nonempty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
        Limits {
            cpu_shares: cpu.and_then(|c| c.shares()).filter(|s| *s != 0),
            cpu_quota: cpu.and_then(|c| c.quota()).filter(|q| *q != 0),
            cpu_period: cpu.and_then(|c| c.period()).filter(|p| *p != 0),
            cpuset_cpus: nonempty(cpu.and_then(|c| c.cpus().as_ref())),
            cpuset_mems: nonempty(cpu.and_then(|c| c.mems().as_ref())),
            memory: mem.and_then(|m| m.limit()).filter(|m| *m != 0),
            memory_swap: mem.and_then(|m| m.swap()).filter(|s| *s != 0),
            memory_reservation: mem.and_then(|m| m.reservation()),
            pids_limit: r.pids().as_ref().map(|p| p.limit()),
            blkio_weight: r.block_io().as_ref().and_then(|b| b.weight()).filter(|w| *w != 0),
            hugepages: r
                .hugepage_limits()
                .iter()
                .flatten()
                .map(|h| (h.page_size().clone(), h.limit().max(0) as u64))
                .collect(),
        }
    }
}

/// Write `value` into the existing cgroup file `dir/file`; kernel errors are mapped to
/// clear errors naming the setting (EINVAL → InvalidArgument, EBUSY → FailedPrecondition).
fn write_file(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    let res =
        std::fs::OpenOptions::new().write(true).truncate(true).open(&p).and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ERANGE) => {
            Error::invalid(format!("invalid value {value:?} for {}: {e}", p.display())).with_source(e)
        }
        Some(libc::EBUSY) => Error::precondition(format!("cannot set {} to {value}: {e}", p.display())).with_source(e),
        Some(libc::ENOENT) => {
            Error::precondition(format!("cannot set {file}: {} does not exist", p.display())).with_source(e)
        }
        _ => Error::io(&p, &format!("write {value:?} to"), e),
    })
}

fn read_trim(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_string())
}

fn need<'a>(dir: Option<&'a Path>, controller: &str) -> Result<&'a Path> {
    dir.filter(|d| d.is_dir())
        .ok_or_else(|| Error::precondition(format!("the {controller} cgroup of the container does not exist")))
}

/// Check the values that the kernel would otherwise reject with a bare EINVAL.
fn check(r: &Limits) -> Result<()> {
    let bad = |what: &str, v: &dyn std::fmt::Display, why: &str| Error::invalid(format!("invalid {what} {v}: {why}"));
    if let Some(s) = r.cpu_shares {
        if !(2..=262_144).contains(&s) {
            return Err(bad("cpu shares", &s, "must be between 2 and 262144"));
        }
    }
    if let Some(p) = r.cpu_period {
        if !(1000..=1_000_000).contains(&p) {
            return Err(bad("cpu period", &p, "must be between 1000 and 1000000 microseconds"));
        }
    }
    if let Some(q) = r.cpu_quota {
        if q != -1 && q < 1000 {
            return Err(bad("cpu quota", &q, "must be -1 or at least 1000 microseconds"));
        }
    }
    if let Some(m) = r.memory {
        if m != -1 && m < 6 << 20 {
            return Err(bad("memory limit", &m, "minimum memory limit allowed is 6MB"));
        }
    }
    if let (Some(m), Some(s)) = (r.memory, r.memory_swap) {
        if m > 0 && s > 0 && s < m {
            return Err(bad("memory+swap limit", &s, "must be larger than or equal to the memory limit"));
        }
    }
    if let Some(w) = r.blkio_weight {
        if !(10..=1000).contains(&w) {
            return Err(bad("blkio weight", &w, "must be between 10 and 1000"));
        }
    }
    Ok(())
}

/// Apply the CPU (shares, quota, period, cpuset), memory (limit, swap, reservation), pids,
/// blkio weight and hugepage settings of `r` to the running cgroup `cg`, live; settings not
/// given stay.
/// A quota, memory limit or swap of -1, a pids limit <= 0 and a reservation <= 0 mean no limit;
/// a zero (or empty cpuset) means "leave as is". Other fields of `r` are ignored.
pub(crate) fn update_resources(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    let r = Limits::of(r);
    check(&r)?;
    if cg.is_v2() {
        update_v2(cg, &r)
    } else {
        update_v1(cg, &r)
    }
}

impl Cgroup {
    /// [`update_resources`] as a method.
    pub(crate) fn update(&self, r: &LinuxResources) -> Result<()> {
        update_resources(self, r)
    }
}

fn update_v1(cg: &Cgroup, r: &Limits) -> Result<()> {
    if let Some(s) = r.cpu_shares {
        write_file(need(cg.v1_dir("cpu"), "cpu")?, "cpu.shares", &s.to_string())?;
    }
    let (quota, period) = (r.cpu_quota, r.cpu_period);
    if let Some(p) = period {
        write_file(need(cg.v1_dir("cpu"), "cpu")?, "cpu.cfs_period_us", &p.to_string())?;
    }
    if let Some(q) = quota {
        write_file(need(cg.v1_dir("cpu"), "cpu")?, "cpu.cfs_quota_us", &q.to_string())?;
    }
    if let Some(c) = r.cpuset_cpus.as_deref() {
        write_file(need(cg.v1_dir("cpuset"), "cpuset")?, "cpuset.cpus", c)?;
    }
    if let Some(m) = r.cpuset_mems.as_deref() {
        write_file(need(cg.v1_dir("cpuset"), "cpuset")?, "cpuset.mems", m)?;
    }
    if r.memory.is_some() || r.memory_swap.is_some() || r.memory_reservation.is_some() {
        memory_v1(need(cg.v1_dir("memory"), "memory")?, r)?;
    }
    if let Some(p) = r.pids_limit {
        let v = if p <= 0 { "max".to_string() } else { p.to_string() };
        write_file(need(cg.v1_dir("pids"), "pids")?, "pids.max", &v)?;
    }
    if let Some(w) = r.blkio_weight {
        let d = need(cg.v1_dir("blkio"), "blkio")?;
        let file = ["blkio.weight", "blkio.bfq.weight"].into_iter().find(|f| d.join(f).exists()).ok_or_else(|| {
            Error::precondition("blkio weight is not supported by this kernel (no blkio.weight or blkio.bfq.weight)")
        })?;
        write_file(d, file, &w.to_string())?;
    }
    for (size, limit) in &r.hugepages {
        let d = need(cg.v1_dir("hugetlb"), "hugetlb")?;
        write_file(d, &format!("hugetlb.{size}.limit_in_bytes"), &limit.to_string())?;
    }
    Ok(())
}

fn memory_v1(d: &Path, r: &Limits) -> Result<()> {
    let has_memsw = d.join("memory.memsw.limit_in_bytes").exists();
    let cur_memsw: Option<i64> = read_trim(d, "memory.memsw.limit_in_bytes").and_then(|s| s.parse().ok());
    let (mem, swap) = (r.memory, r.memory_swap);
    if swap.is_some() && !has_memsw {
        return Err(Error::precondition("the kernel does not account swap (no memory.memsw.limit_in_bytes)"));
    }
    let set_mem = |m: i64| -> Result<()> {
        write_file(d, "memory.limit_in_bytes", &m.to_string()).map_err(|e| {
            if e.kind() == crate::ErrorKind::FailedPrecondition {
                let usage = read_trim(d, "memory.usage_in_bytes").unwrap_or_else(|| "?".into());
                Error::precondition(format!(
                    "cannot set the memory limit to {m} bytes: it is below the container's current usage ({usage} bytes)"
                ))
            } else {
                e
            }
        })
    };
    match (mem, swap) {
        (Some(m), None) => {
            if let Some(cur) = cur_memsw.filter(|c| m > 0 && *c > 0 && m > *c) {
                return Err(Error::invalid(format!(
                    "memory limit {m} is larger than the memory+swap limit already set ({cur}): \
                     update the memory+swap limit at the same time"
                )));
            }
            set_mem(m)?;
        }
        (Some(m), Some(s)) => {
            // memory.limit must stay <= memsw.limit at every step.
            let s_big = s == -1 || cur_memsw.is_some_and(|c| c != -1 && s > c) || cur_memsw.is_none();
            if s_big {
                write_file(d, "memory.memsw.limit_in_bytes", &s.to_string())?;
                set_mem(m)?;
            } else {
                set_mem(m)?;
                write_file(d, "memory.memsw.limit_in_bytes", &s.to_string())?;
            }
        }
        (None, Some(s)) => write_file(d, "memory.memsw.limit_in_bytes", &s.to_string())?,
        (None, None) => {}
    }
    if let Some(res) = r.memory_reservation {
        write_file(d, "memory.soft_limit_in_bytes", &if res <= 0 { -1 } else { res }.to_string())?;
    }
    Ok(())
}

fn update_v2(cg: &Cgroup, r: &Limits) -> Result<()> {
    let d = need(cg.unified_dir(), "unified")?;
    if let Some(s) = r.cpu_shares {
        // The conversion runc and crun use: shares 2..262144 → weight 1..10000.
        let weight = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
        write_file(d, "cpu.weight", &weight.to_string())?;
    }
    let (quota, period) = (r.cpu_quota, r.cpu_period);
    if quota.is_some() || period.is_some() {
        let cur = read_trim(d, "cpu.max").unwrap_or_else(|| format!("max {DEFAULT_PERIOD_US}"));
        let mut parts = cur.split_whitespace();
        let cur_quota = parts.next().unwrap_or("max").to_string();
        let cur_period = parts.next().unwrap_or("100000").to_string();
        let q = match quota {
            Some(q) if q < 0 => "max".to_string(),
            Some(q) => q.to_string(),
            None => cur_quota,
        };
        let p = period.map(|p| p.to_string()).unwrap_or(cur_period);
        write_file(d, "cpu.max", &format!("{q} {p}"))?;
    }
    if let Some(c) = r.cpuset_cpus.as_deref() {
        write_file(d, "cpuset.cpus", c)?;
    }
    if let Some(m) = r.cpuset_mems.as_deref() {
        write_file(d, "cpuset.mems", m)?;
    }
    let v2max = |v: i64| if v <= 0 { "max".to_string() } else { v.to_string() };
    if let Some(m) = r.memory {
        write_file(d, "memory.max", &v2max(m))?;
    }
    if let Some(s) = r.memory_swap {
        // v2 limits swap alone; Docker's value is memory+swap.
        let mem = r.memory.filter(|m| *m > 0).or_else(|| read_trim(d, "memory.max").and_then(|v| v.parse().ok()));
        let v = match (s, mem) {
            (-1, _) => "max".to_string(),
            (s, Some(m)) => (s - m).max(0).to_string(),
            (_, None) => return Err(Error::invalid("a memory+swap limit needs a memory limit")),
        };
        write_file(d, "memory.swap.max", &v)?;
    }
    if let Some(res) = r.memory_reservation {
        write_file(d, "memory.low", &if res <= 0 { "0".to_string() } else { res.to_string() })?;
    }
    if let Some(p) = r.pids_limit {
        write_file(d, "pids.max", &v2max(p))?;
    }
    if let Some(w) = r.blkio_weight {
        if d.join("io.bfq.weight").exists() {
            write_file(d, "io.bfq.weight", &w.to_string())?;
        } else if d.join("io.weight").exists() {
            let weight = 1 + ((w as u64 - 10) * 9999) / 990;
            write_file(d, "io.weight", &format!("default {weight}"))?;
        } else {
            return Err(Error::precondition("blkio weight is not supported by this kernel (no io.weight)"));
        }
    }
    for (size, limit) in &r.hugepages {
        write_file(d, &format!("hugetlb.{size}.max"), &limit.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `linux.resources` from its JSON form.
    fn lr(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn v2_update_writes_fixture_files() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for (f, c) in [
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.low", "0"),
            ("pids.max", "max"),
            ("cpuset.cpus", ""),
            ("io.weight", "default 100"),
        ] {
            std::fs::write(d.join(f), c).unwrap();
        }
        let cg = Cgroup::unified_at(d);
        let r = lr(json!({
            "cpu": { "shares": 1024, "quota": 150_000, "period": 100_000, "cpus": "0" },
            "memory": { "limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20 },
            "pids": { "limit": 20 },
            "blockIO": { "weight": 500 },
        }));
        cg.update(&r).unwrap();
        let rd = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(rd("cpu.weight"), "39");
        assert_eq!(rd("cpu.max"), "150000 100000");
        assert_eq!(rd("memory.max"), (64u64 << 20).to_string());
        assert_eq!(rd("memory.swap.max"), (32u64 << 20).to_string());
        assert_eq!(rd("memory.low"), (32u64 << 20).to_string());
        assert_eq!(rd("pids.max"), "20");
        assert_eq!(rd("cpuset.cpus"), "0");
        assert_eq!(rd("io.weight"), "default 4950");
        // Only the period: the quota is kept.
        cg.update(&lr(json!({ "cpu": { "period": 50_000 } }))).unwrap();
        assert_eq!(rd("cpu.max"), "150000 50000");
        cg.update(&lr(json!({ "pids": { "limit": 0 } }))).unwrap();
        assert_eq!(rd("pids.max"), "max");
        // Zeros and empty cpusets leave the settings alone; a quota of -1 lifts the limit.
        cg.update(&lr(json!({ "cpu": { "shares": 0, "quota": 0, "cpus": "" }, "memory": { "limit": 0 } }))).unwrap();
        assert_eq!((rd("cpu.weight"), rd("cpu.max")), ("39".into(), "150000 50000".into()));
        assert_eq!((rd("memory.max"), rd("cpuset.cpus")), ((64u64 << 20).to_string(), "0".into()));
        cg.update(&lr(json!({ "cpu": { "quota": -1 } }))).unwrap();
        assert_eq!(rd("cpu.max"), "max 50000");
    }

    #[test]
    fn bad_values_are_refused_before_writing() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("memory.max"), "max").unwrap();
        let cg = Cgroup::unified_at(t.path());
        for r in [
            lr(json!({ "memory": { "limit": 1024 } })),
            lr(json!({ "cpu": { "shares": 1 } })),
            lr(json!({ "cpu": { "quota": 10 } })),
            lr(json!({ "cpu": { "period": 500 } })),
            lr(json!({ "blockIO": { "weight": 5 } })),
            lr(json!({ "memory": { "limit": 64 << 20, "swap": 32 << 20 } })),
        ] {
            assert_eq!(cg.update(&r).unwrap_err().kind(), crate::ErrorKind::InvalidArgument, "{r:?}");
        }
        assert_eq!(std::fs::read_to_string(t.path().join("memory.max")).unwrap(), "max");
        // A controller file that is not there.
        let e = cg.update(&lr(json!({ "pids": { "limit": 5 } }))).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::FailedPrecondition, "{e}");
    }
}
