//! `isula push NAME[:TAG]` with per-blob progress.

use isula_api::v1::PushRequest;
use isula_types::progress::{PushEvent, PushProgress, PushResult};

use crate::ctx::{parse_typed, Ctx};
use crate::error::{CliError, CmdResult};
use crate::progress::Progress;

/// `isula push [OPTIONS] NAME[:TAG]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Image to push.
    pub name: String,
}

/// Docker's status text and the byte counts of a blob's progress.
fn blob_status(p: &PushProgress) -> (String, Option<(u64, u64)>) {
    match p {
        PushProgress::Preparing => ("Preparing".into(), None),
        PushProgress::Pushing { current, total } => ("Pushing".into(), Some((*current, *total))),
        PushProgress::AlreadyExists => ("Layer already exists".into(), None),
        PushProgress::Mounted { from } => (format!("Mounted from {from}"), None),
        PushProgress::Pushed => ("Pushed".into(), None),
    }
}

/// Run `isula push`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let mut c = ctx.images()?;
    if !a.quiet {
        let repo = a.name.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or(a.name.as_str(), |(r, _)| r);
        println!("The push refers to repository [{repo}]");
    }
    let mut stream =
        ctx.rt.block_on(c.push(PushRequest { reference: a.name.clone(), options_json: String::new() }))?.into_inner();
    let mut p = Progress::new();
    let mut result: Option<PushResult> = None;
    while let Some(m) = ctx.rt.block_on(stream.message())? {
        if !m.result_json.is_empty() {
            result = Some(parse_typed("result_json", &m.result_json)?);
            continue;
        }
        if a.quiet || m.event_json.is_empty() {
            continue;
        }
        match parse_typed("event_json", &m.event_json)? {
            PushEvent::Blob { digest, progress } => {
                let (status, bytes) = blob_status(&progress);
                p.set(digest.short(), status, bytes);
            }
        }
    }
    let result =
        result.ok_or_else(|| CliError::engine("bad reply from isulad: the push stream ended without a result"))?;
    let tag = a.name.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or("latest", |(_, t)| t);
    println!("{tag}: digest: {}", result.digest);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(blob_status(&PushProgress::AlreadyExists).0, "Layer already exists");
        assert_eq!(blob_status(&PushProgress::Mounted { from: "lib/a".into() }).0, "Mounted from lib/a");
        assert_eq!(blob_status(&PushProgress::Pushing { current: 1, total: 2 }).1, Some((1, 2)));
    }
}
