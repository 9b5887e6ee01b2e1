//! `isula save [-o FILE] IMAGE...`: a docker-archive to a file or stdout.

use std::io::{IsTerminal, Write};

use isula_api::v1::SaveRequest;

use crate::ctx::Ctx;
use crate::error::{CliError, CmdResult};

/// `isula save [OPTIONS] IMAGE [IMAGE...]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// Images to save.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Run `isula save`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    if a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::new("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
    }
    let mut c = ctx.images()?;
    let mut stream = ctx.rt.block_on(c.save(SaveRequest { names: a.images.clone() }))?.into_inner();
    // The first message decides between data and an error before any file is made.
    let first = ctx.rt.block_on(stream.message())?;
    let (mut out, tmp): (Box<dyn Write>, Option<(String, String)>) = match &a.output {
        Some(p) => {
            let tmp = format!("{p}.isula-save-{}", std::process::id());
            let f = std::fs::File::create(&tmp).map_err(|e| CliError::new(format!("Error: create {p}: {e}")))?;
            (Box::new(std::io::BufWriter::new(f)), Some((tmp, p.clone())))
        }
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let result = (|| -> Result<(), CliError> {
        let mut next = first;
        while let Some(chunk) = next {
            out.write_all(&chunk.data).map_err(|e| CliError::new(format!("Error: write: {e}")))?;
            next = ctx.rt.block_on(stream.message())?;
        }
        out.flush().map_err(|e| CliError::new(format!("Error: write: {e}")))
    })();
    drop(out);
    match (result, tmp) {
        (Ok(()), Some((tmp, dst))) => {
            std::fs::rename(&tmp, &dst).map_err(|e| CliError::new(format!("Error: rename to {dst}: {e}")))?;
            Ok(0)
        }
        (Ok(()), None) => Ok(0),
        (Err(e), tmp) => {
            if let Some((tmp, _)) = tmp {
                let _ = std::fs::remove_file(tmp);
            }
            Err(e)
        }
    }
}
