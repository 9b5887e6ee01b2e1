//! `isula create` and the container options it shares with `isula run`.

use std::collections::BTreeMap;

use isula_api::v1::CreateContainerRequest;
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};
use crate::resources::ResourceOpts;

/// Options of `create` and `run` (Docker's names).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ContainerOpts {
    /// Assign a name to the container.
    #[arg(long = "name")]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Set meta data on a container.
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Bind mount a volume.
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container.
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory.
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long = "hostname")]
    pub hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long = "entrypoint")]
    pub entrypoint: Option<String>,
    /// Runtime to use for this container.
    #[arg(long = "runtime")]
    pub runtime: Option<String>,
    /// Restart policy to apply when a container exits.
    #[arg(long = "restart")]
    pub restart: Option<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Give extended privileges to this container.
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Security options.
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container.
    #[arg(long = "device")]
    pub device: Vec<String>,
    /// Ulimit options.
    #[arg(long = "ulimit")]
    pub ulimit: Vec<String>,
    /// Sysctl options.
    #[arg(long = "sysctl")]
    pub sysctl: Vec<String>,
    /// PID namespace to use.
    #[arg(long = "pid")]
    pub pid: Option<String>,
    /// IPC mode to use.
    #[arg(long = "ipc")]
    pub ipc: Option<String>,
    /// UTS namespace to use.
    #[arg(long = "uts")]
    pub uts: Option<String>,
    /// Connect a container to a network.
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// IPv4 address on the network (e.g. 10.1.2.3).
    #[arg(long = "ip", value_name = "IP")]
    pub ip: Option<String>,
    /// Publish a container's port(s) to the host ([IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]).
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random host ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long = "expose", value_name = "PORT")]
    pub expose: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Resource limits.
    #[command(flatten)]
    pub resources: ResourceOpts,
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h).
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Pull image before creating ("always", "missing", "never").
    #[arg(long = "pull", default_value = "missing")]
    pub pull: String,
    /// Set platform if server is multi-platform capable.
    #[arg(long = "platform")]
    pub platform: Option<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Print usage.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The image.
    pub image: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// `isula create [OPTIONS] IMAGE [COMMAND] [ARG...]`
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Args {
    /// Container options.
    #[command(flatten)]
    pub opts: ContainerOpts,
}

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

fn key_values(flag: &str, list: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ if flag == "--label" && !s.is_empty() => Ok((s.clone(), String::new())),
            _ => Err(CliError::engine(format!("invalid argument {s:?} for \"{flag}\" flag: expected key=value"))),
        })
        .collect()
}

/// The `CreateContainerRequest.options_json` for `o` (engine CreateOptions plus the flag
/// strings the daemon parses, under `CliFlags`).
pub(crate) fn options_json(o: &ContainerOpts, auto_remove: bool) -> Result<String, CliError> {
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(env_file(f)?);
    }
    env.extend(o.env.iter().filter_map(|e| env_entry(e)));
    let entrypoint = o.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] });
    let (resources, resource_flags) = o.resources.for_create();
    if !matches!(o.pull.as_str(), "always" | "missing" | "never") {
        return Err(CliError::engine(format!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            o.pull
        )));
    }
    let mut cli_flags = json!({
        "mount": o.mount, "device": o.device, "ulimit": o.ulimit, "tmpfs": o.tmpfs,
        "restart": o.restart,
        "add-host": o.add_host, "health-cmd": o.health_cmd, "health-interval": o.health_interval,
        "health-timeout": o.health_timeout, "health-retries": o.health_retries,
        "health-start-period": o.health_start_period, "no-healthcheck": o.no_healthcheck,
    });
    let mut v = json!({
        "Name": o.name,
        "Image": o.image,
        "Cmd": if o.cmd.is_empty() { Value::Null } else { json!(o.cmd) },
        "Entrypoint": entrypoint,
        "Env": env,
        "User": o.user,
        "WorkingDir": o.workdir,
        "Hostname": o.hostname,
        "Labels": key_values("--label", &o.label)?,
        "Tty": o.tty,
        "OpenStdin": o.interactive,
        "StopSignal": o.stop_signal,
        "StopTimeout": o.stop_timeout,
        "Privileged": o.privileged,
        "CapAdd": o.cap_add,
        "CapDrop": o.cap_drop,
        "SecurityOpt": o.security_opt,
        "ReadonlyRootfs": o.read_only,
        "Binds": o.volume,
        "Sysctls": key_values("--sysctl", &o.sysctl)?,
        "PidMode": o.pid,
        "IpcMode": o.ipc,
        "UtsMode": o.uts,
        "Ip": o.ip,
        "Publish": o.publish,
        "PublishAll": o.publish_all,
        "Expose": o.expose,
        "NetworkMode": o.network,
        "Dns": o.dns,
        "DnsSearch": o.dns_search,
        "DnsOptions": o.dns_option,
        "Resources": resources,
        "Runtime": o.runtime,
        "AutoRemove": auto_remove,
    });
    if let Some(f) = cli_flags.as_object_mut() {
        f.extend(resource_flags);
    }
    v["CliFlags"] = cli_flags;
    Ok(v.to_string())
}

fn pull(ctx: &mut Ctx, o: &ContainerOpts) -> Result<(), CliError> {
    let a = crate::commands::pull::Args { platform: o.platform.clone(), quiet: false, name: o.image.clone() };
    crate::commands::pull::run(ctx, a).map(|_| ())
}

/// Create the container (pulling its image per `--pull`), with `start` also start it (one
/// call: `run -d`); its id.
pub(crate) fn create(ctx: &mut Ctx, o: &ContainerOpts, auto_remove: bool, start: bool) -> Result<String, CliError> {
    let options_json = options_json(o, auto_remove)?;
    if o.pull == "always" {
        pull(ctx, o)?;
    }
    let mut c = ctx.containers()?;
    let req = CreateContainerRequest { options_json: options_json.clone(), start };
    match ctx.rt.block_on(c.create(req)) {
        Ok(r) => return Ok(r.into_inner().id),
        Err(s) if crate::error::reason(&s) == Some(isula_types::reason::Reason::NoSuchImage) => {
            if o.pull != "missing" {
                // Docker names the image as the user would write it, tag included.
                return Err(CliError::engine(format!(
                    "Error response from daemon: No such image: {}",
                    familiar_name(&o.image)
                )));
            }
            eprintln!("Unable to find image '{}' locally", familiar_name(&o.image));
        }
        Err(s) => return Err(create_error(&s)),
    }
    pull(ctx, o)?;
    let r = ctx.rt.block_on(c.create(CreateContainerRequest { options_json, start })).map_err(|s| create_error(&s))?;
    Ok(r.into_inner().id)
}

/// An image reference as Docker prints it: without the `docker.io/library/` prefix and with
/// `:latest` when it has neither tag nor digest (`busybox` is `busybox:latest`).
fn familiar_name(image: &str) -> String {
    let short = crate::commands::load::familiar(image);
    let last = short.rsplit('/').next().unwrap_or(short);
    if last.contains(':') || short.contains('@') {
        short.to_string()
    } else {
        format!("{short}:latest")
    }
}

/// Create failures are engine errors (125) as in Docker, except a command that cannot be
/// found (127) or invoked (126): the runtime checks it when it creates the container.
fn create_error(s: &tonic::Status) -> CliError {
    let mut e = CliError::daemon(s);
    e.code =
        if s.code() == tonic::Code::Unavailable && e.code != 1 { e.code } else { crate::error::start_error_code(s) };
    e
}

/// Run `isula create`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let id = create(ctx, &a.opts, false, false)?;
    println!("{id}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names_as_docker_prints_them() {
        assert_eq!(familiar_name("busybox"), "busybox:latest");
        assert_eq!(familiar_name("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(familiar_name("docker.io/team/app"), "team/app:latest");
        assert_eq!(familiar_name("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(familiar_name("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app:v2");
        let d = format!("app@sha256:{}", "a".repeat(64));
        assert_eq!(familiar_name(&d), d);
    }
}
