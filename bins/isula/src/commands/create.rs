//! `isula create` and the container options it shares with `isula run`.

mod options;

use isula_api::v1::CreateContainerRequest;

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
    /// Size of /dev/shm (k, m, g suffixes).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
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

/// Checks `--pull` (Docker's three policies).
fn check_pull(pull: &str) -> Result<(), CliError> {
    if matches!(pull, "always" | "missing" | "never") {
        return Ok(());
    }
    Err(CliError::engine(format!("invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\"")))
}

fn pull(ctx: &mut Ctx, o: &ContainerOpts) -> Result<(), CliError> {
    let a = crate::commands::pull::Args { platform: o.platform.clone(), quiet: false, name: o.image.clone() };
    crate::commands::pull::run(ctx, a).map(|_| ())
}

/// Create the container (pulling its image per `--pull`), with `start` also start it (one
/// call: `run -d`); its id.
pub(crate) fn create(ctx: &mut Ctx, o: &ContainerOpts, auto_remove: bool, start: bool) -> Result<String, CliError> {
    let opts = o.create_options(auto_remove)?;
    check_pull(&o.pull)?;
    let options_json =
        serde_json::to_string(&opts).map_err(|e| CliError::engine(format!("encode create options: {e}")))?;
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
