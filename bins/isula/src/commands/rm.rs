//! `isula rm`: remove containers.

use isula_api::v1::RemoveContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula rm [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
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

/// Run `isula rm`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        let req = RemoveContainerRequest { id: id.to_string(), force: a.force, volumes: a.volumes };
        ctx.rt.block_on(c.remove(req))?;
        Ok(())
    })
}
