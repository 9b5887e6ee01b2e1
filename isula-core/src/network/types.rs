//! Plain data types of the network API (serde-serialisable, for the daemon, CLI and C ABI).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use super::ports::PortMapping;

/// Options of `network create`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkCreateOptions {
    /// Network name: letters, digits, `_`, `.`, `-`, starting with a letter or digit.
    pub name: String,
    /// Driver; only `"bridge"` (the default when empty) is supported.
    #[serde(default)]
    pub driver: String,
    /// Subnet in CIDR form; allocated automatically when `None`.
    #[serde(default)]
    pub subnet: Option<String>,
    /// Gateway address; the subnet's first address when `None`.
    #[serde(default)]
    pub gateway: Option<String>,
    /// No route out of the network and no address on the host side.
    #[serde(default)]
    pub internal: bool,
    /// User labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What `network inspect` / `list` report about one network.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    pub cni_version: String,
    /// Plugin types in order.
    pub plugins: Vec<String>,
    /// The configuration file.
    pub config_file: PathBuf,
    /// Ids of attached containers, sorted.
    pub containers: Vec<String>,
}

/// Filters of `network ls`; an empty list matches everything, several values of one key are ORed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkFilters {
    /// Substring of the name.
    #[serde(default)]
    pub name: Vec<String>,
    /// `key` or `key=value`.
    #[serde(default)]
    pub label: Vec<String>,
    /// Exact driver.
    #[serde(default)]
    pub driver: Vec<String>,
}

/// One network a container joins.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkAttachRequest {
    /// Network name.
    pub name: String,
    /// Requested IPv4 address (must lie in the subnet).
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// Published ports (`host_port` 0 is allocated from the ephemeral range).
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    /// DNS aliases (recorded; name resolution between containers is not provided by the plugins).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// The outcome of joining one network.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttachResult {
    /// Network name.
    pub network: String,
    /// Interface inside the container (`eth0`, `eth1`, …).
    pub interface: String,
    /// Addresses in CIDR form.
    pub ips: Vec<String>,
    /// Gateway, if any.
    pub gateway: Option<String>,
    /// MAC address of the interface.
    pub mac: Option<String>,
    /// The published ports with allocated host ports filled in.
    pub port_mappings: Vec<PortMapping>,
    /// Aliases from the request.
    pub aliases: Vec<String>,
}

impl AttachResult {
    /// The first address without its prefix length (Docker's `IPAddress`).
    pub fn ip_address(&self) -> Option<&str> {
        self.ips.first().map(|s| s.split('/').next().unwrap_or(s))
    }
}
