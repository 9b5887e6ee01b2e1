//! [`Validate`]: reject bad [`CreateOptions`] before anything is created.

use std::path::Path;

use crate::container::caps::normalize_cap;
use crate::container::options::{CreateOptions, MountKind};
use crate::container::parse::{
    self, check_restart_policy, check_ulimit, parse_bind, parse_namespace_mode, parse_security_opt, BindSource,
    ModeKind, NamespaceMode, SecurityOpt,
};
use crate::{Error, Result};

/// Docker's minimum memory limit (6 MiB).
pub(crate) const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn bad(option: &str, value: impl std::fmt::Display, why: &str) -> Error {
    Error::invalid(format!("invalid {option} {value}: {why}"))
}

/// IPC sysctls that are namespaced (besides `fs.mqueue.*`).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Checks that a sysctl is namespaced and that the namespace it lives in is private.
pub(crate) fn check_sysctl(key: &str, ipc: &NamespaceMode, net: &NamespaceMode, uts: &NamespaceMode) -> Result<()> {
    let private = |m: &NamespaceMode| !matches!(m, NamespaceMode::Host);
    let (ok, ns) = if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        (private(ipc), "ipc")
    } else if key.starts_with("net.") {
        (private(net), "network")
    } else if key == "kernel.domainname" || key == "kernel.hostname" {
        (private(uts), "uts")
    } else {
        return Err(bad(
            "--sysctl",
            key,
            "not a namespaced sysctl (allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)",
        ));
    };
    if ok {
        Ok(())
    } else {
        Err(bad("--sysctl", key, &format!("not allowed when sharing the host's {ns} namespace")))
    }
}

fn check_abs(option: &str, path: &str) -> Result<()> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(bad(option, format!("{path:?}"), "not an absolute path"))
    }
}

/// Number of online CPUs of the host (`/sys/devices/system/cpu/online`), as Docker counts them.
pub(crate) fn host_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| cpuset_count(s.trim()))
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Number of CPUs in a cpuset list like `0-3,5` (`None` when malformed).
pub(crate) fn cpuset_count(s: &str) -> Option<usize> {
    let mut n = 0;
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                n += b.checked_sub(a)? + 1;
            }
            None => {
                part.parse::<usize>().ok()?;
                n += 1;
            }
        }
    }
    Some(n)
}

/// The engine's whole-value check of [`CreateOptions`] (the parsers of its string forms live
/// in `isula_types`; this also reads the host, e.g. that bind sources exist).
pub(crate) trait Validate {
    /// Checks every option; the first problem is returned as InvalidArgument naming the
    /// option and the value.
    fn validate(&self) -> Result<()>;
}

/// The parts of [`Validate`] for [`CreateOptions`].
trait ValidateParts {
    fn validate_mounts(&self) -> Result<()>;
    fn validate_resources(&self) -> Result<()>;
}

impl Validate for CreateOptions {
    /// Checks every option; the first problem is returned as InvalidArgument naming the option
    /// and the value. Reads the host only to check that bind sources and devices exist.
    fn validate(&self) -> Result<()> {
        if let Some(name) = &self.name {
            let n = name.strip_prefix('/').unwrap_or(name);
            if !parse::is_valid_name(n) {
                return Err(bad("container name", format!("{name:?}"), "must match [a-zA-Z0-9][a-zA-Z0-9_.-]+"));
            }
        }
        if self.image.trim().is_empty() {
            return Err(Error::invalid("no image specified"));
        }
        for e in &self.env {
            if e.split('=').next().unwrap_or("").is_empty() {
                return Err(bad("environment variable", format!("{e:?}"), "empty name"));
            }
        }
        if let Some(w) = &self.working_dir {
            if !w.is_empty() {
                check_abs("--workdir", w)?;
            }
        }
        if let Some(h) = &self.hostname {
            if h.len() > 64 || h.is_empty() || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                return Err(bad("--hostname", format!("{h:?}"), "must be 1-64 letters, digits, '-' or '.'"));
            }
        }
        if let Some(s) = &self.stop_signal {
            parse::parse_signal(s)?;
        }
        if let Some(t) = self.stop_timeout {
            if t < -1 {
                return Err(bad("--stop-timeout", t, "must be >= -1"));
            }
        }
        for c in self.cap_add.iter().chain(self.cap_drop.iter()) {
            normalize_cap(c)?;
        }
        for s in &self.security_opt {
            if let SecurityOpt::SeccompProfile(p) = parse_security_opt(s)? {
                if !Path::new(&p).is_file() {
                    return Err(bad("--security-opt", format!("{s:?}"), "seccomp profile file not found"));
                }
            }
        }
        self.validate_mounts()?;
        for d in &self.devices {
            check_abs("--device", &d.path_on_host)?;
            check_abs("--device", &d.path_in_container)?;
            if !Path::new(&d.path_on_host).exists() {
                return Err(bad("--device", format!("{:?}", d.path_on_host), "no such device on the host"));
            }
            if d.cgroup_permissions.is_empty() || !d.cgroup_permissions.chars().all(|c| "rwm".contains(c)) {
                return Err(bad(
                    "--device",
                    format!("{:?}", d.cgroup_permissions),
                    "permissions must be a subset of rwm",
                ));
            }
        }
        for u in &self.ulimits {
            check_ulimit(u)?;
        }
        let mode = |k: ModeKind, v: &Option<String>| parse_namespace_mode(k, v.as_deref().unwrap_or(""));
        let pid = mode(ModeKind::Pid, &self.pid_mode)?;
        let ipc = mode(ModeKind::Ipc, &self.ipc_mode)?;
        let uts = mode(ModeKind::Uts, &self.uts_mode)?;
        let net = mode(ModeKind::Network, &self.network_mode)?;
        let _ = pid;
        for k in self.sysctls.keys() {
            check_sysctl(k, &ipc, &net, &uts)?;
        }
        if matches!(net, NamespaceMode::Host | NamespaceMode::Container(_)) {
            if self.hostname.is_some() && matches!(net, NamespaceMode::Container(_)) {
                return Err(Error::invalid("conflicting options: --hostname and --network container:<id>"));
            }
            let dns_given = !self.dns.is_empty() || !self.dns_search.is_empty() || !self.dns_options.is_empty();
            if dns_given && matches!(net, NamespaceMode::Container(_)) {
                return Err(Error::invalid("conflicting options: --dns and --network container:<id>"));
            }
            if !self.extra_hosts.is_empty() && matches!(net, NamespaceMode::Container(_)) {
                return Err(Error::invalid("conflicting options: --add-host and --network container:<id>"));
            }
        }
        if net == NamespaceMode::None && !self.dns.is_empty() {
            return Err(Error::invalid("conflicting options: --dns and --network none"));
        }
        if uts == NamespaceMode::Host && self.hostname.is_some() {
            return Err(Error::invalid("conflicting options: --hostname and --uts host"));
        }
        if uts == NamespaceMode::Host && self.domainname.as_deref().is_some_and(|d| !d.is_empty()) {
            return Err(Error::invalid("conflicting options: --domainname and --uts host"));
        }
        for d in &self.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(bad("--dns", format!("{d:?}"), "not an IP address"));
            }
        }
        for h in &self.extra_hosts {
            parse::parse_add_host(h)?;
        }
        self.validate_resources()?;
        if let Some(p) = &self.cgroup_parent {
            if p.split('/').any(|c| c == "..") {
                return Err(bad("--cgroup-parent", format!("{p:?}"), "must not contain '..'"));
            }
        }
        check_restart_policy(&self.restart_policy)?;
        check_log_config(&self.log_config)?;
        if self.auto_remove && !matches!(self.restart_policy.name.as_str(), "" | "no") {
            return Err(Error::invalid("conflicting options: --restart and --rm"));
        }
        if let Some(h) = &self.healthcheck {
            match h.test.first().map(String::as_str) {
                None | Some("NONE") => {}
                Some("CMD") | Some("CMD-SHELL") if h.test.len() >= 2 => {}
                Some(t) => {
                    return Err(bad("--health-cmd", format!("{t:?}"), "test must be NONE, CMD args… or CMD-SHELL cmd"))
                }
            }
            for (opt, v) in [
                ("--health-interval", h.interval),
                ("--health-timeout", h.timeout),
                ("--health-start-period", h.start_period),
            ] {
                if v != 0 && v < 1_000_000 {
                    return Err(bad(opt, format!("{v}ns"), "must be 0 or at least 1ms"));
                }
            }
            if h.retries < 0 {
                return Err(bad("--health-retries", h.retries, "must not be negative"));
            }
        }
        Ok(())
    }
}

impl ValidateParts for CreateOptions {
    fn validate_mounts(&self) -> Result<()> {
        let mut dests: Vec<String> = Vec::new();
        let mut add_dest = |d: &str, what: &str| -> Result<()> {
            let d = d.trim_end_matches('/').to_string();
            if dests.contains(&d) {
                return Err(bad(what, format!("{d:?}"), "duplicate mount point"));
            }
            dests.push(d);
            Ok(())
        };
        for b in &self.binds {
            let p = parse_bind(b)?;
            if let BindSource::Host(src) = &p.source {
                if !Path::new(src).exists() {
                    return Err(bad("volume", format!("{b:?}"), "bind source path does not exist"));
                }
            }
            add_dest(&p.destination, "volume")?;
        }
        for m in &self.mounts {
            check_abs("--mount target", &m.target)?;
            match m.kind {
                MountKind::Bind => {
                    check_abs("--mount source", &m.source)?;
                    if !Path::new(&m.source).exists() {
                        return Err(bad(
                            "--mount",
                            format!("source {:?}", m.source),
                            "bind source path does not exist",
                        ));
                    }
                }
                MountKind::Volume if !m.source.is_empty() => crate::volume::validate_name(&m.source)?,
                _ => {}
            }
            if let Some(p) = &m.propagation {
                if !parse::PROPAGATIONS.contains(&p.as_str()) {
                    return Err(bad("--mount bind-propagation", format!("{p:?}"), "unknown propagation"));
                }
            }
            add_dest(&m.target, "--mount")?;
        }
        for (dst, opts) in &self.tmpfs {
            check_abs("--tmpfs", dst)?;
            add_dest(dst, "--tmpfs")?;
            for o in opts.split(',').filter(|o| !o.is_empty()) {
                let key = o.split('=').next().unwrap_or("");
                const OK: &[&str] = &[
                    "size",
                    "mode",
                    "uid",
                    "gid",
                    "nr_inodes",
                    "nr_blocks",
                    "ro",
                    "rw",
                    "exec",
                    "noexec",
                    "suid",
                    "nosuid",
                    "dev",
                    "nodev",
                    "sync",
                    "async",
                    "atime",
                    "noatime",
                    "relatime",
                    "strictatime",
                    "nodiratime",
                    "diratime",
                    "mpol",
                    "huge",
                ];
                if !OK.contains(&key) {
                    return Err(bad("--tmpfs", format!("{dst}:{opts}"), &format!("unknown option {o:?}")));
                }
                if key == "size" {
                    if let Some(v) = o.split_once('=').map(|x| x.1) {
                        parse::parse_memory_size(v).map_err(|e| e.context(format!("--tmpfs {dst}")))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_resources(&self) -> Result<()> {
        let r = &self.resources;
        if let Some(m) = r.memory {
            // 0 and -1: no limit (Docker's `-m -1`).
            if m != 0 && m != -1 && m < MIN_MEMORY {
                return Err(bad("--memory", m, "minimum memory limit allowed is 6MB"));
            }
        }
        if let Some(s) = r.memory_swap {
            if s != -1 && s != 0 {
                match r.memory {
                    Some(m) if m > 0 => {
                        if s < m {
                            return Err(bad("--memory-swap", s, "must be larger than or equal to --memory"));
                        }
                    }
                    _ => return Err(bad("--memory-swap", s, "requires --memory to be set")),
                }
            } else if s < -1 {
                return Err(bad("--memory-swap", s, "must be -1 or a size"));
            }
        }
        if let Some(res) = r.memory_reservation {
            if res < 0 {
                return Err(bad("--memory-reservation", res, "must not be negative"));
            }
            if let Some(m) = r.memory {
                if m > 0 && res > m {
                    return Err(bad("--memory-reservation", res, "must be smaller than --memory"));
                }
            }
        }
        if let Some(c) = r.cpus {
            if !c.is_finite() || c < 0.0 {
                return Err(bad("--cpus", c, "must be a non-negative number"));
            }
            let n = host_cpus();
            if c > n as f64 {
                return Err(bad(
                    "--cpus",
                    c,
                    &format!("range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"),
                ));
            }
            if c > 0.0 && c < 0.01 {
                return Err(bad("--cpus", c, "must be at least 0.01"));
            }
            if r.cpu_quota.is_some() || r.cpu_period.is_some() {
                return Err(Error::invalid("conflicting options: --cpus and --cpu-period/--cpu-quota"));
            }
        }
        if let Some(s) = r.cpu_shares {
            if s != 0 && !(2..=262144).contains(&s) {
                return Err(bad("--cpu-shares", s, "must be between 2 and 262144"));
            }
        }
        if let Some(p) = r.cpu_period {
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                return Err(bad("--cpu-period", p, "must be between 1000 and 1000000 microseconds"));
            }
        }
        if let Some(q) = r.cpu_quota {
            if q != 0 && q != -1 && q < 1000 {
                return Err(bad("--cpu-quota", q, "must be at least 1000 microseconds or -1"));
            }
        }
        for (opt, v, online) in [
            ("--cpuset-cpus", &r.cpuset_cpus, "/sys/devices/system/cpu/online"),
            ("--cpuset-mems", &r.cpuset_mems, "/sys/devices/system/node/online"),
        ] {
            if let Some(v) = v {
                if !is_cpuset(v) {
                    return Err(bad(opt, format!("{v:?}"), "expected a list like 0-3,5"));
                }
                // As Docker: only what the host has online (a host without the file says nothing).
                if let Ok(avail) = std::fs::read_to_string(online) {
                    let avail = avail.trim();
                    if !cpuset_within(v, avail) {
                        return Err(bad(
                            opt,
                            format!("{v:?}"),
                            &format!("not available on this host (online: {avail})"),
                        ));
                    }
                }
            }
        }
        if let Some(w) = r.blkio_weight {
            if w != 0 && !(10..=1000).contains(&w) {
                return Err(bad("--blkio-weight", w, "must be between 10 and 1000"));
            }
        }
        if let Some(o) = r.oom_score_adj {
            if !(-1000..=1000).contains(&o) {
                return Err(bad("--oom-score-adj", o, "must be between -1000 and 1000"));
            }
        }
        if let Some(s) = r.shm_size {
            if s < 0 {
                return Err(bad("--shm-size", s, "must not be negative"));
            }
        }
        Ok(())
    }
}

/// Log drivers the engine knows (`""` = the engine default).
pub(crate) const LOG_DRIVERS: &[&str] = &["", "json-file", "none", "cri", "syslog"];

/// Checks the log driver and its options (`max-size` a size, `max-file` a positive count;
/// `cri` needs an absolute `path`; syslog's address, facility and format must parse).
pub(crate) fn check_log_config(l: &crate::container::options::LogConfig) -> Result<()> {
    use isula_shim_proto::syslog;
    if l.driver == "journald" {
        return Err(Error::unimplemented("log driver \"journald\" is not supported (json-file, syslog, cri or none)"));
    }
    if !LOG_DRIVERS.contains(&l.driver.as_str()) {
        return Err(bad("--log-driver", format!("{:?}", l.driver), "expected json-file, syslog, cri or none"));
    }
    if l.driver == "cri" {
        match l.config.get("path") {
            Some(p) if p.starts_with('/') && !p.ends_with('/') && !p.split('/').any(|c| c == "..") => {}
            Some(p) => return Err(bad("--log-opt", format!("path={p}"), "must be an absolute file path")),
            None => return Err(bad("--log-opt", "path", "is required by log driver \"cri\"")),
        }
    }
    for (k, v) in &l.config {
        match (l.driver.as_str(), k.as_str()) {
            ("" | "json-file", "max-size") => {
                parse::parse_memory_size(v).map_err(|e| e.context("--log-opt max-size"))?;
            }
            ("" | "json-file", "max-file") => {
                if v.parse::<u32>().map(|n| n == 0).unwrap_or(true) {
                    return Err(bad("--log-opt", format!("max-file={v}"), "must be a positive integer"));
                }
            }
            ("cri", "path") => {}
            ("syslog", "syslog-address") => {
                syslog::Address::parse(v).map_err(|e| bad("--log-opt", format!("{k}={v}"), &e))?;
            }
            ("syslog", "syslog-facility") => {
                if syslog::facility(v).is_none() {
                    return Err(bad("--log-opt", format!("{k}={v}"), "unknown syslog facility"));
                }
            }
            ("syslog", "syslog-format") => {
                if syslog::SyslogFormat::parse(v).is_none() {
                    return Err(bad("--log-opt", format!("{k}={v}"), "expected rfc5424, rfc5424micro or rfc3164"));
                }
            }
            ("syslog", "tag" | "syslog-tag") => {}
            _ => {
                return Err(bad(
                    "--log-opt",
                    format!("{k}={v}"),
                    &format!("unknown option for log driver {:?}", l.driver),
                ))
            }
        }
    }
    Ok(())
}

/// Whether every member of cpuset list `want` is in list `have` (both well formed).
pub(crate) fn cpuset_within(want: &str, have: &str) -> bool {
    let ranges = |s: &str| -> Vec<(u32, u32)> {
        s.split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| match p.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => p.parse().ok().map(|a| (a, a)),
            })
            .collect()
    };
    let have = ranges(have);
    ranges(want).iter().all(|&(a, b)| (a..=b).all(|x| have.iter().any(|&(lo, hi)| lo <= x && x <= hi)))
}

/// True for cpuset lists like `0-3,5` (empty is allowed: no restriction).
pub(crate) fn is_cpuset(s: &str) -> bool {
    s.is_empty()
        || s.split(',').all(|part| {
            let mut it = part.splitn(2, '-');
            let a = it.next().and_then(|x| x.parse::<u32>().ok());
            match (a, it.next()) {
                (Some(_), None) => true,
                (Some(a), Some(b)) => b.parse::<u32>().map(|b| b >= a).unwrap_or(false),
                _ => false,
            }
        })
}

#[cfg(test)]
mod cpuset_tests {
    use super::*;

    #[test]
    fn cpusets_must_be_online() {
        assert!(cpuset_within("0-1,3", "0-3"));
        assert!(cpuset_within("", "0"));
        assert!(!cpuset_within("0-99", "0-1"));
        assert!(!cpuset_within("2", "0-1,3"));
        assert!(cpuset_within("3", "0-1,3"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::options::{DeviceMapping, HealthConfig, MountOption, RestartPolicy, Ulimit};
    use crate::ErrorKind;

    fn base() -> CreateOptions {
        CreateOptions { image: "busybox".into(), ..Default::default() }
    }

    fn rejects(o: CreateOptions, needle: &str) {
        let e = o.validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(needle), "{e:?} should mention {needle:?}");
    }

    #[test]
    fn accepts_reasonable_options() {
        let mut o = base();
        o.name = Some("web-1".into());
        o.binds = vec!["/tmp:/data:ro".into(), "vol:/v".into(), "/anon".into()];
        o.tmpfs.insert("/run".into(), "size=1m,mode=1777".into());
        o.devices = vec![DeviceMapping {
            path_on_host: "/dev/null".into(),
            path_in_container: "/dev/n".into(),
            cgroup_permissions: "rw".into(),
        }];
        o.ulimits = vec![Ulimit { name: "nofile".into(), soft: 10, hard: 20 }];
        o.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
        o.sysctls.insert("kernel.shmmax".into(), "1000000".into());
        o.resources.memory = Some(64 << 20);
        o.resources.memory_swap = Some(128 << 20);
        o.resources.cpus = Some(0.5);
        o.resources.cpu_shares = Some(512);
        o.restart_policy = RestartPolicy { name: "on-failure".into(), maximum_retry_count: 3 };
        o.stop_signal = Some("SIGINT".into());
        o.cap_add = vec!["NET_ADMIN".into()];
        o.security_opt = vec!["no-new-privileges".into(), "seccomp=unconfined".into()];
        o.pid_mode = Some("host".into());
        o.ipc_mode = Some("container:abc".into());
        o.log_config.driver = "json-file".into();
        o.log_config.config.insert("max-size".into(), "10m".into());
        o.log_config.config.insert("max-file".into(), "3".into());
        o.validate().unwrap();
    }

    #[test]
    fn rejects_bad_values() {
        rejects(CreateOptions { name: Some("-bad".into()), ..base() }, "-bad");
        rejects(CreateOptions { name: Some("a b".into()), ..base() }, "container name");
        rejects(CreateOptions { image: "".into(), ..Default::default() }, "no image");
        let mut o = base();
        o.resources.memory = Some(1 << 20);
        rejects(o, "--memory");
        let mut o = base();
        o.resources.memory = Some(64 << 20);
        o.resources.memory_swap = Some(32 << 20);
        rejects(o, "--memory-swap");
        let mut o = base();
        o.resources.cpus = Some(100000.0);
        rejects(o, "--cpus");
        let mut o = base();
        o.resources.cpus = Some(-1.0);
        rejects(o, "--cpus");
        let mut o = base();
        o.resources.cpu_shares = Some(1);
        rejects(o, "--cpu-shares");
        let mut o = base();
        o.resources.cpuset_cpus = Some("3-1".into());
        rejects(o, "--cpuset-cpus");
        rejects(CreateOptions { cap_add: vec!["FLY".into()], ..base() }, "FLY");
        rejects(CreateOptions { stop_signal: Some("SIGNOPE".into()), ..base() }, "SIGNOPE");
        rejects(CreateOptions { ulimits: vec![Ulimit { name: "nofile".into(), soft: 5, hard: 1 }], ..base() }, "soft");
        let mut o = base();
        o.sysctls.insert("kernel.panic".into(), "1".into());
        rejects(o, "kernel.panic");
        let mut o = base();
        o.network_mode = Some("host".into());
        o.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
        rejects(o, "network namespace");
        rejects(
            CreateOptions {
                restart_policy: RestartPolicy { name: "sometimes".into(), maximum_retry_count: 0 },
                ..base()
            },
            "sometimes",
        );
        rejects(CreateOptions { binds: vec!["/tmp:rel".into()], ..base() }, "rel");
        rejects(CreateOptions { binds: vec!["/does/not/exist/xyz:/d".into()], ..base() }, "does not exist");
        rejects(
            CreateOptions {
                mounts: vec![MountOption { source: "/tmp".into(), target: "rel".into(), ..Default::default() }],
                ..base()
            },
            "rel",
        );
        let mut o = base();
        o.tmpfs.insert("run".into(), String::new());
        rejects(o, "--tmpfs");
        let mut o = base();
        o.tmpfs.insert("/run".into(), "color=red".into());
        rejects(o, "color");
        rejects(
            CreateOptions {
                devices: vec![DeviceMapping {
                    path_on_host: "/dev/nope0".into(),
                    path_in_container: "/dev/nope0".into(),
                    cgroup_permissions: "rwm".into(),
                }],
                ..base()
            },
            "/dev/nope0",
        );
        rejects(CreateOptions { pid_mode: Some("bogus".into()), ..base() }, "--pid");
        rejects(CreateOptions { ipc_mode: Some("container:".into()), ..base() }, "--ipc");
        rejects(CreateOptions { network_mode: Some("none".into()), dns: vec!["1.1.1.1".into()], ..base() }, "--dns");
        rejects(CreateOptions { dns: vec!["not-ip".into()], ..base() }, "not-ip");
        rejects(CreateOptions { security_opt: vec!["seccomp=/no/such/profile.json".into()], ..base() }, "seccomp");
        rejects(CreateOptions { binds: vec!["/tmp:/d".into(), "/tmp:/d".into()], ..base() }, "duplicate");
        rejects(
            CreateOptions {
                healthcheck: Some(HealthConfig {
                    test: vec!["CMD".into(), "true".into()],
                    interval: 5,
                    ..Default::default()
                }),
                ..base()
            },
            "--health-interval",
        );
        rejects(
            CreateOptions {
                healthcheck: Some(HealthConfig { test: vec!["RUN".into()], ..Default::default() }),
                ..base()
            },
            "RUN",
        );
        rejects(
            CreateOptions {
                auto_remove: true,
                restart_policy: RestartPolicy { name: "always".into(), maximum_retry_count: 0 },
                ..base()
            },
            "--rm",
        );
        rejects(CreateOptions { hostname: Some("bad_host!".into()), ..base() }, "--hostname");
        rejects(
            CreateOptions { uts_mode: Some("host".into()), domainname: Some("d".into()), ..base() },
            "--domainname",
        );
        let mut o = base();
        o.log_config.driver = "fluentd".into();
        rejects(o, "fluentd");
        let mut o = base();
        o.log_config.config.insert("max-file".into(), "0".into());
        rejects(o, "max-file");
        let mut o = base();
        o.log_config.config.insert("max-size".into(), "10q".into());
        rejects(o, "max-size");
        let mut o = base();
        o.log_config.config.insert("bogus".into(), "1".into());
        rejects(o, "bogus");
        let mut o = base();
        o.log_config.driver = "cri".into();
        rejects(o.clone(), "path");
        o.log_config.config.insert("path".into(), "relative/0.log".into());
        rejects(o.clone(), "absolute");
        o.log_config.config.insert("path".into(), "/var/log/pods/p/c/../0.log".into());
        rejects(o.clone(), "absolute");
        o.log_config.config.insert("path".into(), "/var/log/pods/p/c/0.log".into());
        o.log_config.config.insert("max-size".into(), "1m".into());
        rejects(o.clone(), "max-size");
        o.log_config.config.remove("max-size");
        assert!(o.validate().is_ok());
    }

    #[test]
    fn cpusets() {
        assert!(is_cpuset("0-3,5"));
        assert!(is_cpuset("0"));
        assert!(!is_cpuset("a"));
        assert!(!is_cpuset("0-"));
        assert_eq!(cpuset_count("0-3,5"), Some(5));
        assert_eq!(cpuset_count("0"), Some(1));
        assert_eq!(cpuset_count("3-1"), None);
        assert!(host_cpus() >= 1);
    }
}
