//! `isula load [-i FILE]`: stream an archive (file or stdin) to the daemon.

use std::io::IsTerminal;

use isula_api::v1::LoadRequest;
use isula_types::image::{LoadOptions, LoadedImage};
use tokio_stream::wrappers::ReceiverStream;

use crate::ctx::{parse_typed, to_json, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula load [OPTIONS]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    pub input: Option<String>,
    /// Name the loaded image (single-image archives).
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tag: Option<String>,
    /// Suppress the load output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
}

/// Run `isula load`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let input: Box<dyn std::io::Read + Send> = match &a.input {
        Some(p) => Box::new(std::fs::File::open(p).map_err(|e| CliError::new(format!("Error: open {p}: {e}")))?),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::new("requested load from stdin, but stdin is empty"));
            }
            Box::new(std::io::stdin())
        }
    };
    let opts = to_json(&LoadOptions { tag: a.tag.clone() });
    let mut c = ctx.images()?;
    let (rx, errs) = super::stream_reader(input, move |first, data| LoadRequest {
        options_json: if first { opts.clone() } else { String::new() },
        data,
    });
    let reply = ctx.rt.block_on(c.load(ReceiverStream::new(rx)));
    if let Ok(e) = errs.try_recv() {
        return Err(CliError::new(format!("Error: reading the archive: {e}")));
    }
    let images: Vec<LoadedImage> = parse_typed("images_json", &reply?.into_inner().images_json)?;
    if !a.quiet {
        for img in &images {
            if img.names.is_empty() {
                println!("Loaded image ID: {}", img.id);
            }
            for n in &img.names {
                println!("Loaded image: {}", familiar(n));
            }
        }
    }
    Ok(0)
}

/// `docker.io/library/busybox:latest` -> `busybox:latest`, `docker.io/x/y` -> `x/y`.
pub(crate) fn familiar(name: &str) -> &str {
    let n = name.strip_prefix("docker.io/").unwrap_or(name);
    if n.len() != name.len() {
        n.strip_prefix("library/").unwrap_or(n)
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn familiar_names() {
        assert_eq!(super::familiar("docker.io/library/busybox:latest"), "busybox:latest");
        assert_eq!(super::familiar("docker.io/x/y:1"), "x/y:1");
        assert_eq!(super::familiar("localhost:5000/library/y:1"), "localhost:5000/library/y:1");
    }
}
