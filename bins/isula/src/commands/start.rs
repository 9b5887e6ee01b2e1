//! `isula start [-a] [-i] CONTAINER...`

use isula_api::v1::ContainerRequest;
use isula_types::container::inspect::ContainerInspect;

use crate::commands::attach::{session, Session, SessionError};
use crate::ctx::{parse_typed, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula start [OPTIONS] CONTAINER [CONTAINER...]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Run `isula start`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.containers()?;
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(CliError::engine("you cannot start and attach multiple containers at once"));
        }
        let id = &a.containers[0];
        let info =
            ctx.rt.block_on(c.inspect(ContainerRequest { id: id.clone() })).map_err(|s| super::no_such(&s, id))?;
        let v: ContainerInspect = parse_typed("inspect_json", &info.into_inner().inspect_json)?;
        let tty = v.config.tty;
        let s = Session { id, stdin: a.interactive, tty, proxy: true, start: true };
        return match session(ctx, &s) {
            Ok(code) => Ok(code),
            Err(SessionError::Start(st)) => Err(CliError::daemon(&st)),
            Err(SessionError::Other(e)) => Err(e),
        };
    }
    super::each(ctx, &a.containers, |ctx, id| {
        let mut c = ctx.containers()?;
        ctx.rt.block_on(c.start(ContainerRequest { id: id.to_string() }))?;
        Ok(())
    })
}
