//! `isula logout [SERVER]`.

use isula_api::v1::LogoutRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula logout [SERVER]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Registry (`host[:port]`); Docker Hub when absent.
    pub server: Option<String>,
}

/// Run `isula logout`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let mut c = ctx.images()?;
    ctx.rt.block_on(c.logout(LogoutRequest { server: server.clone() }))?;
    println!("Removing login credentials for {server}");
    Ok(0)
}
