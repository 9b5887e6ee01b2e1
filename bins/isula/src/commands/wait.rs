//! `isula wait`: block until containers stop and print their exit codes.

use isula_api::v1::WaitContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;

/// `isula wait CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula wait`: prints each container's exit code (status 1 when any failed).
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    super::each_output(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        let r: Result<i32, tonic::Status> = ctx.rt.block_on(async {
            let req = WaitContainerRequest { id: id.to_string(), condition: String::new() };
            let mut s = c.wait(req).await?.into_inner();
            Ok(s.message().await?.map(|m| m.exit_code).unwrap_or(-1))
        });
        Ok(r?.to_string())
    })
}
