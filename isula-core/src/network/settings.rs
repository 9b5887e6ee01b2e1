//! Glue for the container lifecycle: turning create options (`--network`, `--ip`, `-p`, `-P`
//! with the image's `EXPOSE`) into attach requests, and attach results into Docker's
//! `NetworkSettings` shape for inspect.

use std::net::IpAddr;

use super::ports::{parse_publish, PortMapping, Protocol};
use super::types::{AttachResult, NetworkAttachRequest};
use crate::error::{Error, Result};

/// How a container is networked, from `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetworkMode {
    /// A private namespace joined to these networks (CNI).
    Networks(Vec<String>),
    /// The host's namespace.
    Host,
    /// A private namespace with only `lo`.
    None,
    /// Another container's namespace.
    Container(String),
}

impl NetworkMode {
    /// Parses the `--network` values (repeatable). Empty, `default` and `bridge` mean the
    /// default network (named `default_network`).
    pub(crate) fn parse(values: &[String], default_network: &str) -> Result<Self> {
        let vals: Vec<&str> = values.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
        let name = |v: &str| if v == "default" || v == "bridge" { default_network.to_string() } else { v.to_string() };
        match vals.as_slice() {
            [] => Ok(NetworkMode::Networks(vec![default_network.to_string()])),
            ["host"] => Ok(NetworkMode::Host),
            ["none"] => Ok(NetworkMode::None),
            [c] if c.starts_with("container:") => {
                let id = &c["container:".len()..];
                if id.is_empty() {
                    return Err(Error::invalid("--network container: needs a container name or id"));
                }
                Ok(NetworkMode::Container(id.to_string()))
            }
            many => {
                if let Some(v) = many.iter().find(|v| matches!(**v, "host" | "none") || v.starts_with("container:")) {
                    return Err(Error::invalid(format!("--network {v} cannot be combined with other networks")));
                }
                let mut out: Vec<String> = Vec::new();
                for v in many {
                    let n = name(v);
                    if !super::cni::config::valid_network_name(&n) {
                        return Err(Error::invalid(format!("invalid network name {v:?}")));
                    }
                    if out.contains(&n) {
                        return Err(Error::invalid(format!("network {n} is given twice")));
                    }
                    out.push(n);
                }
                Ok(NetworkMode::Networks(out))
            }
        }
    }
}

/// Parses an `EXPOSE`/`--expose` entry (`80`, `80/udp`, `8000-8002/tcp`) into (port, protocol) pairs.
pub(crate) fn parse_expose(s: &str) -> Result<Vec<(u16, Protocol)>> {
    let m = parse_publish(s).map_err(|e| e.context("exposed port"))?;
    Ok(m.into_iter().map(|p| (p.container_port, p.protocol)).collect())
}

/// The attach requests for a container: every network of `networks` in order; `--ip` and the
/// published ports go to the first network. `publish` holds `-p` values; with `publish_all`
/// (`-P`) every exposed port not already published gets an allocated host port.
pub(crate) fn attach_requests(
    networks: &[String],
    ip: Option<IpAddr>,
    publish: &[String],
    publish_all: bool,
    exposed: &[String],
    aliases: &[String],
) -> Result<Vec<NetworkAttachRequest>> {
    let mut ports: Vec<PortMapping> = Vec::new();
    for p in publish {
        ports.extend(parse_publish(p)?);
    }
    if publish_all {
        for e in exposed {
            for (port, proto) in parse_expose(e)? {
                if !ports.iter().any(|p| p.container_port == port && p.protocol == proto) {
                    ports.push(PortMapping { host_ip: None, host_port: 0, container_port: port, protocol: proto });
                }
            }
        }
    }
    if networks.is_empty() && (ip.is_some() || !ports.is_empty()) {
        return Err(Error::invalid("--ip and published ports need a network (not --network host/none)"));
    }
    Ok(networks
        .iter()
        .enumerate()
        .map(|(i, n)| NetworkAttachRequest {
            name: n.clone(),
            ip: if i == 0 { ip } else { None },
            port_mappings: if i == 0 { ports.clone() } else { Vec::new() },
            aliases: aliases.to_vec(),
        })
        .collect())
}

pub(crate) use isula_types::network::{EndpointSettings, NetworkSettings, PortBinding};

/// Builds [`NetworkSettings`] from the attach results (in interface order).
pub(crate) fn network_settings(results: &[AttachResult], sandbox_key: &str) -> NetworkSettings {
    let mut s = NetworkSettings { sandbox_key: sandbox_key.to_string(), ..Default::default() };
    for r in results {
        let (ip, len) = match r.ips.first().and_then(|a| a.split_once('/')) {
            Some((ip, l)) => (ip.to_string(), l.parse().unwrap_or(0)),
            None => (r.ips.first().cloned().unwrap_or_default(), 0),
        };
        let ep = EndpointSettings {
            ip_address: ip,
            ip_prefix_len: len,
            gateway: r.gateway.clone().unwrap_or_default(),
            mac_address: r.mac.clone().unwrap_or_default(),
            interface: r.interface.clone(),
            aliases: r.aliases.clone(),
        };
        if s.networks.is_empty() {
            s.ip_address = ep.ip_address.clone();
            s.gateway = ep.gateway.clone();
            s.mac_address = ep.mac_address.clone();
        }
        s.networks.insert(r.network.clone(), ep);
        for p in &r.port_mappings {
            s.ports.entry(format!("{}/{}", p.container_port, p.protocol)).or_default().push(PortBinding {
                host_ip: p.host_ip.map(|i| i.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
                host_port: p.host_port.to_string(),
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn modes() {
        assert_eq!(NetworkMode::parse(&[], "bridge").unwrap(), NetworkMode::Networks(v(&["bridge"])));
        assert_eq!(NetworkMode::parse(&v(&["default"]), "br").unwrap(), NetworkMode::Networks(v(&["br"])));
        assert_eq!(NetworkMode::parse(&v(&["host"]), "b").unwrap(), NetworkMode::Host);
        assert_eq!(NetworkMode::parse(&v(&["none"]), "b").unwrap(), NetworkMode::None);
        assert_eq!(NetworkMode::parse(&v(&["container:x"]), "b").unwrap(), NetworkMode::Container("x".into()));
        assert_eq!(NetworkMode::parse(&v(&["a", "b2"]), "b").unwrap(), NetworkMode::Networks(v(&["a", "b2"])));
        for bad in [v(&["host", "a"]), v(&["a", "a"]), v(&["container:"]), v(&["a b"])] {
            assert_eq!(NetworkMode::parse(&bad, "b").unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn requests_and_settings() {
        let r = attach_requests(
            &v(&["n1", "n2"]),
            Some("10.1.0.5".parse().unwrap()),
            &v(&["8080:80"]),
            true,
            &v(&["80/tcp", "53/udp"]),
            &[],
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].port_mappings.len(), 2, "80/tcp published once, 53/udp allocated");
        assert_eq!(r[0].port_mappings[1].host_port, 0);
        assert!(r[1].port_mappings.is_empty() && r[1].ip.is_none());
        assert!(attach_requests(&[], None, &v(&["80"]), false, &[], &[]).is_err());

        let res = vec![AttachResult {
            network: "n1".into(),
            interface: "eth0".into(),
            ips: vec!["10.1.0.5/24".into()],
            gateway: Some("10.1.0.1".into()),
            mac: Some("aa:bb:cc:dd:ee:ff".into()),
            port_mappings: parse_publish("127.0.0.1:8080:80").unwrap(),
            aliases: vec![],
        }];
        let s = network_settings(&res, "/run/netns/x");
        assert_eq!(s.ip_address, "10.1.0.5");
        assert_eq!(s.networks["n1"].ip_prefix_len, 24);
        assert_eq!(s.ports["80/tcp"][0], PortBinding { host_ip: "127.0.0.1".into(), host_port: "8080".into() });
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["Networks"]["n1"]["IPAddress"], "10.1.0.5");
        assert_eq!(j["Networks"]["n1"]["MacAddress"], "aa:bb:cc:dd:ee:ff");
        assert_eq!(j["Ports"]["80/tcp"][0]["HostPort"], "8080");
    }
}
