//! `isula import FILE|- [REPOSITORY[:TAG]]`: make an image from a root filesystem tarball.

use isula_api::v1::ImportRequest;
use isula_types::image::ImportOptions;
use tokio_stream::wrappers::ReceiverStream;

use crate::ctx::{to_json, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula import [OPTIONS] file|- [REPOSITORY[:TAG]]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Set commit message for imported image.
    #[arg(short = 'm', long = "message", value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Tarball path, or `-` for STDIN.
    pub file: String,
    /// Name for the image.
    pub reference: Option<String>,
}

/// Run `isula import`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let input: Box<dyn std::io::Read + Send> = if a.file == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&a.file).map_err(|e| CliError::new(format!("Error: open {}: {e}", a.file)))?)
    };
    let opts = to_json(&ImportOptions { reference: a.reference.clone(), message: a.message.clone() });
    let mut c = ctx.images()?;
    let (rx, errs) = super::stream_reader(input, move |first, data| ImportRequest {
        options_json: if first { opts.clone() } else { String::new() },
        data,
    });
    let reply = ctx.rt.block_on(c.import(ReceiverStream::new(rx)));
    if let Ok(e) = errs.try_recv() {
        return Err(CliError::new(format!("Error: reading {}: {e}", a.file)));
    }
    println!("{}", reply?.into_inner().id);
    Ok(0)
}
