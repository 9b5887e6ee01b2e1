//! `isula push NAME[:TAG]` with per-blob progress.

use isula_api::v1::PushRequest;
use serde_json::Value;

use crate::ctx::{parse_reply, Ctx};
use crate::error::CmdResult;
use crate::progress::{short, Progress};

/// `isula push [OPTIONS] NAME[:TAG]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Suppress verbose output.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Image to push.
    pub name: String,
}

fn blob_status(p: &Value) -> (String, Option<(u64, u64)>) {
    if let Some(s) = p.as_str() {
        let t = match s {
            "AlreadyExists" => "Layer already exists",
            o => o,
        };
        return (t.to_string(), None);
    }
    if let Some(d) = p.get("Pushing") {
        return ("Pushing".into(), Some((d["current"].as_u64().unwrap_or(0), d["total"].as_u64().unwrap_or(0))));
    }
    if let Some(m) = p.get("Mounted") {
        return (format!("Mounted from {}", m["from"].as_str().unwrap_or("")), None);
    }
    (p.to_string(), None)
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
    let mut result = Value::Null;
    while let Some(m) = ctx.rt.block_on(stream.message())? {
        if !m.result_json.is_empty() {
            result = parse_reply("result_json", &m.result_json)?;
            continue;
        }
        if a.quiet || m.event_json.is_empty() {
            continue;
        }
        let ev = parse_reply("event_json", &m.event_json)?;
        if let Some(b) = ev.get("Blob") {
            let (status, bytes) = blob_status(&b["progress"]);
            p.set(&short(b["digest"].as_str().unwrap_or("")), status, bytes);
        }
    }
    let tag = a.name.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or("latest", |(_, t)| t);
    println!("{tag}: digest: {}", result["digest"].as_str().unwrap_or(""));
    Ok(0)
}
