//! `isula top`: the processes of a container, as `ps` prints them.

use isula_api::v1::TopContainerRequest;

use crate::ctx::Ctx;
use crate::error::CmdResult;
use crate::fmt::align;

/// `isula top CONTAINER [ps OPTIONS]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    pub container: String,
    /// Options of ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Run `isula top`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.containers()?;
    let r = ctx
        .rt
        .block_on(c.top(TopContainerRequest { id: a.container.clone(), ps_args: a.ps_args }))
        .map_err(|s| super::no_such(&s, &a.container))?
        .into_inner();
    let mut lines = vec![r.titles.join("\t")];
    lines.extend(r.processes.iter().map(|p| p.fields.join("\t")));
    print!("{}", align(&lines));
    Ok(0)
}
