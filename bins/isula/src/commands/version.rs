//! `isula version`: client and server versions.

use isula_api::v1::VersionRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula version`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Run `isula version`: the client part always, then the server's (or the connection error).
pub(crate) fn run(ctx: &mut Ctx, _a: Args) -> CmdResult {
    println!("Client:");
    println!(" Version:      {}", env!("CARGO_PKG_VERSION"));
    println!(" API version:  {}", isula_api::API_VERSION);
    println!(" OS/Arch:      {}/{}", std::env::consts::OS, std::env::consts::ARCH);
    println!();
    let mut c = ctx.system()?;
    let v = ctx.rt.block_on(c.version(VersionRequest {}))?.into_inner();
    println!("Server:");
    println!(" Version:      {}", v.version);
    println!(" API version:  {}", v.api_version);
    println!(" Git commit:   {}", v.git_commit);
    println!(" OS/Arch:      {}/{}", v.os, v.arch);
    println!(" Kernel:       {}", v.kernel_version);
    Ok(0)
}
