//! Resource usage of a cgroup (Docker's `stats` numbers) on v1 and v2.

use std::path::Path;
use std::time::SystemTime;

use std::collections::BTreeMap;

pub(crate) use isula_types::stats::{BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, Stats, Throttling};

use super::Cgroup;
use crate::error::{Error, Result};

/// The entry of device `major:minor` in `b`, added when missing.
fn blkio_entry(b: &mut BlkioStats, major: u64, minor: u64) -> &mut BlkioEntry {
    if let Some(i) = b.devices.iter().position(|d| d.major == major && d.minor == minor) {
        return &mut b.devices[i];
    }
    b.devices.push(BlkioEntry { major, minor, ..Default::default() });
    b.devices.last_mut().expect("just pushed")
}

/// Docker's CPU percentage between two samples of the same container:
/// container CPU time delta over host CPU time delta, times the online CPUs, times 100.
/// 0.0 when either delta is not positive.
pub(crate) fn cpu_percent(prev: &CpuStats, cur: &CpuStats) -> f64 {
    let cpu_delta = cur.total_usage_ns as f64 - prev.total_usage_ns as f64;
    let system_delta = cur.system_usage_ns as f64 - prev.system_usage_ns as f64;
    let cpus = match cur.online_cpus {
        0 => cur.per_cpu_ns.as_ref().map_or(1, |p| p.len().max(1)) as f64,
        n => n as f64,
    };
    if cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// Host CPU time since boot in nanoseconds and the number of online CPUs, from `/proc/stat`
/// (user+nice+system+idle+iowait+irq+softirq of the `cpu` line, as Docker sums it).
pub(super) fn system_cpu_usage() -> Result<(u64, u32)> {
    let text = std::fs::read_to_string("/proc/stat").map_err(|e| Error::io("/proc/stat", "read", e))?;
    parse_proc_stat(&text).ok_or_else(|| Error::internal("/proc/stat has no cpu line"))
}

pub(super) fn parse_proc_stat(text: &str) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0u32;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => {
                let ticks: u64 = f.take(7).filter_map(|v| v.parse::<u64>().ok()).sum();
                // USER_HZ is 100 on every Linux ABI.
                total = Some(ticks * (1_000_000_000 / 100));
            }
            Some(c) if c.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    total.map(|t| (t, cpus))
}

fn read(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p).map_err(|e| Error::io(&p, "read cgroup file", e))
}

fn read_opt(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> Result<u64> {
    let s = read(dir, file)?;
    s.trim().parse().map_err(|_| Error::internal(format!("{}: not a number: {:?}", dir.join(file).display(), s.trim())))
}

/// A number or `max` (→ None).
fn max_value(s: &str) -> Option<u64> {
    match s.trim() {
        "max" => None,
        v => v.parse().ok(),
    }
}

/// `key value` lines (`memory.stat`, `cpu.stat`, `memory.events`).
pub(super) fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// v1 `blkio.*_recursive`: `MAJ:MIN Op value` lines; calls `set(entry, op, value)`.
fn parse_v1_blkio(text: &str, out: &mut BlkioStats, bytes: bool) {
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let Some((maj, min)) = f[0].split_once(':') else { continue };
        let (Ok(maj), Ok(min), Ok(v)) = (maj.parse(), min.parse(), f[2].parse::<u64>()) else { continue };
        let e = blkio_entry(out, maj, min);
        match (f[1], bytes) {
            ("Read", true) => e.read_bytes = v,
            ("Write", true) => e.write_bytes = v,
            ("Read", false) => e.read_ops = v,
            ("Write", false) => e.write_ops = v,
            _ => {}
        }
    }
}

/// v2 `io.stat`: `MAJ:MIN rbytes=… wbytes=… rios=… wios=… …`.
pub(super) fn parse_io_stat(text: &str) -> BlkioStats {
    let mut out = BlkioStats::default();
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(maj), Ok(min)) = (maj.parse(), min.parse()) else { continue };
        let e = blkio_entry(&mut out, maj, min);
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let Ok(v) = v.parse::<u64>() else { continue };
            match k {
                "rbytes" => e.read_bytes = v,
                "wbytes" => e.write_bytes = v,
                "rios" => e.read_ops = v,
                "wios" => e.write_ops = v,
                _ => {}
            }
        }
    }
    out
}

impl Cgroup {
    /// Read one sample of the cgroup's usage. A missing cgroup is NotFound.
    pub(crate) fn stats(&self) -> Result<Stats> {
        if !self.exists() {
            return Err(Error::not_found(format!("cgroup {} does not exist (container not running?)", self.path)));
        }
        let (system_usage_ns, online_cpus) = system_cpu_usage()?;
        let mut s = if self.is_v2() { self.stats_v2()? } else { self.stats_v1()? };
        s.cpu.system_usage_ns = system_usage_ns;
        s.cpu.online_cpus = online_cpus;
        Ok(s)
    }

    fn stats_v1(&self) -> Result<Stats> {
        let mut cpu = CpuStats::default();
        if let Some(d) = self.v1_dir("cpuacct") {
            cpu.total_usage_ns = num(d, "cpuacct.usage")?;
            cpu.per_cpu_ns = read_opt(d, "cpuacct.usage_percpu")
                .map(|s| s.split_whitespace().filter_map(|v| v.parse().ok()).collect());
            cpu.user_ns = read_opt(d, "cpuacct.usage_user").and_then(|s| s.trim().parse().ok());
            cpu.kernel_ns = read_opt(d, "cpuacct.usage_sys").and_then(|s| s.trim().parse().ok());
        }
        if let Some(d) = self.v1_dir("cpu") {
            let st = flat_keyed(&read_opt(d, "cpu.stat").unwrap_or_default());
            cpu.throttling = Throttling {
                periods: st.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
                throttled_time_ns: st.get("throttled_time").copied().unwrap_or(0),
            };
        }
        let mut memory = MemoryStats::default();
        if let Some(d) = self.v1_dir("memory") {
            memory.usage = num(d, "memory.usage_in_bytes")?;
            // v1 reports "unlimited" as a huge page-rounded number.
            memory.limit = Some(num(d, "memory.limit_in_bytes")?).filter(|l| *l < (i64::MAX as u64 & !0xfff));
            memory.max_usage = read_opt(d, "memory.max_usage_in_bytes").and_then(|s| s.trim().parse().ok());
            memory.failcnt = read_opt(d, "memory.failcnt").and_then(|s| s.trim().parse().ok());
            memory.stat = flat_keyed(&read(d, "memory.stat")?);
            let get = |k: &str| memory.stat.get(k).copied();
            memory.cache = get("total_cache").or(get("cache")).unwrap_or(0);
            memory.rss = get("total_rss").or(get("rss")).unwrap_or(0);
            memory.inactive_file = get("total_inactive_file").or(get("inactive_file")).unwrap_or(0);
            memory.oom_kills = flat_keyed(&read_opt(d, "memory.oom_control").unwrap_or_default())
                .get("oom_kill")
                .copied()
                .unwrap_or(0);
        }
        let mut pids = PidsStats::default();
        if let Some(d) = self.v1_dir("pids") {
            pids.current = num(d, "pids.current")?;
            pids.limit = max_value(&read(d, "pids.max")?);
        }
        let mut blkio = BlkioStats::default();
        if let Some(d) = self.v1_dir("blkio") {
            // CFQ/BFQ files first (what Docker reads), else the throttle ones every kernel has.
            let pick = |names: [&str; 3]| names.iter().find_map(|n| read_opt(d, n).filter(|s| !s.trim().is_empty()));
            if let Some(t) = pick([
                "blkio.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
            ]) {
                parse_v1_blkio(&t, &mut blkio, true);
            }
            if let Some(t) = pick([
                "blkio.io_serviced_recursive",
                "blkio.bfq.io_serviced_recursive",
                "blkio.throttle.io_serviced_recursive",
            ]) {
                parse_v1_blkio(&t, &mut blkio, false);
            }
        }
        Ok(Stats { read_at: SystemTime::now(), cpu, memory, pids, blkio })
    }

    fn stats_v2(&self) -> Result<Stats> {
        let d = self.unified_dir().ok_or_else(|| Error::internal("v2 cgroup without a directory"))?;
        let mut cpu = CpuStats::default();
        if let Some(t) = read_opt(d, "cpu.stat") {
            let st = flat_keyed(&t);
            let us = |k: &str| st.get(k).map(|v| v * 1000);
            cpu.total_usage_ns = us("usage_usec").unwrap_or(0);
            cpu.user_ns = us("user_usec");
            cpu.kernel_ns = us("system_usec");
            cpu.throttling = Throttling {
                periods: st.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
                throttled_time_ns: us("throttled_usec").unwrap_or(0),
            };
        }
        let mut memory = MemoryStats::default();
        if let Some(cur) = read_opt(d, "memory.current") {
            memory.usage = cur.trim().parse().unwrap_or(0);
            memory.limit = read_opt(d, "memory.max").and_then(|s| max_value(&s));
            memory.max_usage = read_opt(d, "memory.peak").and_then(|s| s.trim().parse().ok());
            memory.stat = flat_keyed(&read_opt(d, "memory.stat").unwrap_or_default());
            memory.cache = memory.stat.get("file").copied().unwrap_or(0);
            memory.rss = memory.stat.get("anon").copied().unwrap_or(0);
            memory.inactive_file = memory.stat.get("inactive_file").copied().unwrap_or(0);
            let ev = flat_keyed(&read_opt(d, "memory.events").unwrap_or_default());
            memory.failcnt = ev.get("max").copied();
            memory.oom_kills = ev.get("oom_kill").copied().unwrap_or(0);
        }
        let mut pids = PidsStats::default();
        if let Some(cur) = read_opt(d, "pids.current") {
            pids.current = cur.trim().parse().unwrap_or(0);
            pids.limit = read_opt(d, "pids.max").and_then(|s| max_value(&s));
        }
        let blkio = read_opt(d, "io.stat").map(|t| parse_io_stat(&t)).unwrap_or_default();
        Ok(Stats { read_at: SystemTime::now(), cpu, memory, pids, blkio })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (n, c) in files {
            std::fs::write(dir.join(n), c).unwrap();
        }
    }

    #[test]
    fn v2_stats_from_fixture_files() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            &[
                ("cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\nthrottled_usec 70\n"),
                ("memory.current", "10485760\n"),
                ("memory.max", "max\n"),
                ("memory.peak", "20971520\n"),
                ("memory.stat", "anon 4096000\nfile 6000000\ninactive_file 1000000\nactive_file 5000000\n"),
                ("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"),
                ("pids.current", "3\n"),
                ("pids.max", "100\n"),
                ("io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=10 wbytes=0 rios=1 wios=0\n"),
            ],
        );
        let s = Cgroup::unified_at(t.path()).stats().unwrap();
        assert_eq!(s.cpu.total_usage_ns, 2_500_000);
        assert_eq!(s.cpu.user_ns, Some(2_000_000));
        assert_eq!(s.cpu.kernel_ns, Some(500_000));
        assert_eq!(s.cpu.throttling, Throttling { periods: 10, throttled_periods: 3, throttled_time_ns: 70_000 });
        assert!(s.cpu.system_usage_ns > 0 && s.cpu.online_cpus > 0);
        assert_eq!(s.memory.usage, 10 << 20);
        assert_eq!(s.memory.limit, None);
        assert_eq!(s.memory.max_usage, Some(20 << 20));
        assert_eq!((s.memory.rss, s.memory.cache), (4_096_000, 6_000_000));
        assert_eq!(s.memory.usage_no_cache(), (10 << 20) - 1_000_000);
        assert_eq!((s.memory.failcnt, s.memory.oom_kills), (Some(4), 1));
        assert_eq!(s.pids, PidsStats { current: 3, limit: Some(100) });
        assert_eq!(s.blkio.devices.len(), 2);
        assert_eq!(
            s.blkio.devices[0],
            BlkioEntry { major: 8, minor: 0, read_bytes: 4096, write_bytes: 8192, read_ops: 1, write_ops: 2 }
        );
        assert_eq!((s.blkio.read_bytes(), s.blkio.write_bytes()), (4106, 8192));
        // A limit and pids.max as numbers.
        write(t.path(), &[("memory.max", "67108864\n"), ("pids.max", "max\n")]);
        let s = Cgroup::unified_at(t.path()).stats().unwrap();
        assert_eq!((s.memory.limit, s.pids.limit), (Some(64 << 20), None));
        // A cgroup that is gone.
        let gone = Cgroup::unified_at(t.path().join("nope")).stats().unwrap_err();
        assert_eq!(gone.kind(), crate::ErrorKind::NotFound);
    }

    #[test]
    fn v1_blkio_and_memory_from_fixture_files() {
        let t = tempfile::tempdir().unwrap();
        let mut map = BTreeMap::new();
        for c in ["memory", "blkio", "pids"] {
            std::fs::create_dir(t.path().join(c)).unwrap();
            map.insert(c.to_string(), t.path().join(c));
        }
        write(
            &t.path().join("memory"),
            &[
                ("memory.usage_in_bytes", "8192\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.max_usage_in_bytes", "16384\n"),
                ("memory.failcnt", "2\n"),
                ("memory.stat", "cache 100\nrss 200\ntotal_cache 1000\ntotal_rss 2000\ntotal_inactive_file 500\n"),
                ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            ],
        );
        write(
            &t.path().join("blkio"),
            &[
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 512\n8:0 Write 1024\n8:0 Total 1536\nTotal 1536\n",
                ),
                ("blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n"),
                ("blkio.bfq.io_service_bytes_recursive", ""),
            ],
        );
        write(&t.path().join("pids"), &[("pids.current", "1\n"), ("pids.max", "max\n")]);
        let s = Cgroup::legacy_at(map).stats().unwrap();
        assert_eq!(s.memory.usage, 8192);
        assert_eq!(s.memory.limit, None, "v1 'unlimited' is None");
        assert_eq!((s.memory.cache, s.memory.rss, s.memory.inactive_file), (1000, 2000, 500));
        assert_eq!((s.memory.max_usage, s.memory.failcnt, s.memory.oom_kills), (Some(16384), Some(2), 3));
        assert_eq!(
            s.blkio.devices,
            vec![BlkioEntry { major: 8, minor: 0, read_bytes: 512, write_bytes: 1024, read_ops: 1, write_ops: 2 }]
        );
        assert_eq!(s.pids, PidsStats { current: 1, limit: None });
    }

    #[test]
    fn cpu_percent_like_docker() {
        let prev = CpuStats {
            total_usage_ns: 1_000_000_000,
            system_usage_ns: 100_000_000_000,
            online_cpus: 2,
            ..Default::default()
        };
        // Half a CPU second over one host second of 2 CPUs (2 s of host CPU time) → 50 %.
        let cur = CpuStats {
            total_usage_ns: 1_500_000_000,
            system_usage_ns: 102_000_000_000,
            online_cpus: 2,
            ..Default::default()
        };
        assert!((cpu_percent(&prev, &cur) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&cur, &prev), 0.0);
        assert_eq!(cpu_percent(&cur, &cur), 0.0);
    }

    #[test]
    fn proc_stat_parsing() {
        let (ns, cpus) = parse_proc_stat(
            "cpu  100 0 50 1000 10 0 5 7 0 0\ncpu0 50 0 25 500 5 0 2 3 0 0\ncpu1 50 0 25 500 5 0 3 4 0 0\nintr 1\n",
        )
        .unwrap();
        assert_eq!(ns, 1165 * 10_000_000);
        assert_eq!(cpus, 2);
        let (ns, cpus) = system_cpu_usage().unwrap();
        assert!(ns > 0 && cpus >= 1);
    }
}
