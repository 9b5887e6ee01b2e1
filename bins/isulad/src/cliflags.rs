//! Docker-style flag strings sent by the CLI next to the create options (`"CliFlags"` in
//! `CreateContainerRequest.options_json`), parsed here with the engine's parsers so the CLI
//! and the daemon agree on one syntax (`--mount`, `--device`, `--ulimit`, `--restart`, sizes,
//! durations, …).

use isula_core::unstable::parse;
use isula_core::CreateOptions;
use isula_core::HealthConfig;
use isula_core::{Error, Result};
use serde::Deserialize;

/// The raw flag values; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct CliFlags {
    mount: Vec<String>,
    device: Vec<String>,
    ulimit: Vec<String>,
    tmpfs: Vec<String>,
    restart: Option<String>,
    memory: Option<String>,
    memory_swap: Option<String>,
    memory_reservation: Option<String>,
    shm_size: Option<String>,
    cpus: Option<String>,
    add_host: Vec<String>,
    health_cmd: Option<String>,
    health_interval: Option<String>,
    health_timeout: Option<String>,
    health_retries: Option<i64>,
    health_start_period: Option<String>,
    no_healthcheck: bool,
}

/// Parse the flags in `raw` and apply them to `opts`; `InvalidArgument` names the bad flag.
pub(crate) fn apply_cli_flags(opts: &mut CreateOptions, raw: &serde_json::Value) -> Result<()> {
    let f: CliFlags = serde_json::from_value(raw.clone())
        .map_err(|e| Error::invalid(format!("bad CliFlags in create request: {e}")))?;
    for m in &f.mount {
        opts.mounts.push(parse::parse_mount(m)?);
    }
    for d in &f.device {
        opts.devices.push(parse::parse_device(d)?);
    }
    for u in &f.ulimit {
        opts.ulimits.push(parse::parse_ulimit(u)?);
    }
    for t in &f.tmpfs {
        let (dst, o) = parse::parse_tmpfs(t)?;
        opts.tmpfs.insert(dst, o);
    }
    if let Some(r) = &f.restart {
        opts.restart_policy = parse::parse_restart_policy(r)?;
    }
    let res = &mut opts.resources;
    if let Some(m) = &f.memory {
        res.memory = Some(parse::parse_memory_size(m)?);
    }
    if let Some(m) = &f.memory_swap {
        res.memory_swap = Some(parse::parse_memory_swap(m)?);
    }
    if let Some(m) = &f.memory_reservation {
        res.memory_reservation = Some(parse::parse_memory_size(m)?);
    }
    if let Some(m) = &f.shm_size {
        res.shm_size = Some(parse::parse_memory_size(m)?);
    }
    if let Some(c) = &f.cpus {
        res.cpus = Some(parse::parse_cpus(c)?);
    }
    for h in &f.add_host {
        let (host, ip) = parse::parse_add_host(h)?;
        opts.extra_hosts.push(format!("{host}:{ip}"));
    }
    let dur = |s: &Option<String>| s.as_deref().map(parse::parse_duration).transpose().map(|d| d.unwrap_or(0));
    let any_health = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_timeout.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some();
    if f.no_healthcheck {
        if any_health {
            return Err(Error::invalid("--no-healthcheck conflicts with --health-* options"));
        }
        opts.healthcheck = Some(HealthConfig { test: vec!["NONE".into()], ..HealthConfig::default() });
    } else if any_health {
        let test = match &f.health_cmd {
            Some(c) => vec!["CMD-SHELL".to_string(), c.clone()],
            None => Vec::new(),
        };
        let retries = f.health_retries.unwrap_or(0);
        if retries < 0 {
            return Err(Error::invalid("--health-retries cannot be negative"));
        }
        opts.healthcheck = Some(HealthConfig {
            test,
            interval: dur(&f.health_interval)?,
            timeout: dur(&f.health_timeout)?,
            retries,
            start_period: dur(&f.health_start_period)?,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_apply_and_bad_ones_fail() {
        let mut o = CreateOptions::default();
        let raw = serde_json::json!({"mount": ["type=tmpfs,target=/t"], "ulimit": ["nofile=10:20"],
            "restart": "on-failure:3", "memory": "64m", "cpus": "1.5", "add-host": ["h:10.0.0.1"],
            "health-cmd": "true", "health-interval": "2s"});
        apply_cli_flags(&mut o, &raw).unwrap();
        assert_eq!(o.mounts.len(), 1);
        assert_eq!(o.ulimits[0].hard, 20);
        assert_eq!(o.restart_policy.maximum_retry_count, 3);
        assert_eq!(o.resources.memory, Some(64 << 20));
        assert_eq!(o.resources.cpus, Some(1.5));
        assert_eq!(o.extra_hosts, ["h:10.0.0.1"]);
        let h = o.healthcheck.unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!(h.interval, 2_000_000_000);
        let e = apply_cli_flags(&mut CreateOptions::default(), &serde_json::json!({"memory": "lots"})).unwrap_err();
        assert_eq!(e.kind(), isula_core::ErrorKind::InvalidArgument);
    }
}
