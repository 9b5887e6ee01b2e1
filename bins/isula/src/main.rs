//! isula: the Docker-like command line client of isulad.
//!
//! Exit statuses follow Docker: 0 success, 1 a request the daemon refused, 125 a usage
//! error or no daemon to talk to.

// The CLI's own print macros: they write through `error::write_out`/`write_err`, which end
// the program quietly with status 141 when the reader of the pipe went away
// (`isula images | head -1`), as a SIGPIPE death would in Docker's CLI, instead of panicking.
// Defined before the modules so that they shadow std's macros in the whole crate.
macro_rules! println {
    () => { $crate::error::write_out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::error::write_out(format_args!("{}\n", format_args!($($t)*))) };
}
macro_rules! print {
    ($($t:tt)*) => { $crate::error::write_out(format_args!($($t)*)) };
}
macro_rules! eprintln {
    () => { $crate::error::write_err(format_args!("\n")) };
    ($($t:tt)*) => { $crate::error::write_err(format_args!("{}\n", format_args!($($t)*))) };
}
macro_rules! eprint {
    ($($t:tt)*) => { $crate::error::write_err(format_args!($($t)*)) };
}

mod commands;
mod ctx;
mod error;
mod fmt;
mod progress;
mod resources;
mod stdio;
mod template;

use clap::{CommandFactory, Parser, Subcommand};

use crate::error::{CliError, ENGINE};

/// isula: a lightweight container engine client.
#[derive(Debug, Parser)]
#[command(name = "isula", version, about = "isula: command line client of the isulad container engine")]
pub struct Cli {
    /// Daemon socket to connect to (unix:///PATH or tcp://HOST:PORT).
    #[arg(short = 'H', long = "host", env = "ISULAD_HOST", default_value = isula_api::DEFAULT_HOST, global = true)]
    pub host: String,
    /// Use TLS and verify the daemon (tcp:// hosts); also present our certificate.
    #[arg(long = "tlsverify", global = true)]
    pub tlsverify: bool,
    /// CA certificate that signed the daemon's certificate.
    #[arg(long = "tlscacert", value_name = "FILE", global = true, default_value = "/etc/isulad/ca.pem")]
    pub tlscacert: std::path::PathBuf,
    /// Client certificate.
    #[arg(long = "tlscert", value_name = "FILE", global = true, default_value = "/etc/isulad/cert.pem")]
    pub tlscert: std::path::PathBuf,
    /// Client private key.
    #[arg(long = "tlskey", value_name = "FILE", global = true, default_value = "/etc/isulad/key.pem")]
    pub tlskey: std::path::PathBuf,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create and run a new container from an image.
    Run(commands::run::Args),
    /// Create a new container.
    Create(commands::create::Args),
    /// Start one or more stopped containers.
    Start(commands::start::Args),
    /// Stop one or more running containers.
    Stop(commands::stop::Args),
    /// Kill one or more running containers.
    Kill(commands::kill::Args),
    /// Remove one or more containers.
    Rm(commands::rm::Args),
    /// Restart one or more containers.
    Restart(commands::restart::Args),
    /// Pause all processes within one or more containers.
    Pause(commands::pause::Args),
    /// Unpause all processes within one or more containers.
    Unpause(commands::unpause::Args),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(commands::wait::Args),
    /// Rename a container.
    Rename(commands::rename::Args),
    /// List containers.
    Ps(commands::ps::Args),
    /// Fetch the logs of a container.
    Logs(commands::logs::Args),
    /// Execute a command in a running container.
    Exec(commands::exec::Args),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(commands::attach::Args),
    /// Get real time events from the server.
    Events(commands::events::Args),
    /// Display the running processes of a container.
    Top(commands::top::Args),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(commands::stats::Args),
    /// Update configuration of one or more containers.
    Update(commands::update::Args),
    /// Export a container's filesystem as a tar archive.
    Export(commands::export::Args),
    /// Copy files/folders between a container and the local filesystem.
    Cp(commands::cp::Args),
    /// List images.
    Images(commands::images::Args),
    /// Load images from a tar archive (docker-archive or OCI) or STDIN.
    Load(commands::load::Args),
    /// Save images to a tar archive (streamed to STDOUT by default).
    Save(commands::save::Args),
    /// Import the contents from a tarball to create a filesystem image.
    Import(commands::import::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(commands::tag::Args),
    /// Remove one or more images.
    Rmi(commands::rmi::Args),
    /// Return low-level information on images.
    Inspect(commands::inspect::Args),
    /// Download an image from a registry.
    Pull(commands::pull::Args),
    /// Upload an image to a registry.
    Push(commands::push::Args),
    /// Log in to a registry.
    Login(commands::login::Args),
    /// Log out from a registry.
    Logout(commands::logout::Args),
    /// Manage networks.
    Network(commands::network::Args),
    /// List port mappings or a specific mapping for the container.
    Port(commands::port::Args),
    /// Manage volumes.
    Volume(commands::volume::Args),
    /// Show the isula version information.
    Version(commands::version::Args),
    /// Display system-wide information.
    Info(commands::info::Args),
    /// Generate the shell completion script.
    Completion(commands::completion::Args),
}

fn main() {
    if std::env::args_os().len() == 1 {
        // Bare `isula` prints the help and succeeds, as bare `docker` does.
        let _ = Cli::command().print_help();
        std::process::exit(0);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version exit 0; every usage error is 125, as Docker.
            let code = if e.exit_code() == 0 { 0 } else { ENGINE };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    });
}

fn run(cli: Cli) -> Result<i32, CliError> {
    if let Command::Completion(a) = &cli.cmd {
        return commands::completion::run(a, &mut Cli::command());
    }
    let tls = if cli.tlsverify {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| CliError::engine(format!("cannot read {}: {e}", p.display())))
        };
        Some(isula_api::client::TlsFiles {
            ca: read(&cli.tlscacert)?,
            cert: read(&cli.tlscert)?,
            key: read(&cli.tlskey)?,
        })
    } else {
        None
    };
    let mut ctx = ctx::Ctx::new(&cli.host, tls)?;
    match cli.cmd {
        Command::Run(a) => commands::run::run(&mut ctx, a),
        Command::Create(a) => commands::create::run(&mut ctx, a),
        Command::Start(a) => commands::start::run(&mut ctx, a),
        Command::Stop(a) => commands::stop::run(&mut ctx, a),
        Command::Kill(a) => commands::kill::run(&mut ctx, a),
        Command::Rm(a) => commands::rm::run(&mut ctx, a),
        Command::Restart(a) => commands::restart::run(&mut ctx, a),
        Command::Pause(a) => commands::pause::run(&mut ctx, a),
        Command::Unpause(a) => commands::unpause::run(&mut ctx, a),
        Command::Wait(a) => commands::wait::run(&mut ctx, a),
        Command::Rename(a) => commands::rename::run(&mut ctx, a),
        Command::Ps(a) => commands::ps::run(&mut ctx, a),
        Command::Logs(a) => commands::logs::run(&mut ctx, a),
        Command::Exec(a) => commands::exec::run(&mut ctx, a),
        Command::Attach(a) => commands::attach::run(&mut ctx, a),
        Command::Events(a) => commands::events::run(&mut ctx, a),
        Command::Top(a) => commands::top::run(&mut ctx, a),
        Command::Stats(a) => commands::stats::run(&mut ctx, a),
        Command::Update(a) => commands::update::run(&mut ctx, a),
        Command::Export(a) => commands::export::run(&mut ctx, a),
        Command::Cp(a) => commands::cp::run(&mut ctx, a),
        Command::Images(a) => commands::images::run(&mut ctx, a),
        Command::Load(a) => commands::load::run(&mut ctx, a),
        Command::Save(a) => commands::save::run(&mut ctx, a),
        Command::Import(a) => commands::import::run(&mut ctx, a),
        Command::Tag(a) => commands::tag::run(&mut ctx, a),
        Command::Rmi(a) => commands::rmi::run(&mut ctx, a),
        Command::Inspect(a) => commands::inspect::run(&mut ctx, a),
        Command::Pull(a) => commands::pull::run(&mut ctx, a),
        Command::Push(a) => commands::push::run(&mut ctx, a),
        Command::Login(a) => commands::login::run(&mut ctx, a),
        Command::Logout(a) => commands::logout::run(&mut ctx, a),
        Command::Network(a) => commands::network::run(&mut ctx, a),
        Command::Port(a) => commands::port::run(&mut ctx, a),
        Command::Volume(a) => commands::volume::run(&mut ctx, a),
        Command::Version(a) => commands::version::run(&mut ctx, a),
        Command::Info(a) => commands::info::run(&mut ctx, a),
        Command::Completion(_) => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
