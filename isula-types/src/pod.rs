//! Pod sandboxes: [`PodConfig`] (what `run` takes), [`PodInspect`] (what `inspect` and
//! `list` give back) and their parts.
//!
//! A pod is a group of containers sharing a network namespace (set up by CNI, or the
//! host's), IPC and UTS namespaces (and the PID namespace when asked), a cgroup parent,
//! a hostname, `/etc/hosts` and `resolv.conf`. The namespaces are held by an infra process.
//! The shapes follow the CRI's `PodSandboxConfig` and `PodSandboxStatus` in isula's JSON
//! casing (PascalCase), so the CRI front end maps field by field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Options of `pods().run`: the pod's identity, network, DNS and Linux settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PodConfig {
    /// Pod name (CRI metadata `name`).
    pub name: String,
    /// Kubernetes namespace of the pod (CRI metadata `namespace`).
    pub namespace: String,
    /// Pod UID (CRI metadata `uid`).
    pub uid: String,
    /// Attempt number (CRI metadata `attempt`); name, namespace, uid and attempt together are
    /// unique among the engine's pods.
    pub attempt: u32,
    /// Hostname of the pod (empty: the pod name, cut to 63 characters).
    pub hostname: String,
    /// Directory on the host for the logs of the pod's containers (CRI `log_directory`).
    pub log_directory: String,
    /// DNS settings written to the pod's `resolv.conf` (`None`: the host's).
    pub dns: Option<DnsConfig>,
    /// Host ports forwarded to the pod (CNI capability `portMappings`).
    pub port_mappings: Vec<PodPortMapping>,
    /// Labels (kept as given).
    pub labels: BTreeMap<String, String>,
    /// Annotations (kept as given; also passed to the runtime spec of the infra process).
    pub annotations: BTreeMap<String, String>,
    /// Cgroup parent of the pod (empty: the engine's `cgroup-parent`).
    pub cgroup_parent: String,
    /// Namespaced sysctls of the pod (net.*, kernel.shm*, kernel.msg*, …).
    pub sysctls: BTreeMap<String, String>,
    /// Which namespaces are the host's.
    pub namespaces: PodNamespaces,
    /// OCI runtime (a `runtimes` key of the engine config, `runc`, `crun`); empty for the default.
    pub runtime: String,
    /// Ingress/egress bandwidth limits in bits per second (CNI capability `bandwidth`), from the
    /// pod's `kubernetes.io/ingress-bandwidth` and `egress-bandwidth` annotations.
    pub bandwidth: Option<Bandwidth>,
    /// Run the infra process privileged (CRI `security_context.privileged`).
    pub privileged: bool,
    /// Seccomp profile of the infra process: empty or `runtime/default` (the default profile),
    /// `unconfined`, or an absolute path of a profile (CRI `localhost/` profiles).
    pub seccomp_profile: String,
}

/// Which of a pod's namespaces are the host's; the others are the pod's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PodNamespaces {
    /// Use the host's network namespace (no CNI).
    pub host_network: bool,
    /// Use the host's PID namespace.
    pub host_pid: bool,
    /// Use the host's IPC namespace.
    pub host_ipc: bool,
    /// All containers of the pod share the infra process's PID namespace (CRI `POD` mode);
    /// otherwise each container has its own unless it asks for another.
    pub share_pid: bool,
}

/// DNS settings of a pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DnsConfig {
    /// Name servers.
    pub servers: Vec<String>,
    /// Search domains.
    pub searches: Vec<String>,
    /// resolv.conf options.
    pub options: Vec<String>,
}

/// One host port forwarded to the pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PodPortMapping {
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// Port in the pod.
    pub container_port: u16,
    /// Port on the host (0: not forwarded).
    pub host_port: u16,
    /// Host address to bind (empty: all).
    pub host_ip: String,
}

/// Bandwidth limits of a pod in bits per second (0: no limit that way).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Bandwidth {
    /// Ingress rate.
    pub ingress_rate: u64,
    /// Egress rate.
    pub egress_rate: u64,
}

/// State of a pod sandbox (CRI `SANDBOX_READY` / `SANDBOX_NOTREADY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodState {
    /// The infra process runs and the network is set up.
    Ready,
    /// Stopped (or the infra process died): containers cannot be started in it.
    #[default]
    NotReady,
}

/// What the engine knows about a pod: its config and its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PodInspect {
    /// Pod id (64 hex digits).
    pub id: String,
    /// The config it was run with.
    pub config: PodConfig,
    /// Ready or not.
    pub state: PodState,
    /// Creation time.
    pub created: Timestamp,
    /// The pod's primary IP address (empty with host networking or before the network is up).
    pub ip: String,
    /// Further IP addresses (e.g. IPv6).
    pub additional_ips: Vec<String>,
    /// Path of the pod's network namespace (empty with host networking).
    pub netns_path: String,
    /// Id of the infra container.
    pub infra_id: String,
    /// Host pid of the infra process (0 when it is not running).
    pub pid: i32,
    /// OCI runtime name the pod's containers use.
    pub runtime: String,
    /// Cgroup parent of the pod's containers (the infra process's and theirs).
    pub cgroup_parent: String,
    /// Ids of the pod's containers other than the infra one.
    pub containers: Vec<String>,
}
