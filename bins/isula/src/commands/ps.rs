//! `isula ps`: Docker's container table, `-q`, `--format`, filters.

use isula_api::v1::ListContainersRequest;
use isula_types::container::types::{display_ports, ContainerSummary, ListOptions};

use crate::ctx::{parse_typed, to_json, Ctx};
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

/// One row of the `ps` table, the fields a `--format` template sees (Docker's names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Row {
    /// Id, 12 characters unless `--no-trunc`.
    #[serde(rename = "ID")]
    pub id: String,
    /// Image as the user named it.
    pub image: String,
    /// Quoted command.
    pub command: String,
    /// Creation time as Go prints it.
    pub created_at: String,
    /// `3 minutes ago`.
    pub running_for: String,
    /// Human status.
    pub status: String,
    /// State name.
    pub state: String,
    /// Published ports, Docker's form.
    pub ports: String,
    /// Names without `/`, comma separated.
    pub names: String,
    /// `k=v` labels, comma separated.
    pub labels: String,
    /// Not tracked: empty.
    pub mounts: String,
    /// Not tracked: empty.
    pub networks: String,
}

/// Table rows of the engine's summaries.
pub(crate) fn rows(list: &[ContainerSummary], no_trunc: bool) -> Vec<Row> {
    list.iter()
        .map(|c| Row {
            id: if no_trunc { c.id.clone() } else { c.id.chars().take(12).collect() },
            image: c.image.clone(),
            command: command(&c.command, no_trunc),
            created_at: utc(c.created),
            running_for: ago(c.created),
            status: c.status.clone(),
            state: c.state.clone(),
            ports: display_ports(&c.ports),
            names: c.names.iter().map(|n| n.trim_start_matches('/')).collect::<Vec<_>>().join(","),
            labels: c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            mounts: String::new(),
            networks: String::new(),
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
    let opts = ListOptions { all: a.all || last > 0, filters: a.filter.clone(), last: last as usize };
    let mut c = ctx.containers()?;
    let reply = ctx.rt.block_on(c.list(ListContainersRequest { options_json: to_json(&opts) }))?.into_inner();
    let list: Vec<ContainerSummary> = parse_typed("containers_json", &reply.containers_json)?;
    let rows = rows(&list, a.no_trunc);
    let table = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    let format = crate::commands::images::list_format(&a.format, a.quiet, "{{.ID}}", table);
    print!("{}", crate::commands::images::render(&rows, &format, &title)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_shape() {
        let list = vec![ContainerSummary {
            id: "0123456789abcdef".into(),
            names: vec!["/web".into()],
            image: "busybox".into(),
            image_id: String::new(),
            command: "sh -c 'sleep 1000; echo done'".into(),
            created: 0,
            ports: vec![isula_types::container::types::Port {
                ip: "0.0.0.0".into(),
                private_port: 80,
                public_port: 8080,
                kind: "tcp".into(),
            }],
            state: "running".into(),
            status: "Up 2 seconds".into(),
            labels: [("a".to_string(), "b".to_string())].into(),
            pod: String::new(),
        }];
        let r = rows(&list, false);
        assert_eq!(r[0].id, "0123456789ab");
        assert_eq!(r[0].names, "web");
        assert_eq!(r[0].command, "\"sh -c 'sleep 1000; …\"");
        assert_eq!(rows(&list, true)[0].command, "\"sh -c 'sleep 1000; echo done'\"");
        assert_eq!(r[0].labels, "a=b");
        assert_eq!(r[0].ports, "0.0.0.0:8080->80/tcp");
        let v = serde_json::to_value(&r[0]).unwrap();
        assert_eq!(v["ID"], "0123456789ab");
        assert_eq!(v["RunningFor"], r[0].running_for.as_str());
        assert_eq!(title("ID"), "CONTAINER ID");
    }
}
