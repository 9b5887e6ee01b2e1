//! `isula wait`: block until containers stop and print their exit codes.

use isula_api::v1::WaitContainerRequest;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};

/// `isula wait CONTAINER...`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula wait`: prints each container's exit code (status 1 when any failed).
pub fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
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
