//! Networks: the data of `network create/ls/inspect`, container attachments and published
//! ports, in Docker's shapes (PascalCase keys; `network inspect` is Docker's object).
//!
//! Types that the engine also keeps on disk ([`NetworkAttachRequest`], [`AttachResult`],
//! [`PortMapping`]) still read the snake_case keys of records written before (serde aliases).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Transport protocol of a published port (`"tcp"` / `"udp"` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One published port: host `host_ip:host_port` forwards to the container's `container_port`.
/// `host_port == 0` means "pick a free ephemeral port".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortMapping {
    /// Host address to listen on; `None` means all addresses.
    #[serde(alias = "host_ip", default)]
    pub host_ip: Option<IpAddr>,
    /// Host port (0 = allocate).
    #[serde(alias = "host_port")]
    pub host_port: u16,
    /// Port inside the container.
    #[serde(alias = "container_port")]
    pub container_port: u16,
    /// Protocol.
    #[serde(alias = "protocol")]
    pub protocol: Protocol,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        write!(f, "{}:{}/{}", self.host_port, self.container_port, self.protocol)
    }
}

/// Options of `network create`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateOptions {
    /// Network name: letters, digits, `_`, `.`, `-`, starting with a letter or digit.
    pub name: String,
    /// Driver; only `"bridge"` (the default when empty) is supported.
    pub driver: String,
    /// Subnet in CIDR form; allocated automatically when `None`.
    pub subnet: Option<String>,
    /// Gateway address; the subnet's first address when `None`.
    pub gateway: Option<String>,
    /// No route out of the network and no address on the host side.
    pub internal: bool,
    /// User labels.
    pub labels: BTreeMap<String, String>,
}

/// What the engine knows about one network (the source of [`Network`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInfo {
    /// Network name.
    pub name: String,
    /// 64-hex id (managed networks) or the sha256 of the configuration file (others).
    pub id: String,
    /// Driver (`bridge`, or the first plugin type for networks from the CNI conf dir).
    pub driver: String,
    /// Subnet (CIDR), when known.
    pub subnet: Option<String>,
    /// Gateway, when known.
    pub gateway: Option<String>,
    /// Host bridge device, when known.
    pub bridge: Option<String>,
    /// Internal network (no outside access).
    pub internal: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time, seconds since the epoch (0 when unknown).
    pub created: u64,
    /// True when created by this engine (removable); false for the admin's CNI conf dir.
    pub managed: bool,
    /// cniVersion of the configuration.
    #[serde(rename = "CNIVersion")]
    pub cni_version: String,
    /// Plugin types in order.
    pub plugins: Vec<String>,
    /// The configuration file.
    pub config_file: PathBuf,
    /// Ids of attached containers, sorted.
    pub containers: Vec<String>,
}

/// Filters of `network ls`; an empty list matches everything, several values of one key are
/// ORed, different keys must all match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkFilters {
    /// Substring of the name.
    pub name: Vec<String>,
    /// `key` or `key=value`.
    pub label: Vec<String>,
    /// Exact driver.
    pub driver: Vec<String>,
    /// Prefix of the id.
    pub id: Vec<String>,
}

impl NetworkFilters {
    /// Whether `n` passes the filters.
    pub fn matches(&self, n: &NetworkInfo) -> bool {
        (self.name.is_empty() || self.name.iter().any(|s| n.name.contains(s.as_str())))
            && (self.driver.is_empty() || self.driver.contains(&n.driver))
            && (self.id.is_empty() || self.id.iter().any(|p| n.id.starts_with(p.as_str())))
            && (self.label.is_empty()
                || self.label.iter().any(|l| match l.split_once('=') {
                    Some((k, v)) => n.labels.get(k).map(String::as_str) == Some(v),
                    None => n.labels.contains_key(l.as_str()),
                }))
    }
}

/// One network a container joins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkAttachRequest {
    /// Network name.
    #[serde(alias = "name")]
    pub name: String,
    /// Requested IPv4 address (must lie in the subnet).
    #[serde(rename = "IP", alias = "ip")]
    pub ip: Option<IpAddr>,
    /// Published ports (`host_port` 0 is allocated from the ephemeral range).
    #[serde(alias = "port_mappings")]
    pub port_mappings: Vec<PortMapping>,
    /// DNS aliases (recorded; name resolution between containers is not provided by the plugins).
    #[serde(alias = "aliases")]
    pub aliases: Vec<String>,
}

/// The outcome of joining one network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AttachResult {
    /// Network name.
    #[serde(alias = "network")]
    pub network: String,
    /// Interface inside the container (`eth0`, `eth1`, …).
    #[serde(alias = "interface")]
    pub interface: String,
    /// Addresses in CIDR form.
    #[serde(rename = "IPs", alias = "ips")]
    pub ips: Vec<String>,
    /// Gateway, if any.
    #[serde(alias = "gateway")]
    pub gateway: Option<String>,
    /// MAC address of the interface.
    #[serde(rename = "MacAddress", alias = "mac")]
    pub mac: Option<String>,
    /// The published ports with allocated host ports filled in.
    #[serde(alias = "port_mappings")]
    pub port_mappings: Vec<PortMapping>,
    /// Aliases from the request.
    #[serde(alias = "aliases")]
    pub aliases: Vec<String>,
}

impl AttachResult {
    /// The first address without its prefix length (Docker's `IPAddress`).
    pub fn ip_address(&self) -> Option<&str> {
        self.ips.first().map(|s| s.split('/').next().unwrap_or(s))
    }
}

/// One network's entry in a container's `NetworkSettings.Networks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    /// Address without prefix.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// Gateway.
    pub gateway: String,
    /// MAC address.
    pub mac_address: String,
    /// Interface in the container.
    pub interface: String,
    /// Aliases.
    pub aliases: Vec<String>,
}

/// One host binding in a container's `NetworkSettings.Ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// Host address (`0.0.0.0` for all).
    pub host_ip: String,
    /// Host port as a string (Docker's shape).
    pub host_port: String,
}

/// Docker's `NetworkSettings` of container inspect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    /// The namespace path.
    pub sandbox_key: String,
    /// Address on the first network (Docker's top-level `IPAddress`).
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Gateway of the first network.
    pub gateway: String,
    /// MAC of the first network's interface.
    pub mac_address: String,
    /// Per network.
    pub networks: BTreeMap<String, EndpointSettings>,
    /// `"80/tcp"` → host bindings.
    pub ports: BTreeMap<String, Vec<PortBinding>>,
}

/// Docker's `docker network inspect` object (and each entry of `network ls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    /// Network name.
    pub name: String,
    /// Network id.
    pub id: String,
    /// Creation time (the Unix epoch when unknown).
    pub created: Timestamp,
    /// `local`.
    pub scope: String,
    /// Driver.
    pub driver: String,
    /// Always false (IPv4 only).
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Address management.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// No outside access.
    pub internal: bool,
    /// Always false.
    pub attachable: bool,
    /// Always false.
    pub ingress: bool,
    /// Always empty.
    pub config_from: ConfigReference,
    /// Always false.
    pub config_only: bool,
    /// Attached containers by id.
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options (`com.docker.network.bridge.name`).
    pub options: BTreeMap<String, String>,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// isula: created by this engine (removable), not from the CNI conf dir.
    pub managed: bool,
    /// isula: cniVersion of the configuration.
    #[serde(rename = "CNIVersion")]
    pub cni_version: String,
    /// isula: CNI plugin types in order.
    pub plugins: Vec<String>,
    /// isula: the CNI configuration file.
    pub config_file: PathBuf,
}

/// `IPAM` of [`Network`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    /// `default`.
    pub driver: String,
    /// Always empty.
    pub options: BTreeMap<String, String>,
    /// One entry when the subnet or gateway is known.
    pub config: Vec<IpamConfig>,
}

/// One address range of [`Ipam`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    /// Subnet (CIDR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// `ConfigFrom` of [`Network`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    /// Always empty.
    pub network: String,
}

/// One attached container in [`Network::containers`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkContainer {
    /// Container name (without the leading `/`).
    pub name: String,
    /// Always empty.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// MAC address of the container's interface.
    pub mac_address: String,
    /// `address/prefix` on this network.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// Always empty.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

impl Network {
    /// Docker's view of `info`, with the attached containers' details in `containers`.
    pub fn from_info(info: &NetworkInfo, containers: BTreeMap<String, NetworkContainer>) -> Network {
        let config = if info.subnet.is_some() || info.gateway.is_some() {
            vec![IpamConfig { subnet: info.subnet.clone(), gateway: info.gateway.clone() }]
        } else {
            Vec::new()
        };
        let options = info.bridge.iter().map(|b| ("com.docker.network.bridge.name".to_string(), b.clone())).collect();
        Network {
            name: info.name.clone(),
            id: info.id.clone(),
            created: Timestamp::from_unix_secs(i64::try_from(info.created).unwrap_or(i64::MAX)),
            scope: "local".into(),
            driver: info.driver.clone(),
            enable_ipv6: false,
            ipam: Ipam { driver: "default".into(), options: BTreeMap::new(), config },
            internal: info.internal,
            attachable: false,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers,
            options,
            labels: info.labels.clone(),
            managed: info.managed,
            cni_version: info.cni_version.clone(),
            plugins: info.plugins.clone(),
            config_file: info.config_file.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> NetworkInfo {
        NetworkInfo {
            name: "front".into(),
            id: "ab12".into(),
            driver: "bridge".into(),
            subnet: Some("10.1.0.0/24".into()),
            gateway: Some("10.1.0.1".into()),
            bridge: Some("isula-br1".into()),
            internal: true,
            labels: BTreeMap::from([("tier".to_string(), "web".to_string())]),
            created: 0,
            managed: true,
            cni_version: "1.0.0".into(),
            plugins: vec!["bridge".into()],
            config_file: PathBuf::from("/n/front.conflist"),
            containers: vec!["c1".into()],
        }
    }

    #[test]
    fn inspect_keys_are_dockers() {
        let c = NetworkContainer {
            name: "web".into(),
            mac_address: "aa".into(),
            ipv4_address: "10.1.0.2/24".into(),
            ..Default::default()
        };
        let n = Network::from_info(&info(), BTreeMap::from([("c1".to_string(), c)]));
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(
            v,
            json!({
                "Name": "front", "Id": "ab12", "Created": "1970-01-01T00:00:00Z", "Scope": "local",
                "Driver": "bridge", "EnableIPv6": false,
                "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]},
                "Internal": true, "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""},
                "ConfigOnly": false,
                "Containers": {"c1": {"Name": "web", "EndpointID": "", "MacAddress": "aa",
                    "IPv4Address": "10.1.0.2/24", "IPv6Address": ""}},
                "Options": {"com.docker.network.bridge.name": "isula-br1"},
                "Labels": {"tier": "web"},
                "Managed": true, "CNIVersion": "1.0.0", "Plugins": ["bridge"], "ConfigFile": "/n/front.conflist",
            })
        );
        let back: Network = serde_json::from_value(v).unwrap();
        assert_eq!(back, n);
        let bare = NetworkInfo { subnet: None, gateway: None, bridge: None, ..info() };
        let v = serde_json::to_value(Network::from_info(&bare, BTreeMap::new())).unwrap();
        assert_eq!(v["IPAM"]["Config"], json!([]));
        assert_eq!(v["Options"], json!({}));
    }

    #[test]
    fn option_and_filter_keys_are_pascal_case() {
        let o: NetworkCreateOptions =
            serde_json::from_str(r#"{"Name":"n","Subnet":"10.2.0.0/24","Internal":true,"Labels":{"a":"b"}}"#).unwrap();
        assert_eq!(o.name, "n");
        assert_eq!(o.subnet.as_deref(), Some("10.2.0.0/24"));
        assert!(o.internal);
        assert_eq!(o.labels["a"], "b");
        let f = NetworkFilters { name: vec!["fr".into()], id: vec!["ab".into()], ..Default::default() };
        assert_eq!(serde_json::to_value(&f).unwrap(), json!({"Name": ["fr"], "Label": [], "Driver": [], "Id": ["ab"]}));
        assert!(f.matches(&info()));
        assert!(!NetworkFilters { id: vec!["cd".into()], ..Default::default() }.matches(&info()));
        assert!(NetworkFilters { label: vec!["tier=web".into()], ..Default::default() }.matches(&info()));
        assert!(!NetworkFilters { label: vec!["tier=db".into()], ..Default::default() }.matches(&info()));
    }

    #[test]
    fn attachments_write_pascal_case_and_read_old_records() {
        let p = PortMapping { host_ip: None, host_port: 8080, container_port: 80, protocol: Protocol::Tcp };
        let r = NetworkAttachRequest {
            name: "n".into(),
            ip: Some("10.1.0.9".parse().unwrap()),
            port_mappings: vec![p.clone()],
            aliases: vec!["a".into()],
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"Name": "n", "IP": "10.1.0.9", "Aliases": ["a"],
                "PortMappings": [{"HostIp": null, "HostPort": 8080, "ContainerPort": 80, "Protocol": "tcp"}]})
        );
        // Records written before the PascalCase keys still load.
        let old: NetworkAttachRequest = serde_json::from_value(json!({"name": "n", "ip": "10.1.0.9", "aliases": ["a"],
            "port_mappings": [{"host_ip": null, "host_port": 8080, "container_port": 80, "protocol": "tcp"}]}))
        .unwrap();
        assert_eq!(old, r);
        let res: AttachResult = serde_json::from_value(json!({"network": "n", "interface": "eth0",
            "ips": ["10.1.0.9/24"], "gateway": "10.1.0.1", "mac": "aa", "port_mappings": [], "aliases": []}))
        .unwrap();
        assert_eq!(res.ip_address(), Some("10.1.0.9"));
        assert_eq!(res.mac.as_deref(), Some("aa"));
        let v = serde_json::to_value(&res).unwrap();
        assert_eq!(v["IPs"], json!(["10.1.0.9/24"]));
        assert_eq!(v["MacAddress"], "aa");
        assert_eq!(serde_json::from_value::<AttachResult>(v).unwrap(), res);
        assert_eq!(p.to_string(), "8080:80/tcp");
    }
}
