//! `isula update`: change the resources or restart policy of containers.

use isula_api::v1::UpdateContainerRequest;
use serde_json::json;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};
use crate::resources::ResourceOpts;

/// `isula update [OPTIONS] CONTAINER...`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Resource limits.
    #[command(flatten)]
    pub resources: ResourceOpts,
    /// Restart policy to apply when a container exits.
    #[arg(long = "restart")]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula update`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let res = a.resources.for_update()?;
    let mut opts = json!({"Resources": res});
    if let Some(r) = &a.restart {
        let (name, n) = r.split_once(':').unwrap_or((r, "0"));
        let n: u32 = n.parse().map_err(|_| CliError::engine(format!("invalid restart policy {r:?}")))?;
        opts["RestartPolicy"] = json!({"Name": name, "MaximumRetryCount": n});
    }
    let options_json = opts.to_string();
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        let req = UpdateContainerRequest { id: id.to_string(), options_json: options_json.clone() };
        ctx.rt.block_on(c.update(req))?;
        Ok(())
    })
}
