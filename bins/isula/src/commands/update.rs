//! `isula update`: change the resources or restart policy of containers.

use isula_api::v1::UpdateContainerRequest;
use isula_types::container::options::UpdateOptions;
use isula_types::container::parse::parse_restart_policy;

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

impl Args {
    /// The engine's typed update options; a bad flag is a usage error (125).
    fn update_options(&self) -> Result<UpdateOptions, CliError> {
        Ok(UpdateOptions {
            resources: self.resources.resources()?,
            restart_policy: self.restart.as_deref().map(parse_restart_policy).transpose()?,
        })
    }
}

/// Run `isula update`: prints each name given on success, the daemon's message on failure
/// (status 1 when any failed), as Docker.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let opts = a.update_options()?;
    let options_json =
        serde_json::to_string(&opts).map_err(|e| CliError::engine(format!("encode update options: {e}")))?;
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        let req = UpdateContainerRequest { id: id.to_string(), options_json: options_json.clone() };
        ctx.rt.block_on(c.update(req))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use isula_types::container::options::RestartPolicy;

    fn args(restart: Option<&str>, memory: Option<&str>) -> Args {
        Args {
            resources: ResourceOpts { memory: memory.map(String::from), ..ResourceOpts::default() },
            restart: restart.map(String::from),
            containers: vec!["c".into()],
        }
    }

    #[test]
    fn typed_update_options() {
        let o = args(Some("on-failure:2"), Some("96m")).update_options().unwrap();
        assert_eq!(o.resources.memory, Some(96 << 20));
        assert_eq!(o.restart_policy, Some(RestartPolicy { name: "on-failure".into(), maximum_retry_count: 2 }));
        let o = args(None, None).update_options().unwrap();
        assert_eq!(o, UpdateOptions::default());
        let e = args(Some("sometimes"), None).update_options().unwrap_err();
        assert_eq!(e.code, 125);
        assert_eq!(e.msg, parse_restart_policy("sometimes").unwrap_err().to_string());
    }
}
