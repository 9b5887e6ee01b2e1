//! `isula rmi [-f] IMAGE...`: prints `Untagged:`/`Deleted:` lines; continues past failures
//! and exits 1 when any failed, as Docker.

use isula_api::v1::RemoveImageRequest;
use isula_types::image::{RemoveImageOptions, RemovedImage};

use crate::ctx::{parse_typed, to_json, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula rmi [OPTIONS] IMAGE [IMAGE...]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Force removal of the image.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents.
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images to remove.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Run `isula rmi`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.images()?;
    let opts = to_json(&RemoveImageOptions { force: a.force, no_prune: a.no_prune });
    let mut failed = false;
    for name in &a.images {
        let req = RemoveImageRequest { name: name.clone(), options_json: opts.clone() };
        match ctx.rt.block_on(c.remove(req)) {
            Ok(r) => {
                let removed: Vec<RemovedImage> = parse_typed("removed_json", &r.into_inner().removed_json)?;
                for item in removed {
                    match item {
                        RemovedImage::Untagged(n) => println!("Untagged: {n}"),
                        RemovedImage::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {
                failed = true;
                eprintln!("Error response from daemon: No such image: {name}");
            }
            Err(s) => {
                let e = CliError::daemon(&s);
                if e.code != 1 {
                    return Err(e);
                }
                failed = true;
                eprintln!("{e}");
            }
        }
    }
    Ok(i32::from(failed))
}
