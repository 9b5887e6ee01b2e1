//! `isula stop`: stop running containers (SIGTERM, then SIGKILL after the timeout).

use isula_api::v1::StopContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula stop [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "time", allow_hyphen_values = true)]
    pub time: Option<i64>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula stop`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let timeout = a.time.unwrap_or(-1);
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.stop(StopContainerRequest { id: id.to_string(), timeout }))?;
        Ok(())
    })
}
