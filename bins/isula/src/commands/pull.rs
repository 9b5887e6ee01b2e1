//! `isula pull NAME[:TAG|@DIGEST]` with per-layer progress.

use isula_api::v1::PullRequest;
use serde_json::{json, Value};

use crate::ctx::{parse_reply, Ctx};
use crate::error::CmdResult;
use crate::progress::{short, Progress};

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

/// Status text and byte counts of a layer progress value.
fn layer_status(p: &Value) -> (String, Option<(u64, u64)>) {
    if let Some(s) = p.as_str() {
        let t = match s {
            "Waiting" => "Waiting",
            "Verifying" => "Verifying Checksum",
            "Extracting" => "Extracting",
            "Done" => "Pull complete",
            "AlreadyExists" => "Already exists",
            o => o,
        };
        return (t.to_string(), None);
    }
    if let Some(d) = p.get("Downloading") {
        let cur = d["current"].as_u64().unwrap_or(0);
        let total = d["total"].as_u64().unwrap_or(0);
        return ("Downloading".into(), Some((cur, total)));
    }
    (p.to_string(), None)
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
    let opts = json!({"platform": a.platform}).to_string();
    let mut c = ctx.images()?;
    let mut stream =
        ctx.rt.block_on(c.pull(PullRequest { reference: a.name.clone(), options_json: opts }))?.into_inner();
    let mut p = Progress::new();
    let mut result = Value::Null;
    let mut downloaded = false;
    while let Some(m) = ctx.rt.block_on(stream.message())? {
        if !m.result_json.is_empty() {
            result = parse_reply("result_json", &m.result_json)?;
            continue;
        }
        if a.quiet || m.event_json.is_empty() {
            continue;
        }
        let ev = parse_reply("event_json", &m.event_json)?;
        if let Some(r) = ev.get("Resolved") {
            let reference = r["reference"].as_str().unwrap_or(&a.name);
            let (repo, tag) = match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                Some((r, t)) => (r, t),
                None => (reference.split('@').next().unwrap_or(reference), "latest"),
            };
            let path = repo.split_once('/').map_or(repo, |(_, p)| p);
            println!("{tag}: Pulling from {path}");
        } else if let Some(l) = ev.get("Layer") {
            let (status, bytes) = layer_status(&l["progress"]);
            downloaded |= bytes.is_some();
            p.set(&short(l["digest"].as_str().unwrap_or("")), status, bytes);
        }
    }
    let reference = result["reference"].as_str().unwrap_or(&a.name).to_string();
    if !a.quiet {
        println!("Digest: {}", result["digest"].as_str().unwrap_or(""));
        if downloaded {
            println!("Status: Downloaded newer image for {reference}");
        } else {
            println!("Status: Image is up to date for {reference}");
        }
    }
    println!("{reference}");
    Ok(0)
}
