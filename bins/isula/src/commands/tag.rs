//! `isula tag SOURCE TARGET`.

use isula_api::v1::TagRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Existing image (name, id or id prefix).
    pub source: String,
    /// New name.
    pub target: String,
}

/// Run `isula tag`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.images()?;
    ctx.rt.block_on(c.tag(TagRequest { source: a.source, target: a.target }))?;
    Ok(0)
}
