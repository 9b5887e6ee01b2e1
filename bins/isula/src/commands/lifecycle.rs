//! The one-call container verbs: `stop`, `kill`, `rm`, `pause`, `unpause`, `restart`,
//! `rename`, `wait`. Each acts on every named container, prints the name it was given on
//! success and the daemon's message on failure (status 1 when any failed), as Docker.

use isula_api::v1::*;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};

/// `isula stop [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time", allow_hyphen_values = true)]
    pub time: Option<i64>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `isula kill [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `isula rm [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `isula pause|unpause CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct IdsArgs {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `isula rename CONTAINER NEW_NAME`
#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    /// The container.
    pub container: String,
    /// Its new name.
    pub new_name: String,
}

/// Run `isula stop`.
pub fn stop(ctx: &mut Ctx, a: StopArgs) -> CmdResult {
    let timeout = a.time.unwrap_or(-1);
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.stop(StopContainerRequest { id: id.to_string(), timeout }))?;
        Ok(())
    })
}

/// Run `isula restart`.
pub fn restart(ctx: &mut Ctx, a: StopArgs) -> CmdResult {
    let timeout = a.time.unwrap_or(-1);
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.restart(StopContainerRequest { id: id.to_string(), timeout }))?;
        Ok(())
    })
}

/// Run `isula kill`.
pub fn kill(ctx: &mut Ctx, a: KillArgs) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.kill(KillContainerRequest { id: id.to_string(), signal: a.signal.clone() }))?;
        Ok(())
    })
}

/// Run `isula rm`.
pub fn rm(ctx: &mut Ctx, a: RmArgs) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        let req = RemoveContainerRequest { id: id.to_string(), force: a.force, volumes: a.volumes };
        ctx.rt.block_on(c.remove(req))?;
        Ok(())
    })
}

/// Run `isula pause`.
pub fn pause(ctx: &mut Ctx, a: IdsArgs) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.pause(ContainerRequest { id: id.to_string() }))?;
        Ok(())
    })
}

/// Run `isula unpause`.
pub fn unpause(ctx: &mut Ctx, a: IdsArgs) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.unpause(ContainerRequest { id: id.to_string() }))?;
        Ok(())
    })
}

/// Run `isula wait`: prints each container's exit code.
pub fn wait(ctx: &mut Ctx, a: IdsArgs) -> CmdResult {
    let mut failed = false;
    for id in &a.containers {
        let mut c = ctx.containers()?;
        let r: Result<i32, tonic::Status> = ctx.rt.block_on(async {
            let mut s = c.wait(WaitContainerRequest { id: id.clone(), condition: String::new() }).await?.into_inner();
            Ok(s.message().await?.map(|m| m.exit_code).unwrap_or(-1))
        });
        match r {
            Ok(code) => println!("{code}"),
            Err(s) => {
                let e = CliError::daemon(&s);
                if e.code != 1 {
                    return Err(e);
                }
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// Run `isula rename`.
pub fn rename(ctx: &mut Ctx, a: RenameArgs) -> CmdResult {
    let mut c = ctx.containers()?;
    ctx.rt.block_on(c.rename(RenameContainerRequest { id: a.container, new_name: a.new_name }))?;
    Ok(0)
}
