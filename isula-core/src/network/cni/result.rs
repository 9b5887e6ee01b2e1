//! A typed view of CNI results (0.3.x, 0.4.0 and 1.0.0 share this shape).
//! The raw JSON is kept too: it is what gets passed on as `prevResult`.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// An interface reported by a plugin.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct ResultInterface {
    /// Interface name.
    pub name: String,
    /// MAC address.
    #[serde(default)]
    pub mac: Option<String>,
    /// The netns path when the interface is inside the container, absent for host-side ones.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// An address assigned by a plugin.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct ResultIp {
    /// Address in CIDR form (`10.89.0.2/24`).
    pub address: String,
    /// Gateway, if any.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Index into `interfaces`.
    #[serde(default)]
    pub interface: Option<usize>,
}

/// The result of an ADD.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct CniResult {
    /// The result's version.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// Interfaces created or configured.
    #[serde(default)]
    pub interfaces: Vec<ResultInterface>,
    /// Addresses assigned.
    #[serde(default)]
    pub ips: Vec<ResultIp>,
}

impl CniResult {
    /// Parses a result JSON value.
    pub(crate) fn from_value(v: &Value) -> Result<Self> {
        CniResult::deserialize(v).map_err(|e| Error::internal(format!("malformed CNI result: {e}")))
    }

    /// The interface named `ifname` inside the sandbox, if reported.
    pub(crate) fn sandbox_interface(&self, ifname: &str) -> Option<(usize, &ResultInterface)> {
        self.interfaces.iter().enumerate().find(|(_, i)| i.name == ifname && i.sandbox.is_some())
    }

    /// Addresses of `ifname` (all addresses when the result does not link them to interfaces).
    pub(crate) fn ips_of(&self, ifname: &str) -> Vec<&ResultIp> {
        match self.sandbox_interface(ifname) {
            Some((idx, _)) if self.ips.iter().any(|ip| ip.interface.is_some()) => {
                self.ips.iter().filter(|ip| ip.interface == Some(idx)).collect()
            }
            _ => self.ips.iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_result() {
        let v = serde_json::json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "br0", "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/netns/x"}
            ],
            "ips": [{"address": "10.89.0.2/24", "gateway": "10.89.0.1", "interface": 2}],
            "dns": {}
        });
        let r = CniResult::from_value(&v).unwrap();
        assert_eq!(r.sandbox_interface("eth0").unwrap().1.mac.as_deref(), Some("cc:cc:cc:cc:cc:cc"));
        assert_eq!(r.ips_of("eth0")[0].address, "10.89.0.2/24");
        assert!(r.sandbox_interface("br0").is_none());
        assert!(CniResult::from_value(&serde_json::json!({"ips": 3})).is_err());
    }
}
