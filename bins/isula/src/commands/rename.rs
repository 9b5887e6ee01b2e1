//! `isula rename`: give a container a new name.

use isula_api::v1::RenameContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula rename CONTAINER NEW_NAME`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    pub container: String,
    /// Its new name.
    pub new_name: String,
}

/// Run `isula rename`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.containers()?;
    ctx.rt.block_on(c.rename(RenameContainerRequest { id: a.container, new_name: a.new_name }))?;
    Ok(0)
}
