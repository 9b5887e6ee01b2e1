//! [`ContainerOpts`] as the engine's typed [`CreateOptions`]: every flag string is parsed
//! here with the shared parsers of `isula_types`, so a bad value fails in the CLI (status
//! 125, the parser's message) before anything reaches the daemon. The strings the engine
//! resolves against the host or its own state (`-v`, `-p`, namespace modes, capabilities,
//! …) are passed on as given and checked by the engine.

use std::collections::BTreeMap;

use isula_types::container::options::{CreateOptions, HealthConfig};
use isula_types::container::parse;

use super::ContainerOpts;
use crate::error::CliError;

/// `KEY=VALUE` from `-e`: `KEY` alone takes the value of the client's environment (dropped
/// when unset), as Docker.
fn env_entry(s: &str) -> Option<String> {
    if s.contains('=') {
        return Some(s.to_string());
    }
    std::env::var(s).ok().map(|v| format!("{s}={v}"))
}

/// Lines of an `--env-file` (blank lines and `#` comments skipped).
fn env_file(path: &str) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::engine(format!("open {path}: {}", crate::error::io_text(&e))))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).filter_map(env_entry).collect())
}

/// `--label` and `--sysctl` entries; a label may be a bare key (empty value), as Docker.
fn key_values(flag: &str, list: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ if flag == "--label" && !s.is_empty() => Ok((s.clone(), String::new())),
            _ => Err(CliError::engine(format!("invalid argument {s:?} for \"{flag}\" flag: expected key=value"))),
        })
        .collect()
}

/// Parses every entry of a repeated flag with `parse`.
fn each<T>(list: &[String], parse: impl Fn(&str) -> isula_types::Result<T>) -> Result<Vec<T>, CliError> {
    list.iter().map(|s| parse(s).map_err(CliError::from)).collect()
}

impl ContainerOpts {
    /// The engine's create options for these flags (`auto_remove` from `run --rm`).
    pub(crate) fn create_options(&self, auto_remove: bool) -> Result<CreateOptions, CliError> {
        let mut env = Vec::new();
        for f in &self.env_file {
            env.extend(env_file(f)?);
        }
        env.extend(self.env.iter().filter_map(|e| env_entry(e)));
        let mut resources = self.resources.resources()?;
        resources.shm_size = self.shm_size.as_deref().map(parse::parse_memory_size).transpose()?;
        let extra_hosts = each(&self.add_host, parse::parse_add_host)?;
        Ok(CreateOptions {
            name: self.name.clone(),
            image: self.image.clone(),
            cmd: (!self.cmd.is_empty()).then(|| self.cmd.clone()),
            entrypoint: self.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] }),
            env,
            user: self.user.clone(),
            working_dir: self.workdir.clone(),
            hostname: self.hostname.clone(),
            labels: key_values("--label", &self.label)?,
            tty: self.tty,
            open_stdin: self.interactive,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            privileged: self.privileged,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            read_only: self.read_only,
            tmpfs: each(&self.tmpfs, parse::parse_tmpfs)?.into_iter().collect(),
            binds: self.volume.clone(),
            mounts: each(&self.mount, parse::parse_mount)?,
            devices: each(&self.device, parse::parse_device)?,
            ulimits: each(&self.ulimit, parse::parse_ulimit)?,
            sysctls: key_values("--sysctl", &self.sysctl)?,
            pid_mode: self.pid.clone(),
            ipc_mode: self.ipc.clone(),
            uts_mode: self.uts.clone(),
            network_mode: self.network.clone(),
            ip: self.ip.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            extra_hosts: extra_hosts.into_iter().map(|(host, ip)| format!("{host}:{ip}")).collect(),
            resources,
            runtime: self.runtime.clone(),
            restart_policy: self.restart.as_deref().map(parse::parse_restart_policy).transpose()?.unwrap_or_default(),
            healthcheck: self.healthcheck()?,
            auto_remove,
            ..CreateOptions::default()
        })
    }

    /// The health check of `--health-*` (a `CMD-SHELL` test, durations in nanoseconds) or
    /// `--no-healthcheck` (`["NONE"]`); `None` keeps the image's.
    fn healthcheck(&self) -> Result<Option<HealthConfig>, CliError> {
        let any = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        if self.no_healthcheck {
            if any {
                return Err(CliError::engine("--no-healthcheck conflicts with --health-* options"));
            }
            return Ok(Some(HealthConfig { test: vec!["NONE".into()], ..HealthConfig::default() }));
        }
        if !any {
            return Ok(None);
        }
        let retries = self.health_retries.unwrap_or(0);
        if retries < 0 {
            return Err(CliError::engine("--health-retries cannot be negative"));
        }
        let duration = |s: &Option<String>| -> Result<i64, CliError> {
            Ok(s.as_deref().map(parse::parse_duration).transpose()?.unwrap_or(0))
        };
        Ok(Some(HealthConfig {
            test: self.health_cmd.iter().flat_map(|c| ["CMD-SHELL".to_string(), c.clone()]).collect(),
            interval: duration(&self.health_interval)?,
            timeout: duration(&self.health_timeout)?,
            retries,
            start_period: duration(&self.health_start_period)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use isula_types::container::options::{DeviceMapping, MountKind, RestartPolicy, Ulimit};

    use super::*;

    /// `isula create ARGS...` as clap parses it.
    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct Cli {
        #[command(flatten)]
        opts: ContainerOpts,
    }

    fn opts(args: &[&str]) -> Result<CreateOptions, CliError> {
        let cli = Cli::try_parse_from(std::iter::once("create").chain(args.iter().copied())).unwrap();
        cli.opts.create_options(false)
    }

    #[test]
    fn plain_flags() {
        let o = opts(&["--name", "web", "-t", "-i", "-e", "A=1", "-l", "k", "busybox", "sh", "-c", "true"]).unwrap();
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.image, "busybox");
        assert_eq!(o.cmd, Some(vec!["sh".into(), "-c".into(), "true".into()]));
        assert!(o.tty && o.open_stdin && !o.auto_remove);
        assert_eq!(o.env, ["A=1"]);
        assert_eq!(o.labels, BTreeMap::from([("k".to_string(), String::new())]));
        // No command keeps the image's; an empty --entrypoint resets the image's.
        let o = opts(&["--entrypoint", "", "busybox"]).unwrap();
        assert_eq!((o.cmd, o.entrypoint), (None, Some(vec![])));
        // `-m -1` is "no limit", as Docker's; it is not taken for a flag.
        assert_eq!(opts(&["-m", "-1", "busybox"]).unwrap().resources.memory, Some(-1));
        assert_eq!(opts(&["busybox"]).unwrap(), CreateOptions { image: "busybox".into(), ..CreateOptions::default() });
    }

    #[test]
    fn parsed_flags() {
        let o = opts(&[
            "--mount",
            "type=tmpfs,target=/t,tmpfs-size=2m",
            "--tmpfs",
            "/x:size=1m",
            "--device",
            "/dev/null:/dev/mynull",
            "--ulimit",
            "nofile=512:1024",
            "--restart",
            "on-failure:3",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--shm-size",
            "1g",
            "--add-host",
            "h6:::1",
            "busybox",
        ])
        .unwrap();
        assert_eq!(o.mounts[0].kind, MountKind::Tmpfs);
        assert_eq!(o.mounts[0].tmpfs_size, Some(2 << 20));
        assert_eq!(o.tmpfs, BTreeMap::from([("/x".to_string(), "size=1m".to_string())]));
        assert_eq!(
            o.devices,
            [DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "rwm".into()
            }]
        );
        assert_eq!(o.ulimits, [Ulimit { name: "nofile".into(), soft: 512, hard: 1024 }]);
        assert_eq!(o.restart_policy, RestartPolicy { name: "on-failure".into(), maximum_retry_count: 3 });
        let r = &o.resources;
        assert_eq!((r.memory, r.memory_swap, r.cpus, r.shm_size), (Some(64 << 20), Some(-1), Some(1.5), Some(1 << 30)));
        assert_eq!(o.extra_hosts, ["h6:::1"]);
        // What the daemon receives is what the CLI built.
        let back: CreateOptions = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn health_flags() {
        let h = opts(&["--health-cmd", "true", "--health-interval", "1s", "--health-retries", "2", "busybox"])
            .unwrap()
            .healthcheck
            .unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!((h.interval, h.timeout, h.retries), (1_000_000_000, 0, 2));
        let h = opts(&["--no-healthcheck", "busybox"]).unwrap().healthcheck.unwrap();
        assert_eq!(h.test, ["NONE"]);
        assert_eq!(opts(&["busybox"]).unwrap().healthcheck, None);
        let e = opts(&["--no-healthcheck", "--health-cmd", "true", "busybox"]).unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (125, "--no-healthcheck conflicts with --health-* options"));
        assert_eq!(opts(&["--health-retries=-1", "busybox"]).unwrap_err().code, 125);
    }

    #[test]
    fn bad_flags_fail_with_the_parsers_message() {
        for (args, parsed) in [
            (["--mount", "type=bind,target=/b"], parse::parse_mount("type=bind,target=/b").map(|_| ())),
            (["--ulimit", "bogus=1"], parse::parse_ulimit("bogus=1").map(|_| ())),
            (["--device", "dev/a"], parse::parse_device("dev/a").map(|_| ())),
            (["--restart", "sometimes"], parse::parse_restart_policy("sometimes").map(|_| ())),
            (["--memory", "lots"], parse::parse_memory_size("lots").map(|_| ())),
            (["--shm-size", "x"], parse::parse_memory_size("x").map(|_| ())),
            (["--add-host", "h:1.2.3"], parse::parse_add_host("h:1.2.3").map(|_| ())),
            (["--tmpfs", "run"], parse::parse_tmpfs("run").map(|_| ())),
            (["--health-interval", "5x"], parse::parse_duration("5x").map(|_| ())),
        ] {
            let e = opts(&[args[0], args[1], "busybox"]).unwrap_err();
            assert_eq!(e.code, 125, "{args:?}");
            assert_eq!(e.msg, parsed.unwrap_err().to_string(), "{args:?}");
            assert!(e.msg.contains(args[1]), "{args:?}: {}", e.msg);
        }
        let e = opts(&["--sysctl", "x", "busybox"]).unwrap_err();
        assert_eq!(e.msg, "invalid argument \"x\" for \"--sysctl\" flag: expected key=value");
    }
}
