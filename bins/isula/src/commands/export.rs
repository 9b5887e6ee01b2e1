//! `isula export`: a container's filesystem as a tar stream.

use std::io::Write;

use isula_api::v1::ContainerRequest;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};

/// `isula export [-o FILE] CONTAINER`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// The container.
    pub container: String,
}

/// Run `isula export`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p).map_err(|e| CliError::engine(format!("failed to export container: {p}: {e}")))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut c = ctx.containers()?;
    let id = a.container.clone();
    ctx.rt.block_on(async {
        let mut s =
            c.export(ContainerRequest { id: id.clone() }).await.map_err(|s| super::no_such(&s, &id))?.into_inner();
        while let Some(m) = s.message().await? {
            out.write_all(&m.data).map_err(|e| CliError::engine(format!("write export: {e}")))?;
        }
        out.flush().map_err(|e| CliError::engine(format!("write export: {e}")))?;
        Ok(0)
    })
}
