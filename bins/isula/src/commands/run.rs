//! `isula run`: create, attach, start and copy stdio until the container exits.

use isula_api::v1::{RemoveContainerRequest, WaitContainerRequest};

use crate::commands::attach::{session, Session, SessionError};
use crate::commands::create::{create, ContainerOpts};
use crate::ctx::Ctx;
use crate::error::start_error_code;
use crate::error::{CliError, CmdResult};

/// `isula run [OPTIONS] IMAGE [COMMAND] [ARG...]`
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Args {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long = "rm")]
    pub rm: bool,
    /// Proxy received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Container options.
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// A refused start: Docker's code (125/126/127) and message; the container is removed with
/// `--rm`.
fn start_failed(ctx: &mut Ctx, id: &str, rm: bool, s: &tonic::Status) -> CliError {
    if rm {
        if let Ok(mut c) = ctx.containers() {
            let req = RemoveContainerRequest { id: id.to_string(), force: true, volumes: true };
            let _ = ctx.rt.block_on(c.remove(req));
        }
    }
    let mut e = CliError::daemon(s);
    e.code = start_error_code(s);
    e
}

/// With `--rm`, return only once the engine has removed the container (as Docker's CLI).
fn wait_removed(ctx: &mut Ctx, id: &str) {
    let Ok(mut c) = ctx.containers() else {
        return;
    };
    let req = WaitContainerRequest { id: id.to_string(), condition: "removed".into() };
    let _ = ctx.rt.block_on(async {
        let mut s = c.wait(req).await?.into_inner();
        s.message().await
    });
}

/// Run `isula run`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    if a.detach && a.rm && a.opts.restart.as_deref().is_some_and(|r| r != "no") {
        return Err(CliError::engine("Conflicting options: --restart and --rm"));
    }
    if a.detach {
        // One call: the daemon creates and starts (and removes with --rm when the start fails).
        let id = create(ctx, &a.opts, a.rm, true)?;
        println!("{id}");
        return Ok(0);
    }
    let id = create(ctx, &a.opts, a.rm, false)?;
    let s = Session { id: &id, stdin: a.opts.interactive, tty: a.opts.tty, proxy: a.sig_proxy, start: true };
    match session(ctx, &s) {
        Ok(code) => {
            if a.rm {
                wait_removed(ctx, &id);
            }
            Ok(code)
        }
        Err(SessionError::Start(st)) => Err(start_failed(ctx, &id, a.rm, &st)),
        Err(SessionError::Other(e)) => Err(e),
    }
}
