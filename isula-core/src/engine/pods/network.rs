//! A pod's network: a namespace pinned at `<state>/netns/<pod id>` with `lo` up, and with
//! `network-plugin cni` the first network configuration of `cni-conf-dir` (lexical order, as
//! kubelet's runtimes pick it) added as `eth0`, with the Kubernetes CNI_ARGS and the
//! capability arguments `portMappings`, `dns` and `bandwidth`. Its DEL uses the cached
//! result (the container network code's teardown of the pod id).

use isula_types::pod::PodConfig;
use serde_json::{json, Map, Value};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::network::cni::{self, CniResult, NetworkConfigList, RuntimeConf};

/// Interface name of the pod's CNI attachment.
pub(super) const POD_IFNAME: &str = "eth0";

/// The pod network as set up: namespace path, CNI network name, addresses.
#[derive(Debug, Default)]
pub(super) struct PodNetwork {
    pub netns: String,
    pub network: String,
    pub ips: Vec<String>,
}

/// `CNI_ARGS` of a pod.
fn cni_args(id: &str, c: &PodConfig) -> Vec<(String, String)> {
    vec![
        ("IgnoreUnknown".into(), "1".into()),
        ("K8S_POD_NAMESPACE".into(), c.namespace.clone()),
        ("K8S_POD_NAME".into(), c.name.clone()),
        ("K8S_POD_INFRA_CONTAINER_ID".into(), id.into()),
        ("K8S_POD_UID".into(), c.uid.clone()),
    ]
}

/// Capability arguments of a pod: `portMappings` (those with a host port), `dns`, `bandwidth`.
fn capability_args(c: &PodConfig) -> Map<String, Value> {
    let mut m = Map::new();
    let ports: Vec<Value> = c
        .port_mappings
        .iter()
        .filter(|p| p.host_port != 0)
        .map(|p| {
            let proto = if p.protocol.is_empty() { "tcp".to_string() } else { p.protocol.to_ascii_lowercase() };
            let mut v = json!({ "hostPort": p.host_port, "containerPort": p.container_port, "protocol": proto });
            if !p.host_ip.is_empty() {
                v["hostIP"] = json!(p.host_ip);
            }
            v
        })
        .collect();
    if !ports.is_empty() {
        m.insert("portMappings".into(), Value::Array(ports));
    }
    if let Some(d) = &c.dns {
        m.insert("dns".into(), json!({ "servers": d.servers, "searches": d.searches, "options": d.options }));
    }
    if let Some(b) = &c.bandwidth {
        let mut v = Map::new();
        // As kubelet's runtimes: a rate without a burst limit of its own.
        if b.ingress_rate > 0 {
            v.insert("ingressRate".into(), json!(b.ingress_rate));
            v.insert("ingressBurst".into(), json!(i32::MAX));
        }
        if b.egress_rate > 0 {
            v.insert("egressRate".into(), json!(b.egress_rate));
            v.insert("egressBurst".into(), json!(i32::MAX));
        }
        if !v.is_empty() {
            m.insert("bandwidth".into(), Value::Object(v));
        }
    }
    m
}

/// The addresses of `eth0` in a CNI result (IPv4 first), without prefix lengths.
fn result_ips(v: &Value) -> Result<Vec<String>> {
    let r = CniResult::from_value(v)?;
    let mut ips: Vec<String> =
        r.ips_of(POD_IFNAME).iter().map(|ip| ip.address.split('/').next().unwrap_or("").to_string()).collect();
    ips.retain(|s| !s.is_empty());
    ips.sort_by_key(|s| s.contains(':'));
    Ok(ips)
}

impl Engine {
    /// The network configuration pods use with `network-plugin cni`: the first file of
    /// `cni-conf-dir`. `FailedPrecondition` when there is none.
    pub(super) fn pod_cni_config(&self) -> Result<NetworkConfigList> {
        let dir = &self.inner.config.cni_conf_dir;
        cni::config::load_dir(dir)?.into_iter().next().ok_or_else(|| {
            Error::precondition(format!(
                "network plugin cni: no network configuration (.conflist, .conf or .json) in {}",
                dir.display()
            ))
        })
    }

    /// Sets up the network of pod `id`; on failure nothing is left.
    pub(super) fn pod_network_up(&self, id: &str, c: &PodConfig) -> Result<PodNetwork> {
        if c.namespaces.host_network {
            return Ok(PodNetwork::default());
        }
        let list = match self.inner.config.network_plugin.as_str() {
            "" | "none" => None,
            "cni" => Some(self.pod_cni_config()?),
            other => {
                return Err(Error::invalid(format!("network-plugin {other:?}: expected cni or nothing")));
            }
        };
        let (ns, _) = self.network_setup(id, &[])?;
        crate::failpoint::hit("pod.run.after-netns");
        let mut out = PodNetwork { netns: ns.display().to_string(), ..Default::default() };
        if let Some(list) = list {
            let rt = RuntimeConf {
                container_id: id.to_string(),
                netns: ns.clone(),
                ifname: POD_IFNAME.into(),
                args: cni_args(id, c),
                capability_args: capability_args(c),
            };
            let res = self.inner.networks.cni().add(&list, &rt).and_then(|v| result_ips(&v));
            match res {
                Ok(ips) => {
                    crate::failpoint::hit("pod.run.after-cni-add");
                    out.network = list.name.clone();
                    out.ips = ips;
                }
                Err(e) => {
                    if let Err(te) = self.network_teardown(id) {
                        log::warn!("network teardown of pod {id} after a failed CNI ADD: {te}");
                    }
                    return Err(e.context(format!("set up the network of pod {id}")));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isula_types::pod::{Bandwidth, DnsConfig, PodPortMapping};

    #[test]
    fn capability_args_of_a_pod() {
        let c = PodConfig {
            port_mappings: vec![
                PodPortMapping { protocol: "TCP".into(), container_port: 80, host_port: 8080, host_ip: String::new() },
                PodPortMapping { protocol: String::new(), container_port: 81, host_port: 0, host_ip: String::new() },
                PodPortMapping {
                    protocol: "udp".into(),
                    container_port: 53,
                    host_port: 5353,
                    host_ip: "127.0.0.1".into(),
                },
            ],
            dns: Some(DnsConfig { servers: vec!["10.0.0.10".into()], ..Default::default() }),
            bandwidth: Some(Bandwidth { ingress_rate: 1000, egress_rate: 0 }),
            ..Default::default()
        };
        let m = Value::Object(capability_args(&c));
        assert_eq!(
            m["portMappings"],
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                   {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}])
        );
        assert_eq!(m["dns"]["servers"], json!(["10.0.0.10"]));
        assert_eq!(m["bandwidth"], json!({"ingressRate": 1000, "ingressBurst": i32::MAX}));
        assert!(capability_args(&PodConfig::default()).is_empty());
        let args = cni_args(
            "abc",
            &PodConfig { name: "n".into(), namespace: "ns".into(), uid: "u".into(), ..Default::default() },
        );
        assert_eq!(args[0], ("IgnoreUnknown".to_string(), "1".to_string()));
        assert_eq!(args[3], ("K8S_POD_INFRA_CONTAINER_ID".to_string(), "abc".to_string()));
    }

    #[test]
    fn ips_from_a_result() {
        let v = json!({"cniVersion": "1.0.0",
            "interfaces": [{"name": "cni0"}, {"name": "eth0", "sandbox": "/x"}],
            "ips": [{"address": "fd00::5/64", "interface": 1}, {"address": "10.1.0.5/24", "interface": 1}]});
        assert_eq!(result_ips(&v).unwrap(), ["10.1.0.5", "fd00::5"]);
    }
}
