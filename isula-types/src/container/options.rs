//! [`CreateOptions`]: everything a user can ask for when creating a container, and
//! [`UpdateOptions`]: what `update` may change afterwards.
//!
//! Plain serde data with Docker's field semantics and Docker-style (PascalCase)
//! JSON names, because the same JSON crosses the C ABI and the gRPC API.
//! The string forms of the CLI (`-v`, `--mount`, `--ulimit`, …) are parsed by
//! [`crate::container::parse`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Options of `create`/`run` (the engine validates them as a whole before creating).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateOptions {
    /// Container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`); `None` lets the engine pick one.
    pub name: Option<String>,
    /// Image reference or id.
    pub image: String,
    /// Command; `None` (or an empty list) keeps the image's Cmd, otherwise replaces it.
    pub cmd: Option<Vec<String>>,
    /// Entrypoint; `None` keeps the image's, `Some(vec![])` resets it (and the image Cmd).
    pub entrypoint: Option<Vec<String>>,
    /// Environment entries `KEY=VALUE` (already resolved from `-e KEY`).
    pub env: Vec<String>,
    /// `user`, `uid`, `user:group`, `uid:gid`.
    pub user: Option<String>,
    /// Additional groups (names or gids), `--group-add`.
    pub group_add: Vec<String>,
    /// Working directory inside the container (absolute).
    pub working_dir: Option<String>,
    /// Hostname; default is the first 12 characters of the container id.
    pub hostname: Option<String>,
    /// NIS domain name.
    pub domainname: Option<String>,
    /// Container labels (merged over the image's).
    pub labels: BTreeMap<String, String>,
    /// OCI annotations added to the runtime spec.
    pub annotations: BTreeMap<String, String>,
    /// Allocate a pseudo terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Signal used to stop the container (`SIGTERM`, `TERM`, `15`).
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before killing.
    pub stop_timeout: Option<i64>,
    /// Run with all capabilities, all devices, no masked paths and no seccomp.
    pub privileged: bool,
    /// Capabilities to add (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities to drop (`ALL` drops every default).
    pub cap_drop: Vec<String>,
    /// `no-new-privileges[:true|false]`, `seccomp=unconfined`, `seccomp=<path>`.
    pub security_opt: Vec<String>,
    /// Mount the root filesystem read-only (`ReadonlyRootfs` in JSON, as Docker).
    #[serde(rename = "ReadonlyRootfs")]
    pub read_only: bool,
    /// tmpfs mounts: destination → mount options (`size=64m,mode=1777`).
    pub tmpfs: BTreeMap<String, String>,
    /// `-v` strings: `src:dst[:opts]`, `name:dst[:opts]`, `/dst`.
    pub binds: Vec<String>,
    /// `--mount` entries.
    pub mounts: Vec<MountOption>,
    /// `--device` entries.
    pub devices: Vec<DeviceMapping>,
    /// `--ulimit` entries.
    pub ulimits: Vec<Ulimit>,
    /// Namespaced kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// PID namespace: `""`/`private`, `host`, `container:<id>`.
    pub pid_mode: Option<String>,
    /// IPC namespace: `""`/`private`/`shareable`, `host`, `none`, `container:<id>`.
    pub ipc_mode: Option<String>,
    /// UTS namespace: `""`/`private`, `host`.
    pub uts_mode: Option<String>,
    /// Network: `""`/`default`/`bridge`/name (private netns), `host`, `none`, `container:<id>`.
    pub network_mode: Option<String>,
    /// Further networks to join after the one named by `network_mode` (`--network` repeated).
    pub networks: Vec<String>,
    /// Requested IPv4 address on the first network (`--ip`).
    pub ip: Option<String>,
    /// Published ports (`-p [hostip:]hostport:containerport[/proto]`).
    pub publish: Vec<String>,
    /// Publish every exposed port on an ephemeral host port (`-P`).
    pub publish_all: bool,
    /// Extra exposed ports (`--expose`), added to the image's `EXPOSE`.
    pub expose: Vec<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// DNS search domains.
    pub dns_search: Vec<String>,
    /// resolv.conf options.
    pub dns_options: Vec<String>,
    /// Extra `/etc/hosts` entries `host:ip`.
    pub extra_hosts: Vec<String>,
    /// Resource limits.
    pub resources: Resources,
    /// Parent cgroup (default from the engine configuration).
    pub cgroup_parent: Option<String>,
    /// OCI runtime name (`runc`, `crun`, …); `None` for the engine default.
    pub runtime: Option<String>,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// Health check (overrides the image's).
    pub healthcheck: Option<HealthConfig>,
    /// Remove the container when it exits.
    pub auto_remove: bool,
    /// Log driver and its options.
    pub log_config: LogConfig,
    /// Pod sandbox to create the container in (id or unique id prefix). The container joins
    /// the pod's network, IPC and UTS namespaces, uses its hostname, `/etc/hosts` and
    /// `resolv.conf`, and its cgroups go under the pod's parent. `network_mode`, `ipc_mode`
    /// and `uts_mode` must then be empty; `pid_mode` may be empty (the pod's choice: its shared
    /// PID namespace or a private one), `private`, `host` or `container:<id>` (CRI TARGET).
    pub pod: Option<String>,
    /// Paths masked in the container (`None`: the runtime defaults; `Some(vec![])`: none).
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only in the container (`None`: the runtime defaults; `Some(vec![])`: none).
    pub readonly_paths: Option<Vec<String>>,
    /// Supplementary groups are exactly `group_add` (Kubernetes' SupplementalGroupsPolicy
    /// `Strict`): the user's memberships in the image's `/etc/group` are left out. Otherwise
    /// they are added: always for a container of a pod (Kubernetes' `Merge`), and only when
    /// `user` names no group for a plain one (Docker's rule).
    pub strict_supplemental_groups: bool,
}

/// What `update` changes: every resource field that is `Some` (others stay), and the
/// restart policy when given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateOptions {
    /// New limits (`None` fields are left as they are).
    pub resources: Resources,
    /// New restart policy.
    pub restart_policy: Option<RestartPolicy>,
}

/// Resource limits (Docker's HostConfig resource fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// CPUs (`--cpus 1.5`); converted to quota/period 100ms.
    pub cpus: Option<f64>,
    /// Relative CPU weight (2..=262144).
    pub cpu_shares: Option<u64>,
    /// CFS period in microseconds (1000..=1000000).
    pub cpu_period: Option<u64>,
    /// CFS quota in microseconds (>= 1000, or -1).
    pub cpu_quota: Option<i64>,
    /// CPUs allowed (`0-3,5`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory plus swap in bytes; -1 unlimited.
    pub memory_swap: Option<i64>,
    /// Memory soft limit in bytes.
    pub memory_reservation: Option<i64>,
    /// Maximum number of pids; <= 0 unlimited.
    pub pids_limit: Option<i64>,
    /// Block IO weight (10..=1000).
    pub blkio_weight: Option<u16>,
    /// OOM score adjustment (-1000..=1000).
    pub oom_score_adj: Option<i32>,
    /// Disable the OOM killer (needs a memory limit to be safe).
    pub oom_kill_disable: bool,
    /// Size of /dev/shm in bytes (default 64 MiB).
    pub shm_size: Option<i64>,
    /// Hugepage limits: page size as the kernel names it in cgroups (`2MB`, `1GB`) → bytes.
    pub hugepage_limits: BTreeMap<String, u64>,
}

/// One `--mount` entry (Docker's `Mount`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountOption {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: MountKind,
    /// Host path (bind) or volume name (volume, empty for anonymous).
    pub source: String,
    /// Absolute destination in the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Bind propagation (`rprivate`, `shared`, `rslave`, …).
    pub propagation: Option<String>,
    /// Do not copy image content into a new volume.
    pub no_copy: bool,
    /// tmpfs size in bytes.
    pub tmpfs_size: Option<i64>,
    /// tmpfs mode (e.g. 0o1777).
    pub tmpfs_mode: Option<u32>,
}

/// Kind of a [`MountOption`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    #[default]
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A tmpfs.
    Tmpfs,
}

/// One `--device` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    /// Device node on the host.
    pub path_on_host: String,
    /// Path in the container (defaults to the host path).
    pub path_in_container: String,
    /// Cgroup permissions, a subset of `rwm`.
    pub cgroup_permissions: String,
}

/// One `--ulimit` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// Resource name without `RLIMIT_` (`nofile`, `nproc`, …).
    pub name: String,
    /// Soft limit (-1 unlimited).
    pub soft: i64,
    /// Hard limit (-1 unlimited).
    pub hard: i64,
}

/// Restart policy (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// Policy name; empty means `no`.
    pub name: String,
    /// Retries for `on-failure` (0 = unlimited).
    pub maximum_retry_count: u32,
}

/// Health check (Docker's `HealthConfig`; durations in nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]`, `["CMD", args…]`, `["CMD-SHELL", cmd]`.
    pub test: Vec<String>,
    /// Time between checks (0 = default 30s).
    pub interval: i64,
    /// Time a check may run (0 = default 30s).
    pub timeout: i64,
    /// Consecutive failures before unhealthy (0 = default 3).
    pub retries: i64,
    /// Grace period after start (0 = none).
    pub start_period: i64,
}

/// Log driver configuration.
///
/// Drivers: `json-file` (Docker's format, in the container's directory; options `max-size`,
/// `max-file`), `none`, and `cri` (the CRI text format `RFC3339Nano stream P|F message`, at
/// the absolute path given by option `path`; reopened by `containers().reopen_log`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// Driver name (`json-file`, `none`); empty for the engine default.
    #[serde(rename = "Type")]
    pub driver: String,
    /// Driver options (`max-size`, `max-file`, …).
    pub config: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_style_json() {
        let j = r#"{"Name":"web","Image":"busybox","Cmd":["sh"],"Entrypoint":[],"Env":["A=1"],
            "ReadonlyRootfs":true,"CapAdd":["NET_ADMIN"],"Binds":["/a:/b:ro"],
            "Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsSize":1024}],
            "Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}],
            "Ulimits":[{"Name":"nofile","Soft":1,"Hard":2}],
            "Resources":{"Memory":67108864,"Cpus":1.5,"OomScoreAdj":10},
            "RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},
            "Healthcheck":{"Test":["CMD","true"],"Interval":1000000000},
            "LogConfig":{"Type":"json-file","Config":{"max-size":"1m"}},
            "Unknown":"ignored"}"#;
        let o: CreateOptions = serde_json::from_str(j).unwrap();
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.entrypoint, Some(vec![]));
        assert!(o.read_only);
        assert_eq!(o.mounts[0].kind, MountKind::Tmpfs);
        assert_eq!(o.mounts[0].tmpfs_size, Some(1024));
        assert_eq!(o.resources.cpus, Some(1.5));
        assert_eq!(o.resources.oom_score_adj, Some(10));
        assert_eq!(o.restart_policy.maximum_retry_count, 3);
        assert_eq!(o.log_config.driver, "json-file");
        assert_eq!(o.healthcheck.as_ref().unwrap().interval, 1_000_000_000);
        let back: CreateOptions = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        let v = serde_json::to_value(CreateOptions::default()).unwrap();
        assert!(v.get("ReadonlyRootfs").is_some() && v.get("PidMode").is_some() && v.get("DnsOptions").is_some());
    }
}
