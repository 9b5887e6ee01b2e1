//! RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox over
//! the engine's pods (`engine.pods()`).

use std::collections::HashMap;

use isula_core::{Bandwidth, DnsConfig, PodConfig, PodInspect, PodNamespaces, PodPortMapping, PodState};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::container_config::seccomp_profile;
use super::meta::{self, ignore_not_found, nanos, require_id};
use super::runtime::runtime_for_handler;
use super::Shared;
use crate::blocking::blocking;
use crate::memory::trim_after;

/// A Kubernetes quantity (`10M`, `1Gi`, `500k`, `1e6`) in units.
fn quantity(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        e if e.starts_with('e') || e.starts_with('E') => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    let v = n * mult;
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

/// Bandwidth limits from the pod's `kubernetes.io/{ingress,egress}-bandwidth` annotations.
fn bandwidth(annotations: &HashMap<String, String>) -> Result<Option<Bandwidth>, Status> {
    let get = |k: &str| -> Result<u64, Status> {
        match annotations.get(k) {
            None => Ok(0),
            Some(v) => {
                quantity(v).ok_or_else(|| Status::invalid_argument(format!("annotation {k}: {v:?} is not a quantity")))
            }
        }
    };
    let b = Bandwidth {
        ingress_rate: get("kubernetes.io/ingress-bandwidth")?,
        egress_rate: get("kubernetes.io/egress-bandwidth")?,
    };
    Ok((b.ingress_rate > 0 || b.egress_rate > 0).then_some(b))
}

fn protocol(p: i32) -> Result<&'static str, Status> {
    match cri::Protocol::try_from(p) {
        Ok(cri::Protocol::Tcp) => Ok("tcp"),
        Ok(cri::Protocol::Udp) => Ok("udp"),
        Ok(cri::Protocol::Sctp) => Ok("sctp"),
        Err(_) => Err(Status::invalid_argument(format!("unknown port protocol {p}"))),
    }
}

fn port(what: &str, p: i32) -> Result<u16, Status> {
    u16::try_from(p).map_err(|_| Status::invalid_argument(format!("{what} {p} is out of range (0 to 65535)")))
}

/// The engine's pod config for a CRI sandbox config and runtime (already checked).
pub(crate) fn pod_config(c: &cri::PodSandboxConfig, runtime: String) -> Result<PodConfig, Status> {
    let md = c.metadata.clone().ok_or_else(|| Status::invalid_argument("pod sandbox config has no metadata"))?;
    if md.name.is_empty() || md.namespace.is_empty() || md.uid.is_empty() {
        return Err(Status::invalid_argument("pod sandbox metadata needs name, namespace and uid"));
    }
    if !c.log_directory.is_empty() && !c.log_directory.starts_with('/') {
        return Err(Status::invalid_argument(format!("log_directory {:?} is not an absolute path", c.log_directory)));
    }
    let mut port_mappings = Vec::new();
    for m in &c.port_mappings {
        let container_port = port("container_port", m.container_port)?;
        if container_port == 0 {
            return Err(Status::invalid_argument("port mapping without a container_port"));
        }
        port_mappings.push(PodPortMapping {
            protocol: protocol(m.protocol)?.into(),
            container_port,
            host_port: port("host_port", m.host_port)?,
            host_ip: m.host_ip.clone(),
        });
    }
    let linux = c.linux.clone().unwrap_or_default();
    let sc = linux.security_context.clone().unwrap_or_default();
    let ns = sc.namespace_options.clone().unwrap_or_default();
    let node = cri::NamespaceMode::Node as i32;
    // As for containers: no profile means unconfined (kubelet always sends one); the
    // deprecated path field is still honoured (older kubelets send only it).
    #[allow(deprecated)]
    let legacy_seccomp = sc.seccomp_profile_path.as_str();
    let seccomp_profile = seccomp_profile(sc.seccomp.as_ref(), legacy_seccomp)
        .map_err(|e| Status::invalid_argument(format!("pod {}", e.message())))?;
    Ok(PodConfig {
        name: md.name,
        namespace: md.namespace,
        uid: md.uid,
        attempt: md.attempt,
        hostname: c.hostname.clone(),
        log_directory: c.log_directory.clone(),
        dns: c.dns_config.as_ref().map(|d| DnsConfig {
            servers: d.servers.clone(),
            searches: d.searches.clone(),
            options: d.options.clone(),
        }),
        port_mappings,
        labels: meta::to_btree(&c.labels),
        annotations: meta::to_btree(&c.annotations),
        cgroup_parent: linux.cgroup_parent.clone(),
        sysctls: meta::to_btree(&linux.sysctls),
        namespaces: PodNamespaces {
            host_network: ns.network == node,
            host_pid: ns.pid == node,
            host_ipc: ns.ipc == node,
            share_pid: ns.pid == cri::NamespaceMode::Pod as i32,
        },
        runtime,
        bandwidth: bandwidth(&c.annotations)?,
        privileged: sc.privileged,
        seccomp_profile,
    })
}

/// RunPodSandbox.
pub(crate) async fn run(shared: &Shared, r: cri::RunPodSandboxRequest) -> Result<cri::RunPodSandboxResponse, Status> {
    let config = r.config.ok_or_else(|| Status::invalid_argument("RunPodSandbox needs a config"))?;
    let runtime = runtime_for_handler(&shared.config, &r.runtime_handler)?;
    let pc = pod_config(&config, runtime)?;
    let engine = shared.engine.clone();
    let what = format!("{}/{} (attempt {})", pc.namespace, pc.name, pc.attempt);
    let id = blocking(move || engine.pods().run(&pc)).await?;
    log::info!("CRI: pod {what} is {id}");
    Ok(cri::RunPodSandboxResponse { pod_sandbox_id: id })
}

/// StopPodSandbox; an unknown pod is a success.
pub(crate) async fn stop(shared: &Shared, id: String) -> Result<(), Status> {
    require_id("pod sandbox", &id)?;
    let engine = shared.engine.clone();
    ignore_not_found(blocking(move || trim_after(|| engine.pods().stop(&id))).await)
}

/// RemovePodSandbox; an unknown pod is a success.
pub(crate) async fn remove(shared: &Shared, id: String) -> Result<(), Status> {
    require_id("pod sandbox", &id)?;
    let engine = shared.engine.clone();
    ignore_not_found(blocking(move || trim_after(|| engine.pods().remove(&id))).await)
}

fn state(s: PodState) -> i32 {
    match s {
        PodState::Ready => cri::PodSandboxState::SandboxReady as i32,
        PodState::NotReady => cri::PodSandboxState::SandboxNotready as i32,
    }
}

fn metadata(p: &PodInspect) -> cri::PodSandboxMetadata {
    cri::PodSandboxMetadata {
        name: p.config.name.clone(),
        uid: p.config.uid.clone(),
        namespace: p.config.namespace.clone(),
        attempt: p.config.attempt,
    }
}

/// The CRI status of an engine pod.
pub(crate) fn cri_status(p: &PodInspect) -> cri::PodSandboxStatus {
    let n = &p.config.namespaces;
    let mode = |host: bool, other: cri::NamespaceMode| if host { cri::NamespaceMode::Node } else { other } as i32;
    cri::PodSandboxStatus {
        id: p.id.clone(),
        metadata: Some(metadata(p)),
        state: state(p.state),
        created_at: nanos(p.created),
        network: Some(cri::PodSandboxNetworkStatus {
            ip: p.ip.clone(),
            additional_ips: p.additional_ips.iter().map(|ip| cri::PodIp { ip: ip.clone() }).collect(),
        }),
        linux: Some(cri::LinuxPodSandboxStatus {
            namespaces: Some(cri::Namespace {
                options: Some(cri::NamespaceOption {
                    network: mode(n.host_network, cri::NamespaceMode::Pod),
                    pid: mode(
                        n.host_pid,
                        if n.share_pid { cri::NamespaceMode::Pod } else { cri::NamespaceMode::Container },
                    ),
                    ipc: mode(n.host_ipc, cri::NamespaceMode::Pod),
                    ..Default::default()
                }),
            }),
        }),
        labels: meta::to_hash(&p.config.labels),
        annotations: meta::to_hash(&p.config.annotations),
        runtime_handler: p.config.runtime.clone(),
    }
}

/// The CRI list entry of an engine pod.
pub(crate) fn cri_pod(p: &PodInspect) -> cri::PodSandbox {
    cri::PodSandbox {
        id: p.id.clone(),
        metadata: Some(metadata(p)),
        state: state(p.state),
        created_at: nanos(p.created),
        labels: meta::to_hash(&p.config.labels),
        annotations: meta::to_hash(&p.config.annotations),
        runtime_handler: p.config.runtime.clone(),
    }
}

/// PodSandboxStatus; with `verbose` the engine's view in `info["info"]` (pid, netns, …).
pub(crate) async fn status(
    shared: &Shared,
    r: cri::PodSandboxStatusRequest,
) -> Result<cri::PodSandboxStatusResponse, Status> {
    require_id("pod sandbox", &r.pod_sandbox_id)?;
    let engine = shared.engine.clone();
    let id = r.pod_sandbox_id.clone();
    let (p, containers_statuses) = blocking(move || {
        let p = engine.pods().inspect(&id)?;
        // The statuses of its CRI containers (what kubelet's evented PLEG reads).
        let statuses = p
            .containers
            .iter()
            .filter_map(|c| super::containers::container_status(&engine, c).ok().map(|(s, _)| s))
            .collect::<Vec<_>>();
        Ok((p, statuses))
    })
    .await?;
    let mut info = HashMap::new();
    if r.verbose {
        let v = serde_json::json!({
            "pid": p.pid,
            "netnsPath": p.netns_path,
            "infraId": p.infra_id,
            "runtime": p.runtime,
            "cgroupParent": p.cgroup_parent,
            "containers": p.containers,
            "config": p.config,
        });
        info.insert("info".to_string(), v.to_string());
    }
    Ok(cri::PodSandboxStatusResponse {
        status: Some(cri_status(&p)),
        info,
        containers_statuses,
        timestamp: meta::now_nanos(),
    })
}

/// Whether pod `p` passes `f`.
pub(crate) fn selected(p: &PodInspect, f: &cri::PodSandboxFilter) -> bool {
    (f.id.is_empty() || p.id.starts_with(&f.id))
        && f.state.as_ref().is_none_or(|s| s.state == state(p.state))
        && meta::selects(&f.label_selector, &meta::to_hash(&p.config.labels))
}

/// ListPodSandbox with the filter's id prefix, state and label selector.
pub(crate) async fn list(
    shared: &Shared,
    r: cri::ListPodSandboxRequest,
) -> Result<cri::ListPodSandboxResponse, Status> {
    let engine = shared.engine.clone();
    let pods = blocking(move || engine.pods().list()).await?;
    let f = r.filter.unwrap_or_default();
    Ok(cri::ListPodSandboxResponse { items: pods.iter().filter(|p| selected(p, &f)).map(cri_pod).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> cri::PodSandboxConfig {
        cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: "nginx".into(),
                uid: "u1".into(),
                namespace: "default".into(),
                attempt: 1,
            }),
            hostname: "h".into(),
            log_directory: "/var/log/pods/x".into(),
            dns_config: Some(cri::DnsConfig { servers: vec!["10.0.0.10".into()], ..Default::default() }),
            port_mappings: vec![cri::PortMapping {
                protocol: cri::Protocol::Udp as i32,
                container_port: 53,
                host_port: 5353,
                host_ip: String::new(),
            }],
            labels: HashMap::from([("app".into(), "x".into())]),
            annotations: HashMap::from([("kubernetes.io/ingress-bandwidth".into(), "10M".into())]),
            linux: Some(cri::LinuxPodSandboxConfig {
                cgroup_parent: "/kubepods/pod1".into(),
                sysctls: HashMap::from([("net.ipv4.ip_forward".into(), "1".into())]),
                security_context: Some(cri::LinuxSandboxSecurityContext {
                    namespace_options: Some(cri::NamespaceOption {
                        network: cri::NamespaceMode::Node as i32,
                        pid: cri::NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            windows: None,
        }
    }

    #[test]
    fn maps_the_sandbox_config() {
        let p = pod_config(&config(), "crun".into()).unwrap();
        assert_eq!((p.name.as_str(), p.namespace.as_str(), p.uid.as_str(), p.attempt), ("nginx", "default", "u1", 1));
        assert_eq!(p.port_mappings[0].protocol, "udp");
        assert_eq!(p.port_mappings[0].host_port, 5353);
        assert_eq!(p.dns.as_ref().unwrap().servers, vec!["10.0.0.10"]);
        assert!(p.namespaces.host_network && p.namespaces.share_pid && !p.namespaces.host_pid);
        assert_eq!(p.cgroup_parent, "/kubepods/pod1");
        assert_eq!(p.sysctls["net.ipv4.ip_forward"], "1");
        assert_eq!(p.runtime, "crun");
        assert_eq!(p.bandwidth, Some(Bandwidth { ingress_rate: 10_000_000, egress_rate: 0 }));
        let mut c = config();
        c.metadata.as_mut().unwrap().uid.clear();
        assert_eq!(pod_config(&c, String::new()).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        c.port_mappings[0].host_port = 70000;
        assert_eq!(pod_config(&c, String::new()).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        c.annotations.insert("kubernetes.io/egress-bandwidth".into(), "fast".into());
        assert_eq!(pod_config(&c, String::new()).unwrap_err().code(), tonic::Code::InvalidArgument);
        // Seccomp of the sandbox: none means unconfined (as containerd); RuntimeDefault, an
        // absolute Localhost profile and the deprecated path field are mapped; bad ones refused.
        assert_eq!(pod_config(&config(), String::new()).unwrap().seccomp_profile, "unconfined");
        let with = |seccomp: Option<cri::SecurityProfile>, legacy: &str| {
            let mut c = config();
            let sc = c.linux.as_mut().unwrap().security_context.as_mut().unwrap();
            sc.seccomp = seccomp;
            #[allow(deprecated)]
            {
                sc.seccomp_profile_path = legacy.into();
            }
            pod_config(&c, String::new())
        };
        let profile = |t: cri::security_profile::ProfileType, r: &str| {
            Some(cri::SecurityProfile { profile_type: t as i32, localhost_ref: r.into() })
        };
        use cri::security_profile::ProfileType::{Localhost, RuntimeDefault};
        assert_eq!(with(profile(RuntimeDefault, ""), "").unwrap().seccomp_profile, "runtime/default");
        assert_eq!(with(profile(Localhost, "/p.json"), "").unwrap().seccomp_profile, "/p.json");
        assert_eq!(with(None, "runtime/default").unwrap().seccomp_profile, "runtime/default");
        assert_eq!(with(None, "localhost//p.json").unwrap().seccomp_profile, "/p.json");
        for bad in [with(profile(Localhost, "p.json"), ""), with(None, "nonsense")] {
            let e = bad.unwrap_err();
            assert!(e.code() == tonic::Code::InvalidArgument && e.message().starts_with("pod "), "{e:?}");
        }
        assert_eq!(quantity("1Mi"), Some(1 << 20));
        assert_eq!(quantity("1e3"), Some(1000));
        assert_eq!(quantity("2.5k"), Some(2500));
    }

    #[test]
    fn status_and_filters() {
        let mut p = PodInspect { id: "abcdef".into(), state: PodState::Ready, ..Default::default() };
        p.config = pod_config(&config(), "runc".into()).unwrap();
        let s = cri_status(&p);
        assert_eq!(s.state, cri::PodSandboxState::SandboxReady as i32);
        let ns = s.linux.unwrap().namespaces.unwrap().options.unwrap();
        assert_eq!(ns.network, cri::NamespaceMode::Node as i32);
        assert_eq!(ns.pid, cri::NamespaceMode::Pod as i32);
        assert_eq!(s.labels, config().labels);
        assert_eq!(s.annotations, config().annotations);
        assert_eq!(s.runtime_handler, "runc");
        let f = cri::PodSandboxFilter { id: "abc".into(), ..Default::default() };
        assert!(selected(&p, &f));
        let f = cri::PodSandboxFilter {
            state: Some(cri::PodSandboxStateValue { state: cri::PodSandboxState::SandboxNotready as i32 }),
            ..Default::default()
        };
        assert!(!selected(&p, &f));
        let f =
            cri::PodSandboxFilter { label_selector: HashMap::from([("app".into(), "y".into())]), ..Default::default() };
        assert!(!selected(&p, &f));
    }
}
