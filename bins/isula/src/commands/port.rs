//! `isula port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a container, from
//! its inspect `NetworkSettings.Ports`, printed as Docker does (`80/tcp -> 0.0.0.0:8080`).

use isula_api::v1::ContainerRequest;
use isula_types::container::inspect::ContainerInspect;
use isula_types::network::NetworkSettings;

use crate::commands::no_such;
use crate::ctx::{parse_typed, Ctx};
use crate::error::{CliError, CmdResult};

/// `isula port CONTAINER [PRIVATE_PORT[/PROTO]]`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Container name or id.
    pub container: String,
    /// Only this container port (`80` means `80/tcp`).
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// `(container port, protocol, host address:port)` per binding, ordered by port then protocol.
fn bindings(settings: &NetworkSettings) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    for (key, list) in &settings.ports {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(port) = port.parse::<u16>() else { continue };
        for b in list {
            let ip = if b.host_ip.is_empty() { "0.0.0.0" } else { b.host_ip.as_str() };
            out.push((port, proto.to_string(), format!("{ip}:{}", b.host_port)));
        }
    }
    out.sort();
    out
}

/// Parse `80`, `80/tcp`, `53/udp` (Docker's `PRIVATE_PORT[/PROTO]`).
fn parse_private(s: &str) -> Result<(u16, String), CliError> {
    let (p, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let port = p.parse::<u16>().map_err(|_| CliError::new(format!("Error: invalid port ({p})")))?;
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(CliError::new(format!("Error: invalid protocol ({proto})")));
    }
    Ok((port, proto))
}

/// Run `isula port`.
pub(crate) fn run(ctx: &mut Ctx, a: Args) -> CmdResult {
    let want = a.port.as_deref().map(parse_private).transpose()?;
    let mut c = ctx.containers()?;
    let reply = ctx
        .rt
        .block_on(c.inspect(ContainerRequest { id: a.container.clone() }))
        .map_err(|s| no_such(&s, &a.container))?
        .into_inner();
    let v: ContainerInspect = parse_typed("inspect_json", &reply.inspect_json)?;
    let all = bindings(&v.network_settings);
    match want {
        Some((port, proto)) => {
            let hits: Vec<&(u16, String, String)> = all.iter().filter(|b| b.0 == port && b.1 == proto).collect();
            if hits.is_empty() {
                return Err(CliError::new(format!(
                    "Error: No public port '{port}/{proto}' published for {}",
                    a.container
                )));
            }
            for (_, _, host) in hits {
                println!("{host}");
            }
        }
        None => {
            for (port, proto, host) in &all {
                println!("{port}/{proto} -> {host}");
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_sorted_and_filtered() {
        let v: NetworkSettings = serde_json::from_value(serde_json::json!({"Ports": {
            "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}],
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "", "HostPort": "5353"}]}}))
        .unwrap();
        let b = bindings(&v);
        assert_eq!(b[0], (53, "udp".to_string(), "0.0.0.0:5353".to_string()));
        assert_eq!(b[1], (80, "tcp".to_string(), "0.0.0.0:8080".to_string()));
        assert_eq!(b[2].2, "127.0.0.1:9000");
        assert!(bindings(&NetworkSettings::default()).is_empty());
        assert_eq!(parse_private("80").unwrap(), (80, "tcp".into()));
        assert_eq!(parse_private("53/UDP").unwrap(), (53, "udp".into()));
        assert!(parse_private("x").is_err());
        assert!(parse_private("80/icmp").is_err());
    }
}
