//! `isula network create|ls|inspect|rm`: managed networks, with Docker's flags and output.

use std::collections::BTreeMap;

use isula_api::v1::network_service_client::NetworkServiceClient;
use isula_api::v1::{CreateNetworkRequest, InspectNetworkRequest, ListNetworksRequest, RemoveNetworkRequest};
use serde_json::{json, Value};
use tonic::transport::Channel;

use crate::commands::images::render;
use crate::commands::inspect::inspect_each;
use crate::commands::no_such_object;
use crate::ctx::{parse_reply, Ctx};
use crate::error::{CliError, CmdResult};
use crate::fmt::short_id;

/// `isula network COMMAND`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

/// `isula network create [OPTIONS] NETWORK`
#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// Driver to manage the network (only "bridge").
    #[arg(short = 'd', long = "driver", value_name = "DRIVER", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (allocated when not given).
    #[arg(long = "subnet", value_name = "CIDR")]
    pub subnet: Option<String>,
    /// IPv4 gateway for the subnet.
    #[arg(long = "gateway", value_name = "IP")]
    pub gateway: Option<String>,
    /// Restrict external access to the network.
    #[arg(long = "internal")]
    pub internal: bool,
    /// Set metadata on a network (KEY[=VALUE]); repeatable.
    #[arg(long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Network name.
    pub name: String,
}

/// `isula network ls [OPTIONS]`
#[derive(Debug, clap::Args)]
pub(crate) struct LsArgs {
    /// Only display network IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Do not truncate the output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Provide filter values (name=, label=, driver=, id=); repeatable.
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print networks using a Go template (`table`, `{{.Name}}`, `{{json .}}`).
    #[arg(long = "format", value_name = "TEMPLATE")]
    pub format: Option<String>,
}

/// `isula network inspect [OPTIONS] NETWORK [NETWORK...]`
#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Format the output using the given Go template.
    #[arg(short = 'f', long = "format", value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// Networks to inspect (names or id prefixes).
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `isula network rm NETWORK [NETWORK...]`
#[derive(Debug, clap::Args)]
pub(crate) struct RmArgs {
    /// Networks to remove (names or id prefixes).
    #[arg(required = true)]
    pub names: Vec<String>,
}

fn client(ctx: &mut Ctx) -> Result<NetworkServiceClient<Channel>, CliError> {
    Ok(NetworkServiceClient::new(ctx.channel()?).max_decoding_message_size(64 * 1024 * 1024))
}

/// Run `isula network ...`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    match a.cmd {
        Cmd::Create(a) => create(ctx, a),
        Cmd::Ls(a) => ls(ctx, a),
        Cmd::Inspect(a) => inspect(ctx, a),
        Cmd::Rm(a) => rm(ctx, a),
    }
}

/// `--label k=v` / `--label k` into a map (Docker stores a bare key with an empty value).
fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn create(ctx: &mut Ctx, a: CreateArgs) -> CmdResult {
    let opts = json!({
        "name": a.name,
        "driver": a.driver,
        "subnet": a.subnet,
        "gateway": a.gateway,
        "internal": a.internal,
        "labels": parse_labels(&a.label),
    });
    let mut c = client(ctx)?;
    let reply = ctx.rt.block_on(c.create(CreateNetworkRequest { options_json: opts.to_string() }))?.into_inner();
    let v = parse_reply("network_json", &reply.network_json)?;
    println!("{}", v["Id"].as_str().unwrap_or_default());
    Ok(0)
}

/// Engine filters (name, label, driver) and the client-side id prefixes from `--filter` values.
fn parse_filters(filters: &[String]) -> Result<(Value, Vec<String>), CliError> {
    let (mut name, mut label, mut driver, mut id) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            return Err(CliError::engine(format!("bad format of filter (expected name=value): {f}")));
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name.push(v.to_string()),
            "label" => label.push(v.to_string()),
            "driver" => driver.push(v.to_string()),
            "id" => id.push(v.to_string()),
            other => return Err(CliError::new(format!("Error response from daemon: invalid filter '{other}'"))),
        }
    }
    Ok((json!({"name": name, "label": label, "driver": driver}), id))
}

/// One `network ls` row with Docker's `--format` fields.
fn row(n: &Value, no_trunc: bool) -> Value {
    let id = n["Id"].as_str().unwrap_or_default();
    let labels = n["Labels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    json!({
        "ID": if no_trunc { id.to_string() } else { short_id(id) },
        "Name": n["Name"],
        "Driver": n["Driver"],
        "Scope": n["Scope"],
        "IPv6": n["EnableIPv6"],
        "Internal": n["Internal"],
        "Labels": labels,
        "CreatedAt": n["Created"],
    })
}

fn title(field: &str) -> String {
    match field {
        "ID" => "NETWORK ID".into(),
        "CreatedAt" => "CREATED AT".into(),
        f => f.to_uppercase(),
    }
}

fn ls(ctx: &mut Ctx, a: LsArgs) -> CmdResult {
    let (filters, ids) = parse_filters(&a.filter)?;
    let mut c = client(ctx)?;
    let reply = ctx.rt.block_on(c.list(ListNetworksRequest { filters_json: filters.to_string() }))?.into_inner();
    let list = parse_reply("networks_json", &reply.networks_json)?;
    let rows: Vec<Value> = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|n| ids.is_empty() || ids.iter().any(|p| n["Id"].as_str().unwrap_or_default().starts_with(p.as_str())))
        .map(|n| row(n, a.no_trunc))
        .collect();
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.clone(),
        (None, true) => "{{.ID}}".into(),
        (None, false) => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".into(),
    };
    print!("{}", render(&rows, &format, &title)?);
    Ok(0)
}

fn inspect(ctx: &mut Ctx, a: InspectArgs) -> CmdResult {
    inspect_each(ctx, &a.names, a.format.as_deref(), |ctx, name| {
        let mut c = client(ctx)?;
        let r = ctx
            .rt
            .block_on(c.inspect(InspectNetworkRequest { name: name.to_string() }))
            .map_err(|s| no_such_object(&s, "network", name))?;
        parse_reply("network_json", &r.into_inner().network_json)
    })
}

fn rm(ctx: &mut Ctx, a: RmArgs) -> CmdResult {
    super::each(ctx, &a.names, |ctx, name| {
        let mut c = client(ctx)?;
        ctx.rt.block_on(c.remove(RemoveNetworkRequest { name: name.to_string() }))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_labels_and_rows() {
        let (f, ids) = parse_filters(&["name=front".into(), "label=tier=web".into(), "id=ab".into()]).unwrap();
        assert_eq!(f["name"], json!(["front"]));
        assert_eq!(f["label"], json!(["tier=web"]));
        assert_eq!(ids, ["ab"]);
        assert_eq!(parse_filters(&["bogus=1".into()]).unwrap_err().code, 1);
        assert_eq!(parse_filters(&["name".into()]).unwrap_err().code, 125);
        let l = parse_labels(&["a=1".into(), "b".into()]);
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "");
        let n = json!({"Id": "0123456789abcdef0123", "Name": "front", "Driver": "bridge", "Scope": "local",
            "EnableIPv6": false, "Internal": true, "Labels": {"a": "1", "b": "2"}, "Created": "2026-01-01T00:00:00Z"});
        let r = row(&n, false);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(row(&n, true)["ID"], "0123456789abcdef0123");
        let out = render(&[r], "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", &title).unwrap();
        assert_eq!(out, "NETWORK ID     NAME      DRIVER    SCOPE\n0123456789ab   front     bridge    local\n");
    }
}
