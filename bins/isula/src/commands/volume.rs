//! `isula volume create|ls|inspect|rm|prune`: Docker's volume commands, output and exit codes.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use isula_api::v1::volume_service_client::VolumeServiceClient;
use isula_api::v1::{CreateVolumeRequest, ListVolumesRequest, PruneVolumesRequest, RemoveVolumeRequest, VolumeRequest};
use isula_types::time::Timestamp;
use isula_types::volume::{Volume, VolumeCreateOptions};
use serde::Serialize;
use tonic::transport::Channel;

use crate::commands::images::{list_format, render};
use crate::commands::inspect::inspect_each;
use crate::commands::no_such_object;
use crate::ctx::{parse_typed, to_json, Ctx};
use crate::error::{CliError, CmdResult};
use crate::fmt::human_size;

/// `isula volume COMMAND`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: VolumeCmd,
}

#[derive(Debug, clap::Subcommand)]
enum VolumeCmd {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(InspectArgs),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused local volumes.
    Prune(PruneArgs),
}

/// `isula volume create [OPTIONS] [VOLUME]`
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// Specify volume driver name.
    #[arg(short = 'd', long = "driver", default_value = "local")]
    driver: String,
    /// Set metadata for a volume (key=value).
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// Set driver specific options (key=value).
    #[arg(short = 'o', long = "opt", value_name = "OPT")]
    opts: Vec<String>,
    /// Specify volume name.
    #[arg(long = "name", conflicts_with = "volume")]
    name: Option<String>,
    /// Volume name.
    volume: Option<String>,
}

/// `isula volume ls [OPTIONS]`
#[derive(Debug, clap::Args)]
struct LsArgs {
    /// Only display volume names.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Provide filter values (e.g. 'dangling=true', 'name=x', 'label=k=v', 'driver=local').
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
    /// Pretty-print volumes using a Go template (`table`, `{{.Name}}`, `{{json .}}`).
    #[arg(long = "format", value_name = "TEMPLATE")]
    format: Option<String>,
}

/// `isula volume inspect [OPTIONS] VOLUME [VOLUME...]`
#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Format the output using the given Go template.
    #[arg(short = 'f', long = "format", value_name = "TEMPLATE")]
    format: Option<String>,
    /// Volumes to inspect.
    #[arg(required = true)]
    names: Vec<String>,
}

/// `isula volume rm [OPTIONS] VOLUME [VOLUME...]`
#[derive(Debug, clap::Args)]
struct RmArgs {
    /// Force the removal of one or more volumes (unknown volumes are not an error).
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Volumes to remove.
    #[arg(required = true)]
    names: Vec<String>,
}

/// `isula volume prune [OPTIONS]`
#[derive(Debug, clap::Args)]
struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Provide filter values (e.g. 'label=<label>').
    #[arg(long = "filter", value_name = "FILTER")]
    filter: Vec<String>,
}

/// Run `isula volume ...`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    match a.cmd {
        VolumeCmd::Create(a) => create(ctx, a),
        VolumeCmd::Ls(a) => ls(ctx, a),
        VolumeCmd::Inspect(a) => inspect(ctx, a),
        VolumeCmd::Rm(a) => rm(ctx, a),
        VolumeCmd::Prune(a) => prune(ctx, a),
    }
}

fn client(ctx: &mut Ctx) -> Result<VolumeServiceClient<Channel>, CliError> {
    Ok(VolumeServiceClient::new(ctx.channel()?).max_decoding_message_size(64 * 1024 * 1024))
}

/// `key=value` pairs (a bare `key` has an empty value when `bare_ok`).
fn pairs(list: &[String], what: &str, bare_ok: bool) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for s in list {
        match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if bare_ok && !s.is_empty() => {
                out.insert(s.clone(), String::new());
            }
            _ => return Err(CliError::engine(format!("invalid argument {s:?} for {what}: expected key=value"))),
        }
    }
    Ok(out)
}

fn create(ctx: &mut Ctx, a: CreateArgs) -> CmdResult {
    let opts = VolumeCreateOptions {
        name: a.name.or(a.volume),
        driver: a.driver,
        labels: pairs(&a.labels, "--label", true)?,
        driver_opts: pairs(&a.opts, "--opt", false)?,
    };
    let mut c = client(ctx)?;
    let r = ctx.rt.block_on(c.create(CreateVolumeRequest { options_json: to_json(&opts) }))?.into_inner();
    let v: Volume = parse_typed("volume_json", &r.volume_json)?;
    println!("{}", v.name);
    Ok(0)
}

/// One `volume ls` row: Docker's `--format` fields of a volume.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    /// Volume name.
    name: String,
    /// `local`.
    driver: String,
    /// `local`.
    scope: String,
    /// Host directory.
    mountpoint: String,
    /// Creation time.
    created_at: Timestamp,
    /// `k=v,k2=v2`.
    labels: String,
    /// Always `N/A` (not counted).
    links: &'static str,
    /// Always `N/A` (not measured).
    size: &'static str,
}

/// One row per volume.
fn rows(list: &[Volume]) -> Vec<Row> {
    list.iter()
        .map(|v| Row {
            name: v.name.clone(),
            driver: v.driver.clone(),
            scope: v.scope.clone(),
            mountpoint: v.mountpoint.clone(),
            created_at: v.created_at,
            labels: v.labels.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(","),
            links: "N/A",
            size: "N/A",
        })
        .collect()
}

/// Column titles of the volume fields.
fn title(field: &str) -> String {
    match field {
        "Name" => "VOLUME NAME".into(),
        "CreatedAt" => "CREATED AT".into(),
        f => f.to_uppercase(),
    }
}

fn ls(ctx: &mut Ctx, a: LsArgs) -> CmdResult {
    let mut c = client(ctx)?;
    let r = ctx.rt.block_on(c.list(ListVolumesRequest { filters: a.filter.clone() }))?.into_inner();
    let list: Vec<Volume> = parse_typed("volumes_json", &r.volumes_json)?;
    let rows = rows(&list);
    let format = list_format(&a.format, a.quiet, "{{.Name}}", "table {{.Driver}}\t{{.Name}}");
    print!("{}", render(&rows, &format, &title)?);
    Ok(0)
}

fn inspect(ctx: &mut Ctx, a: InspectArgs) -> CmdResult {
    inspect_each(ctx, &a.names, a.format.as_deref(), |ctx, name| {
        let mut c = client(ctx)?;
        let r = ctx
            .rt
            .block_on(c.inspect(VolumeRequest { name: name.to_string() }))
            .map_err(|s| no_such_object(&s, "volume", name))?;
        parse_typed::<Volume>("volume_json", &r.into_inner().volume_json)
    })
}

fn rm(ctx: &mut Ctx, a: RmArgs) -> CmdResult {
    super::each(ctx, &a.names, |ctx, name| {
        let mut c = client(ctx)?;
        let req = RemoveVolumeRequest { name: name.to_string(), force: a.force };
        ctx.rt.block_on(c.remove(req)).map_err(|s| no_such_object(&s, "volume", name))?;
        Ok(())
    })
}

/// Ask on the terminal; true for `y`/`yes`.
fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn prune(ctx: &mut Ctx, a: PruneArgs) -> CmdResult {
    if !a.force
        && !confirm(
            "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?",
        )
    {
        return Ok(0);
    }
    let mut c = client(ctx)?;
    let r = ctx.rt.block_on(c.prune(PruneVolumesRequest { filters: a.filter }))?.into_inner();
    let mut out = String::new();
    if !r.volumes_deleted.is_empty() {
        out.push_str("Deleted Volumes:\n");
        for n in &r.volumes_deleted {
            out.push_str(n);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(r.space_reclaimed)));
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_pairs() {
        let list = vec![Volume {
            name: "data".into(),
            driver: "local".into(),
            scope: "local".into(),
            mountpoint: "/r/volumes/data/_data".into(),
            created_at: "2024-01-01T00:00:00Z".parse().unwrap(),
            labels: [("a".to_string(), "b".to_string()), ("c".to_string(), String::new())].into(),
            options: BTreeMap::new(),
        }];
        let r = rows(&list);
        assert_eq!(r[0].labels, "a=b,c=");
        let v = crate::ctx::value_of(&r[0]);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["CreatedAt", "Driver", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size"]);
        let out = render(&r, "table {{.Driver}}\t{{.Name}}", &title).unwrap();
        assert_eq!(out, "DRIVER    VOLUME NAME\nlocal     data\n");
        assert_eq!(render(&r, "{{.Name}} {{.Mountpoint}}", &title).unwrap(), "data /r/volumes/data/_data\n");
        let p = pairs(&["a=b".into(), "c".into()], "--label", true).unwrap();
        assert_eq!(p["a"], "b");
        assert_eq!(p["c"], "");
        assert!(pairs(&["c".into()], "--opt", false).is_err());
        assert!(pairs(&["=x".into()], "--label", true).is_err());
    }
}
