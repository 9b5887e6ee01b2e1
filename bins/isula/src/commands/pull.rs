//! `isula pull NAME[:TAG|@DIGEST]` with per-layer progress.

use isula_api::v1::{PullRequest, PullResponse};
use isula_types::progress::{LayerProgress, PullEvent, PullRequestOptions, PullResult};

use crate::ctx::{to_json, Ctx};
use crate::error::CmdResult;
use crate::progress::{read_stream, Progress};

/// `isula pull [OPTIONS] NAME[:TAG|@DIGEST]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Set platform if server is multi-platform capable (os/arch[/variant]).
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Image to pull.
    pub name: String,
}

/// Docker's status text and the byte counts of a layer's progress.
fn layer_status(p: &LayerProgress) -> (String, Option<(u64, u64)>) {
    let t = match p {
        LayerProgress::Waiting => "Waiting",
        LayerProgress::Downloading { current, total } => return ("Downloading".into(), Some((*current, *total))),
        LayerProgress::Verifying => "Verifying Checksum",
        LayerProgress::Extracting => "Extracting",
        LayerProgress::Done => "Pull complete",
        LayerProgress::AlreadyExists => "Already exists",
    };
    (t.to_string(), None)
}

/// `TAG: Pulling from PATH` for the resolved reference (`PATH` without the registry host; the
/// digest in place of the tag for `NAME@DIGEST`, as Docker prints).
fn pulling_from(reference: &str) -> String {
    let (repo, tag) = match reference.split_once('@') {
        Some((r, d)) => (r, d),
        None => reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((reference, "latest")),
    };
    let path = repo.split_once('/').map_or(repo, |(_, p)| p);
    format!("{tag}: Pulling from {path}")
}

/// Run `isula pull`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let has_tag = {
        let last = a.name.rsplit('/').next().unwrap_or("");
        last.contains(':') || a.name.contains('@')
    };
    if !has_tag && !a.quiet {
        println!("Using default tag: latest");
    }
    let opts = to_json(&PullRequestOptions { platform: a.platform.clone(), ..Default::default() });
    let mut c = ctx.images()?;
    let mut stream =
        ctx.rt.block_on(c.pull(PullRequest { reference: a.name.clone(), options_json: opts }))?.into_inner();
    let mut p = Progress::new();
    let mut downloaded = false;
    let parts = |m: PullResponse| (m.event_json, m.result_json);
    let result: PullResult = read_stream(ctx, &mut stream, parts, a.quiet, |ev| match ev {
        PullEvent::Resolved { reference, .. } => println!("{}", pulling_from(&reference)),
        PullEvent::Layer { digest, progress } => {
            let (status, bytes) = layer_status(&progress);
            downloaded |= bytes.is_some();
            p.set(digest.short(), status, bytes);
        }
    })?;
    let reference = result.reference;
    if !a.quiet {
        println!("Digest: {}", result.digest);
        if downloaded {
            println!("Status: Downloaded newer image for {reference}");
        } else {
            println!("Status: Image is up to date for {reference}");
        }
    }
    println!("{reference}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_header() {
        assert_eq!(layer_status(&LayerProgress::Done), ("Pull complete".to_string(), None));
        assert_eq!(layer_status(&LayerProgress::Verifying).0, "Verifying Checksum");
        assert_eq!(
            layer_status(&LayerProgress::Downloading { current: 3, total: 9 }),
            ("Downloading".to_string(), Some((3, 9)))
        );
        assert_eq!(pulling_from("127.0.0.1:5000/lib/busybox:v1"), "v1: Pulling from lib/busybox");
        assert_eq!(pulling_from("docker.io/library/busybox@sha256:ab"), "sha256:ab: Pulling from library/busybox");
        assert_eq!(pulling_from("localhost:5000/busybox"), "latest: Pulling from busybox");
    }
}
