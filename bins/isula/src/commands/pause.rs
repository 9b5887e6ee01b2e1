//! `isula pause`: freeze every process of containers.

use isula_api::v1::ContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula pause CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula pause`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.pause(ContainerRequest { id: id.to_string() }))?;
        Ok(())
    })
}
