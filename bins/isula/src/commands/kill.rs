//! `isula kill`: send a signal to running containers.

use isula_api::v1::KillContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula kill [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Signal to send to the container.
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula kill`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.kill(KillContainerRequest { id: id.to_string(), signal: a.signal.clone() }))?;
        Ok(())
    })
}
