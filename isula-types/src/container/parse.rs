//! Parsers for Docker's string forms of create options (`-v`, `--mount`, `--ulimit`, sizes,
//! durations, signals, …), used by the `isula` CLI to build [`CreateOptions`] and by the
//! engine to validate them.
//!
//! Every function is pure (no file system access) and returns an
//! [`Error::InvalidArgument`] naming the option and the offending value.
//!
//! [`CreateOptions`]: crate::container::options::CreateOptions

use std::net::IpAddr;

use crate::container::options::{DeviceMapping, MountKind, MountOption, RestartPolicy, Ulimit};
use crate::volume::validate_name as validate_volume_name;
use crate::{Error, Result};

fn bad(option: &str, value: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid {option} {value:?}: {why}"))
}

/// Parses a memory size like `512m`, `1g`, `1.5G`, `1024`, `10kb` into bytes (binary units).
pub fn parse_memory_size(s: &str) -> Result<i64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let split = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let unit = unit.trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad("size", s, "unknown unit (use b, k, m, g, t or p)")),
    };
    let n: f64 = num.parse().map_err(|_| bad("size", s, "not a number"))?;
    if num.is_empty() || !n.is_finite() || n < 0.0 {
        return Err(bad("size", s, "not a non-negative number"));
    }
    let bytes = n * mult;
    if bytes > i64::MAX as f64 {
        return Err(bad("size", s, "too large"));
    }
    Ok(bytes as i64)
}

/// Parses `--memory-swap`: a size, or `-1` for unlimited swap.
pub fn parse_memory_swap(s: &str) -> Result<i64> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    parse_memory_size(s).map_err(|e| e.context("--memory-swap"))
}

/// Parses `--cpus` (a non-negative decimal like `1.5`).
pub fn parse_cpus(s: &str) -> Result<f64> {
    let v: f64 = s.trim().parse().map_err(|_| bad("--cpus", s, "not a number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad("--cpus", s, "must be a non-negative number"));
    }
    Ok(v)
}

/// Where a `-v` bind gets its content from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindSource {
    /// An absolute host path.
    Host(String),
    /// A named volume.
    Volume(String),
    /// An anonymous volume (only a destination was given).
    Anonymous,
}

/// A parsed `-v` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Source of the mount.
    pub source: BindSource,
    /// Absolute destination in the container.
    pub destination: String,
    /// `ro` was given.
    pub read_only: bool,
    /// Propagation mode (`shared`, `rslave`, …) if given.
    pub propagation: Option<String>,
    /// SELinux relabel flag (`z` or `Z`) if given; recorded, not acted on.
    pub relabel: Option<char>,
    /// `nocopy` was given.
    pub no_copy: bool,
}

/// Mount propagation modes accepted by `-v` and `--mount`.
pub const PROPAGATIONS: &[&str] = &["shared", "rshared", "slave", "rslave", "private", "rprivate"];

/// Parses a `-v` string: `/src:/dst[:opts]`, `name:/dst[:opts]` or `/dst`.
pub fn parse_bind(s: &str) -> Result<Bind> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => (None, *dst, None),
        [src, dst] => {
            if parse_bind_mode(dst).is_ok() && !dst.starts_with('/') {
                return Err(bad("volume", s, "a destination with a mode needs a source"));
            }
            (Some(*src), *dst, None)
        }
        [src, dst, mode] => (Some(*src), *dst, Some(*mode)),
        _ => return Err(bad("volume", s, "expected [source:]destination[:options]")),
    };
    if dst.is_empty() || !dst.starts_with('/') {
        return Err(bad("volume", s, format!("destination {dst:?} is not an absolute path")));
    }
    if dst == "/" {
        return Err(bad("volume", s, "destination can't be '/'"));
    }
    let source = match src {
        None => BindSource::Anonymous,
        Some("") => return Err(bad("volume", s, "empty source")),
        Some(p) if p.starts_with('/') => BindSource::Host(p.to_string()),
        Some(name) => {
            validate_volume_name(name).map_err(|e| e.context(format!("volume {s:?}")))?;
            BindSource::Volume(name.to_string())
        }
    };
    let mut bind = Bind {
        source,
        destination: dst.to_string(),
        read_only: false,
        propagation: None,
        relabel: None,
        no_copy: false,
    };
    if let Some(mode) = mode {
        let m = parse_bind_mode(mode).map_err(|why| bad("volume", s, why))?;
        bind.read_only = m.0;
        bind.propagation = m.1;
        bind.relabel = m.2;
        bind.no_copy = m.3;
        if bind.source == BindSource::Anonymous && bind.propagation.is_some() {
            return Err(bad("volume", s, "propagation needs a host path"));
        }
        if matches!(bind.source, BindSource::Volume(_)) && bind.propagation.is_some() {
            return Err(bad("volume", s, "propagation is only valid for host paths"));
        }
    }
    Ok(bind)
}

type BindMode = (bool, Option<String>, Option<char>, bool);

fn parse_bind_mode(mode: &str) -> std::result::Result<BindMode, String> {
    let (mut rw, mut prop, mut label, mut nocopy) = (None, None, None, false);
    for m in mode.split(',') {
        match m {
            "ro" | "rw" if rw.is_none() => rw = Some(m == "ro"),
            "z" | "Z" if label.is_none() => label = m.chars().next(),
            "nocopy" if !nocopy => nocopy = true,
            p if PROPAGATIONS.contains(&p) && prop.is_none() => prop = Some(p.to_string()),
            _ => return Err(format!("invalid or repeated mode {m:?}")),
        }
    }
    Ok((rw.unwrap_or(false), prop, label, nocopy))
}

/// True when `name` matches `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (container and volume names).
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn parse_bool(option: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(bad(option, value, "not a boolean")),
    }
}

/// Parses a `--mount` string: `type=bind,source=/a,target=/b,readonly,bind-propagation=rslave`.
pub fn parse_mount(s: &str) -> Result<MountOption> {
    let mut m = MountOption::default();
    let mut kind_set = false;
    for field in s.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let val = value.unwrap_or("");
        let need = |v: Option<&str>| -> Result<()> {
            match v {
                Some(_) => Ok(()),
                None => Err(bad("--mount", s, format!("{key} needs a value"))),
            }
        };
        match key.as_str() {
            "type" => {
                need(value)?;
                m.kind = match val {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    _ => return Err(bad("--mount", s, format!("unsupported type {val:?}"))),
                };
                kind_set = true;
            }
            "source" | "src" => {
                need(value)?;
                m.source = val.to_string();
            }
            "target" | "destination" | "dst" => {
                need(value)?;
                m.target = val.to_string();
            }
            "readonly" | "ro" => m.read_only = parse_bool("--mount readonly", val)?,
            "bind-propagation" => {
                need(value)?;
                if !PROPAGATIONS.contains(&val) {
                    return Err(bad("--mount", s, format!("invalid bind-propagation {val:?}")));
                }
                m.propagation = Some(val.to_string());
            }
            "volume-nocopy" => m.no_copy = parse_bool("--mount volume-nocopy", val)?,
            "tmpfs-size" => {
                need(value)?;
                m.tmpfs_size = Some(parse_memory_size(val)?);
            }
            "tmpfs-mode" => {
                need(value)?;
                m.tmpfs_mode = Some(
                    u32::from_str_radix(val, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad("--mount", s, format!("invalid tmpfs-mode {val:?}")))?,
                );
            }
            "" => {}
            _ => return Err(bad("--mount", s, format!("unknown field {key:?}"))),
        }
    }
    if !kind_set {
        return Err(bad("--mount", s, "type is required"));
    }
    if m.target.is_empty() {
        return Err(bad("--mount", s, "target is required"));
    }
    match m.kind {
        MountKind::Bind if m.source.is_empty() => return Err(bad("--mount", s, "source is required for bind mounts")),
        MountKind::Tmpfs if !m.source.is_empty() => return Err(bad("--mount", s, "source is not allowed for tmpfs")),
        MountKind::Bind => {}
        _ if m.propagation.is_some() => {
            return Err(bad("--mount", s, "bind-propagation is only valid for bind mounts"))
        }
        _ => {}
    }
    if m.kind != MountKind::Tmpfs && (m.tmpfs_size.is_some() || m.tmpfs_mode.is_some()) {
        return Err(bad("--mount", s, "tmpfs options are only valid for tmpfs mounts"));
    }
    Ok(m)
}

fn is_cgroup_perms(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

/// Parses a `--device` string: `/dev/x[:/dev/y][:rwm]`.
pub fn parse_device(s: &str) -> Result<DeviceMapping> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [src] => (*src, *src, "rwm"),
        [src, p] if is_cgroup_perms(p) => (*src, *src, *p),
        [src, dst] => (*src, *dst, "rwm"),
        [src, dst, p] => (*src, *dst, *p),
        _ => return Err(bad("--device", s, "expected host[:container][:permissions]")),
    };
    if !is_cgroup_perms(perms) {
        return Err(bad("--device", s, format!("invalid permissions {perms:?} (subset of rwm)")));
    }
    if !src.starts_with('/') || !dst.starts_with('/') {
        return Err(bad("--device", s, "device paths must be absolute"));
    }
    Ok(DeviceMapping {
        path_on_host: src.to_string(),
        path_in_container: dst.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

/// Resource names accepted by `--ulimit` (without `RLIMIT_`).
pub const ULIMIT_NAMES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Parses a `--ulimit` string: `nofile=1024[:2048]` (-1 = unlimited).
pub fn parse_ulimit(s: &str) -> Result<Ulimit> {
    let (name, limits) = s.split_once('=').ok_or_else(|| bad("--ulimit", s, "expected name=soft[:hard]"))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(bad("--ulimit", s, format!("unknown resource {name:?}")));
    }
    let num = |v: &str| -> Result<i64> {
        v.parse::<i64>().ok().filter(|n| *n >= -1).ok_or_else(|| bad("--ulimit", s, format!("invalid limit {v:?}")))
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let v = num(limits)?;
            (v, v)
        }
    };
    let u = Ulimit { name: name.to_string(), soft, hard };
    check_ulimit(&u)?;
    Ok(u)
}

/// Checks a ulimit's name and that soft <= hard (-1 meaning unlimited).
pub fn check_ulimit(u: &Ulimit) -> Result<()> {
    let s = format!("{}={}:{}", u.name, u.soft, u.hard);
    if !ULIMIT_NAMES.contains(&u.name.as_str()) {
        return Err(bad("--ulimit", &s, format!("unknown resource {:?}", u.name)));
    }
    let as_u = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if u.soft < -1 || u.hard < -1 {
        return Err(bad("--ulimit", &s, "limits must be >= -1"));
    }
    if as_u(u.soft) > as_u(u.hard) {
        return Err(bad("--ulimit", &s, "soft limit is greater than the hard limit"));
    }
    Ok(())
}

/// Parses `--restart`: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub fn parse_restart_policy(s: &str) -> Result<RestartPolicy> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (s, None),
    };
    let p = RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: match count {
            None => 0,
            Some(c) => {
                c.parse().map_err(|_| bad("--restart", s, "maximum retry count must be a non-negative integer"))?
            }
        },
    };
    if count.is_some() && name != "on-failure" {
        return Err(bad("--restart", s, "a maximum retry count is only valid with on-failure"));
    }
    check_restart_policy(&p)?;
    Ok(p)
}

/// Checks a restart policy's name and retry count.
pub fn check_restart_policy(p: &RestartPolicy) -> Result<()> {
    match p.name.as_str() {
        "" | "no" | "always" | "unless-stopped" if p.maximum_retry_count == 0 => Ok(()),
        "on-failure" => Ok(()),
        "" | "no" | "always" | "unless-stopped" => Err(bad(
            "--restart",
            &format!("{}:{}", p.name, p.maximum_retry_count),
            "a maximum retry count is only valid with on-failure",
        )),
        _ => Err(bad("--restart", &p.name, "expected no, always, on-failure[:N] or unless-stopped")),
    }
}

/// Parses `--add-host`: `host:ip` or `host=ip` (ip may be IPv6 or `host-gateway`).
pub fn parse_add_host(s: &str) -> Result<(String, String)> {
    let (host, ip) =
        s.split_once('=').or_else(|| s.split_once(':')).ok_or_else(|| bad("--add-host", s, "expected host:ip"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.chars().any(|c| c.is_whitespace()) {
        return Err(bad("--add-host", s, "invalid host name"));
    }
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        return Err(bad("--add-host", s, format!("invalid IP address {ip:?}")));
    }
    Ok((host.to_string(), ip.to_string()))
}

/// Parses `-e`: `K=V` is kept, `K` takes its value from `lookup` (dropped when unset).
pub fn parse_env(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<String>> {
    let key = s.split('=').next().unwrap_or("");
    if key.is_empty() {
        return Err(bad("environment variable", s, "empty name"));
    }
    if key.chars().any(char::is_whitespace) {
        return Err(bad("environment variable", s, "name contains whitespace"));
    }
    if s.contains('=') {
        return Ok(Some(s.to_string()));
    }
    Ok(lookup(key).map(|v| format!("{key}={v}")))
}

/// Parses a `KEY=VALUE` pair (labels, sysctls, annotations, log options).
pub fn parse_key_value(option: &str, s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(bad(option, s, "expected KEY=VALUE")),
    }
}

/// Parses `--tmpfs`: `/dst[:options]`.
pub fn parse_tmpfs(s: &str) -> Result<(String, String)> {
    let (dst, opts) = s.split_once(':').unwrap_or((s, ""));
    if !dst.starts_with('/') {
        return Err(bad("--tmpfs", s, "destination is not an absolute path"));
    }
    Ok((dst.to_string(), opts.to_string()))
}

/// Parses a Go-style duration (`30s`, `1m30s`, `500ms`, `1h`, `0`) into nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64> {
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return Err(bad("duration", s, "empty"));
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(n);
        let u = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let v: f64 = num.parse().map_err(|_| bad("duration", s, "expected e.g. 30s, 1m30s, 500ms"))?;
        let mult = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad("duration", s, format!("unknown unit {unit:?}"))),
        };
        total += v * mult;
        rest = tail;
    }
    if total > i64::MAX as f64 {
        return Err(bad("duration", s, "too large"));
    }
    Ok(total as i64)
}

/// Parses a signal: `SIGTERM`, `TERM`, `term`, `15`, `SIGRTMIN+3`. Returns its number.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(bad("signal", s, "number out of range 1..64"));
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let rt = |base: i32, off: &str, sign: i32| -> Result<i32> {
        let o: i32 = if off.is_empty() { 0 } else { off.parse().map_err(|_| bad("signal", s, "unknown signal"))? };
        let n = base + sign * o;
        if (34..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad("signal", s, "real-time signal out of range"))
        }
    };
    if let Some(off) = name.strip_prefix("RTMIN") {
        return rt(34, off.trim_start_matches('+'), 1);
    }
    if let Some(off) = name.strip_prefix("RTMAX") {
        return rt(64, off.trim_start_matches('-'), -1);
    }
    let full = format!("SIG{name}");
    full.parse::<nix::sys::signal::Signal>().map(|sig| sig as i32).map_err(|_| bad("signal", s, "unknown signal"))
}

/// A parsed `--security-opt` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[:true|false]`.
    NoNewPrivileges(bool),
    /// `seccomp=unconfined`.
    SeccompUnconfined,
    /// `seccomp=<path>`: a Docker-format JSON profile on the host.
    SeccompProfile(String),
    /// `apparmor=…`: an AppArmor profile (applied where the host has AppArmor).
    AppArmor(String),
    /// `label=…`: an SELinux label option (`disable` is the only one honoured).
    Label(String),
}

/// Parses one `--security-opt` entry (`=` or the legacy `:` separator).
pub fn parse_security_opt(s: &str) -> Result<SecurityOpt> {
    if s == "no-new-privileges" {
        return Ok(SecurityOpt::NoNewPrivileges(true));
    }
    let (k, v) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| bad("--security-opt", s, "expected key=value"))?;
    match k {
        "no-new-privileges" => Ok(SecurityOpt::NoNewPrivileges(parse_bool("--security-opt", v)?)),
        "seccomp" if v == "unconfined" => Ok(SecurityOpt::SeccompUnconfined),
        "seccomp" if !v.is_empty() => Ok(SecurityOpt::SeccompProfile(v.to_string())),
        "apparmor" => Ok(SecurityOpt::AppArmor(v.to_string())),
        "label" => Ok(SecurityOpt::Label(v.to_string())),
        _ => Err(bad("--security-opt", s, "expected no-new-privileges, seccomp=, apparmor= or label=")),
    }
}

/// A parsed namespace mode (`--pid`, `--ipc`, `--uts`, `--network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceMode {
    /// A new namespace (`""`, `private`, `shareable`, `default`, `bridge`, a network name).
    Private,
    /// The host's namespace.
    Host,
    /// No namespace setup (`--network none`: loopback only; `--ipc none`: no /dev/shm).
    None,
    /// Join another container's namespace.
    Container(String),
}

/// The namespace kinds with a user-facing mode option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeKind {
    /// `--pid`.
    Pid,
    /// `--ipc`.
    Ipc,
    /// `--uts`.
    Uts,
    /// `--network`.
    Network,
}

impl ModeKind {
    fn option(self) -> &'static str {
        match self {
            ModeKind::Pid => "--pid",
            ModeKind::Ipc => "--ipc",
            ModeKind::Uts => "--uts",
            ModeKind::Network => "--network",
        }
    }
}

/// Parses a namespace mode for `kind`; rejects forms that kind does not support.
pub fn parse_namespace_mode(kind: ModeKind, s: &str) -> Result<NamespaceMode> {
    let opt = kind.option();
    if let Some(id) = s.strip_prefix("container:") {
        if kind == ModeKind::Uts {
            return Err(bad(opt, s, "expected host or private"));
        }
        if id.is_empty() {
            return Err(bad(opt, s, "container: needs a container name or id"));
        }
        return Ok(NamespaceMode::Container(id.to_string()));
    }
    match (kind, s) {
        (_, "" | "private") => Ok(NamespaceMode::Private),
        (_, "host") => Ok(NamespaceMode::Host),
        (ModeKind::Ipc, "shareable") => Ok(NamespaceMode::Private),
        (ModeKind::Ipc | ModeKind::Network, "none") => Ok(NamespaceMode::None),
        (ModeKind::Network, name) if is_valid_name(name) || name.len() == 1 => Ok(NamespaceMode::Private),
        (ModeKind::Pid | ModeKind::Uts, _) => Err(bad(opt, s, "expected host, private or container:<id>")),
        (ModeKind::Ipc, _) => Err(bad(opt, s, "expected host, private, shareable, none or container:<id>")),
        (ModeKind::Network, _) => Err(bad(opt, s, "expected host, none, container:<id> or a network name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_memory_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_memory_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_memory_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_memory_size("100").unwrap(), 100);
        assert_eq!(parse_memory_size("10kb").unwrap(), 10240);
        assert_eq!(parse_memory_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_memory_swap("-1").unwrap(), -1);
        assert_eq!(parse_memory_swap("1g").unwrap(), 1 << 30);
        assert!(parse_memory_swap("-2").is_err());
        for b in ["", "m", "12x", "-1m", "1..2m"] {
            assert!(matches!(parse_memory_size(b).unwrap_err(), Error::InvalidArgument(_)), "{b}");
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1.5").unwrap(), 1.5);
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpus("x").is_err());
    }

    #[test]
    fn binds() {
        let b = parse_bind("/src:/dst:ro,rslave").unwrap();
        assert_eq!(b.source, BindSource::Host("/src".into()));
        assert_eq!(b.destination, "/dst");
        assert!(b.read_only);
        assert_eq!(b.propagation.as_deref(), Some("rslave"));
        let b = parse_bind("data:/var/lib/data").unwrap();
        assert_eq!(b.source, BindSource::Volume("data".into()));
        assert!(!b.read_only);
        let b = parse_bind("/anon").unwrap();
        assert_eq!(b.source, BindSource::Anonymous);
        let b = parse_bind("/a:/b:z,rw").unwrap();
        assert_eq!(b.relabel, Some('z'));
        for s in [
            "rel",
            "/a:rel",
            "/a:/b:bogus",
            "/a:/b:ro,rw",
            "/a:/b:c:d",
            ":/b",
            "/a:/",
            "/dst:ro",
            "v:/d:shared",
            "bad name:/x",
        ] {
            let e = parse_bind(s).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{s}");
            assert!(e.to_string().contains(s), "{e}");
        }
    }

    #[test]
    fn mounts() {
        let m = parse_mount("type=bind,source=/a,target=/b,readonly,bind-propagation=rslave").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        assert_eq!((m.source.as_str(), m.target.as_str()), ("/a", "/b"));
        assert!(m.read_only);
        assert_eq!(m.propagation.as_deref(), Some("rslave"));
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(m.tmpfs_size, Some(1 << 20));
        assert_eq!(m.tmpfs_mode, Some(0o1770));
        let m = parse_mount("type=volume,src=v1,target=/v,ro=false").unwrap();
        assert_eq!(m.kind, MountKind::Volume);
        assert!(!m.read_only);
        for s in [
            "source=/a,target=/b",
            "type=bind,target=/b",
            "type=bind,source=/a",
            "type=foo,target=/b",
            "type=tmpfs,source=/x,target=/b",
            "type=volume,target=/b,bind-propagation=shared",
            "type=bind,source=/a,target=/b,color=red",
            "type=tmpfs,target=/b,tmpfs-mode=99",
        ] {
            assert!(matches!(parse_mount(s).unwrap_err(), Error::InvalidArgument(_)), "{s}");
        }
    }

    #[test]
    fn devices() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(
            (d.path_on_host.as_str(), d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/fuse", "/dev/fuse", "rwm")
        );
        let d = parse_device("/dev/a:r").unwrap();
        assert_eq!((d.path_in_container.as_str(), d.cgroup_permissions.as_str()), ("/dev/a", "r"));
        let d = parse_device("/dev/a:/dev/b").unwrap();
        assert_eq!(d.path_in_container, "/dev/b");
        let d = parse_device("/dev/a:/dev/b:rw").unwrap();
        assert_eq!(d.cgroup_permissions, "rw");
        for s in ["dev/a", "/dev/a:/dev/b:rx", "/a:/b:r:w"] {
            assert!(parse_device(s).is_err(), "{s}");
        }
    }

    #[test]
    fn ulimits() {
        assert_eq!(parse_ulimit("nofile=1024:2048").unwrap(), Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 });
        assert_eq!(parse_ulimit("nproc=50").unwrap(), Ulimit { name: "nproc".into(), soft: 50, hard: 50 });
        assert_eq!(parse_ulimit("core=-1").unwrap().hard, -1);
        for s in ["nofile", "bogus=1", "nofile=2048:1024", "nofile=a", "nofile=-2", "nofile=-1:10"] {
            assert!(parse_ulimit(s).is_err(), "{s}");
        }
    }

    #[test]
    fn restart() {
        assert_eq!(
            parse_restart_policy("on-failure:3").unwrap(),
            RestartPolicy { name: "on-failure".into(), maximum_retry_count: 3 }
        );
        assert_eq!(parse_restart_policy("always").unwrap().name, "always");
        assert_eq!(parse_restart_policy("no").unwrap().maximum_retry_count, 0);
        for s in ["sometimes", "always:3", "on-failure:x", "on-failure:-1"] {
            assert!(parse_restart_policy(s).is_err(), "{s}");
        }
    }

    #[test]
    fn hosts_env_kv() {
        assert_eq!(parse_add_host("h:1.2.3.4").unwrap(), ("h".into(), "1.2.3.4".into()));
        assert_eq!(parse_add_host("h6:::1").unwrap(), ("h6".into(), "::1".into()));
        assert_eq!(parse_add_host("g=host-gateway").unwrap().1, "host-gateway");
        assert!(parse_add_host("h:1.2.3").is_err());
        assert!(parse_add_host("nohost").is_err());
        let look = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(parse_env("A=1=2", look).unwrap().as_deref(), Some("A=1=2"));
        assert_eq!(parse_env("HOME", look).unwrap().as_deref(), Some("HOME=/root"));
        assert_eq!(parse_env("UNSET", look).unwrap(), None);
        assert!(parse_env("=x", look).is_err());
        assert_eq!(parse_key_value("--label", "a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_key_value("--label", "a").is_err());
        assert_eq!(parse_tmpfs("/run:size=1m").unwrap(), ("/run".into(), "size=1m".into()));
        assert!(parse_tmpfs("run").is_err());
    }

    #[test]
    fn durations_and_signals() {
        assert_eq!(parse_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        for s in ["", "10", "5x", "s"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("USR1").unwrap(), nix::libc::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), 63);
        for s in ["SIGFOO", "0", "65", "RTMIN+40"] {
            assert!(parse_signal(s).is_err(), "{s}");
        }
    }

    #[test]
    fn security_and_modes() {
        assert_eq!(parse_security_opt("no-new-privileges").unwrap(), SecurityOpt::NoNewPrivileges(true));
        assert_eq!(parse_security_opt("no-new-privileges:false").unwrap(), SecurityOpt::NoNewPrivileges(false));
        assert_eq!(parse_security_opt("seccomp=unconfined").unwrap(), SecurityOpt::SeccompUnconfined);
        assert_eq!(parse_security_opt("seccomp:/p.json").unwrap(), SecurityOpt::SeccompProfile("/p.json".into()));
        assert!(parse_security_opt("seccomp=").is_err());
        assert!(parse_security_opt("foo=bar").is_err());
        use NamespaceMode as N;
        assert_eq!(parse_namespace_mode(ModeKind::Pid, "host").unwrap(), N::Host);
        assert_eq!(parse_namespace_mode(ModeKind::Pid, "container:abc").unwrap(), N::Container("abc".into()));
        assert_eq!(parse_namespace_mode(ModeKind::Network, "none").unwrap(), N::None);
        assert_eq!(parse_namespace_mode(ModeKind::Network, "bridge").unwrap(), N::Private);
        assert_eq!(parse_namespace_mode(ModeKind::Ipc, "shareable").unwrap(), N::Private);
        for (k, s) in [
            (ModeKind::Pid, "none"),
            (ModeKind::Uts, "container:x"),
            (ModeKind::Pid, "container:"),
            (ModeKind::Ipc, "bogus mode"),
        ] {
            assert!(parse_namespace_mode(k, s).is_err(), "{s}");
        }
    }

    #[test]
    fn names() {
        assert!(is_valid_name("web-1.a_b"));
        assert!(!is_valid_name("a"));
        assert!(!is_valid_name("-ab"));
        assert!(!is_valid_name("a b"));
    }
}
