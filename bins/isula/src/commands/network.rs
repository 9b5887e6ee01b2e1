//! `isula network create|ls|inspect|rm`: managed networks, with Docker's flags and output.

use std::collections::BTreeMap;

use isula_api::v1::network_service_client::NetworkServiceClient;
use isula_api::v1::{CreateNetworkRequest, InspectNetworkRequest, ListNetworksRequest, RemoveNetworkRequest};
use isula_types::network::{Network, NetworkCreateOptions, NetworkFilters};
use isula_types::time::Timestamp;
use serde::Serialize;
use tonic::transport::Channel;

use crate::commands::images::{list_format, render};
use crate::commands::inspect::inspect_each;
use crate::commands::no_such_object;
use crate::ctx::{parse_typed, to_json, Ctx};
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
    let opts = NetworkCreateOptions {
        name: a.name,
        driver: a.driver,
        subnet: a.subnet,
        gateway: a.gateway,
        internal: a.internal,
        labels: parse_labels(&a.label),
    };
    let mut c = client(ctx)?;
    let reply = ctx.rt.block_on(c.create(CreateNetworkRequest { options_json: to_json(&opts) }))?.into_inner();
    let n: Network = parse_typed("network_json", &reply.network_json)?;
    println!("{}", n.id);
    Ok(0)
}

/// The engine filters (name, label, driver, id prefix) of `--filter` values.
fn parse_filters(filters: &[String]) -> Result<NetworkFilters, CliError> {
    let mut f = NetworkFilters::default();
    for s in filters {
        let Some((k, v)) = s.split_once('=') else {
            return Err(CliError::engine(format!("bad format of filter (expected name=value): {s}")));
        };
        let list = match k.trim().to_ascii_lowercase().as_str() {
            "name" => &mut f.name,
            "label" => &mut f.label,
            "driver" => &mut f.driver,
            "id" => &mut f.id,
            other => return Err(CliError::new(format!("Error response from daemon: invalid filter '{other}'"))),
        };
        list.push(v.to_string());
    }
    Ok(f)
}

/// One `network ls` row: Docker's `--format` fields.
#[derive(Debug, Serialize)]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Driver")]
    driver: String,
    #[serde(rename = "Scope")]
    scope: String,
    #[serde(rename = "IPv6")]
    ipv6: bool,
    #[serde(rename = "Internal")]
    internal: bool,
    /// `k=v,k2=v2`.
    #[serde(rename = "Labels")]
    labels: String,
    #[serde(rename = "CreatedAt")]
    created_at: Timestamp,
}

/// The `network ls` row of `n`.
fn row(n: &Network, no_trunc: bool) -> Row {
    Row {
        id: if no_trunc { n.id.clone() } else { short_id(&n.id) },
        name: n.name.clone(),
        driver: n.driver.clone(),
        scope: n.scope.clone(),
        ipv6: n.enable_ipv6,
        internal: n.internal,
        labels: n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        created_at: n.created,
    }
}

fn title(field: &str) -> String {
    match field {
        "ID" => "NETWORK ID".into(),
        "CreatedAt" => "CREATED AT".into(),
        f => f.to_uppercase(),
    }
}

fn ls(ctx: &mut Ctx, a: LsArgs) -> CmdResult {
    let filters = parse_filters(&a.filter)?;
    let mut c = client(ctx)?;
    let reply = ctx.rt.block_on(c.list(ListNetworksRequest { filters_json: to_json(&filters) }))?.into_inner();
    let list: Vec<Network> = parse_typed("networks_json", &reply.networks_json)?;
    let rows: Vec<Row> = list.iter().map(|n| row(n, a.no_trunc)).collect();
    let format = list_format(&a.format, a.quiet, "{{.ID}}", "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}");
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
        parse_typed::<Network>("network_json", &r.into_inner().network_json)
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
    use std::path::PathBuf;

    #[test]
    fn filters_labels_and_rows() {
        let f = parse_filters(&["name=front".into(), "label=tier=web".into(), "id=ab".into()]).unwrap();
        assert_eq!(f.name, ["front"]);
        assert_eq!(f.label, ["tier=web"]);
        assert_eq!(f.id, ["ab"]);
        assert!(f.driver.is_empty());
        assert_eq!(parse_filters(&["bogus=1".into()]).unwrap_err().code, 1);
        assert_eq!(parse_filters(&["name".into()]).unwrap_err().code, 125);
        let l = parse_labels(&["a=1".into(), "b".into()]);
        assert_eq!(l["a"], "1");
        assert_eq!(l["b"], "");
        let info = isula_types::network::NetworkInfo {
            name: "front".into(),
            id: "0123456789abcdef0123".into(),
            driver: "bridge".into(),
            subnet: None,
            gateway: None,
            bridge: None,
            internal: true,
            labels: BTreeMap::from([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]),
            created: 1_767_225_600,
            managed: true,
            cni_version: "1.0.0".into(),
            plugins: vec![],
            config_file: PathBuf::new(),
            containers: vec![],
        };
        let n = Network::from_info(&info, BTreeMap::new());
        let r = crate::ctx::value_of(&row(&n, false));
        assert_eq!(
            r,
            serde_json::json!({"ID": "0123456789ab", "Name": "front", "Driver": "bridge", "Scope": "local",
                "IPv6": false, "Internal": true, "Labels": "a=1,b=2", "CreatedAt": "2026-01-01T00:00:00Z"})
        );
        assert_eq!(row(&n, true).id, "0123456789abcdef0123");
        let out = render(&[r], "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", &title).unwrap();
        assert_eq!(out, "NETWORK ID     NAME      DRIVER    SCOPE\n0123456789ab   front     bridge    local\n");
    }
}
