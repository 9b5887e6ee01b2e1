//! `isula ps`: Docker's container table, `-q`, `--format`, filters.

use isula_api::v1::ListContainersRequest;
use serde_json::{json, Value};

use crate::ctx::{parse_reply, Ctx};
use crate::error::CmdResult;
use crate::fmt::{ago, utc};

/// `isula ps [OPTIONS]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long = "latest")]
    pub latest: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print containers using a Go template.
    #[arg(long = "format")]
    pub format: Option<String>,
}

/// The COMMAND column: quoted, truncated to 20 characters with an ellipsis.
fn command(cmd: &str, no_trunc: bool) -> String {
    if !no_trunc && cmd.chars().count() > 20 {
        let s: String = cmd.chars().take(19).collect();
        return format!("\"{s}…\"");
    }
    format!("\"{cmd}\"")
}

/// Template rows of the engine's summaries.
pub(crate) fn rows(list: &[Value], no_trunc: bool) -> Vec<Value> {
    list.iter()
        .map(|c| {
            let id = c["Id"].as_str().unwrap_or("");
            let names: Vec<String> = c["Names"]
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_str()).map(|n| n.trim_start_matches('/').to_string()).collect())
                .unwrap_or_default();
            let created = c["Created"].as_i64().unwrap_or(0);
            let labels = c["Labels"]
                .as_object()
                .map(|o| {
                    o.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")
                })
                .unwrap_or_default();
            json!({
                "ID": if no_trunc { id.to_string() } else { id.chars().take(12).collect() },
                "Image": c["Image"],
                "Command": command(c["Command"].as_str().unwrap_or(""), no_trunc),
                "CreatedAt": utc(created),
                "RunningFor": ago(created),
                "Status": c["Status"],
                "State": c["State"],
                "Ports": "",
                "Names": names.join(","),
                "Labels": labels,
                "Mounts": "",
                "Networks": "",
            })
        })
        .collect()
}

/// Column titles.
fn title(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID".into(),
        "RunningFor" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        f => f.to_uppercase(),
    }
}

/// Run `isula ps`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let last = if a.latest { 1 } else { a.last.max(0) };
    let opts = json!({"All": a.all || last > 0, "Filters": a.filter, "Last": last});
    let mut c = ctx.containers()?;
    let reply = ctx.rt.block_on(c.list(ListContainersRequest { options_json: opts.to_string() }))?.into_inner();
    let list = parse_reply("containers_json", &reply.containers_json)?;
    let rows = rows(list.as_array().map(Vec::as_slice).unwrap_or(&[]), a.no_trunc);
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.clone(),
        (None, true) => "{{.ID}}".into(),
        (None, false) => {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".into()
        }
    };
    print!("{}", crate::commands::images::render(&rows, &format, &title)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_shape() {
        let list = vec![json!({"Id": "0123456789abcdef", "Names": ["/web"], "Image": "busybox",
            "Command": "sh -c 'sleep 1000; echo done'", "Created": 0, "State": "running", "Status": "Up 2 seconds",
            "Labels": {"a": "b"}})];
        let r = rows(&list, false);
        assert_eq!(r[0]["ID"], "0123456789ab");
        assert_eq!(r[0]["Names"], "web");
        assert_eq!(r[0]["Command"], "\"sh -c 'sleep 1000; …\"");
        assert_eq!(rows(&list, true)[0]["Command"], "\"sh -c 'sleep 1000; echo done'\"");
        assert_eq!(r[0]["Labels"], "a=b");
        assert_eq!(title("ID"), "CONTAINER ID");
    }
}
