//! The pure mapping of a CRI `ContainerConfig` (in a pod) to the engine's `CreateOptions`,
//! and of CRI `LinuxContainerResources` to the engine's `Resources` (create and update).
//!
//! No I/O here: host paths are prepared (created, symlinks resolved) by the caller first.

use std::collections::BTreeMap;

use isula_core::{CreateOptions, PodInspect, Resources};
use isula_types::container::options::{DeviceMapping, LogConfig, MountKind, MountOption};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::meta::{self, CriMeta};

/// The engine container name of a CRI container: unique per pod and metadata, readable in
/// `isula ps` (`k8s_<name>_<pod name>_<namespace>_<pod id prefix>_<attempt>`).
pub(crate) fn container_name(pod: &PodInspect, md: &cri::ContainerMetadata) -> String {
    let short = &pod.id[..pod.id.len().min(12)];
    let clean = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect::<String>()
    };
    format!(
        "k8s_{}_{}_{}_{}_{}",
        clean(&md.name),
        clean(&pod.config.name),
        clean(&pod.config.namespace),
        short,
        md.attempt
    )
}

/// The absolute log path of a container: the pod's `log_directory` joined with the
/// container's `log_path` (empty when either is empty).
pub(crate) fn log_path(pod: &PodInspect, c: &cri::ContainerConfig) -> Result<String, Status> {
    if pod.config.log_directory.is_empty() || c.log_path.is_empty() {
        return Ok(String::new());
    }
    if c.log_path.split('/').any(|p| p == "..") {
        return Err(Status::invalid_argument(format!("log_path {:?} must not contain \"..\"", c.log_path)));
    }
    let dir = std::path::Path::new(&pod.config.log_directory);
    if !dir.is_absolute() {
        return Err(Status::invalid_argument(format!(
            "pod log_directory {:?} is not an absolute path",
            pod.config.log_directory
        )));
    }
    Ok(dir.join(c.log_path.trim_start_matches('/')).to_string_lossy().into_owned())
}

/// Engine resources from CRI resources (zero or empty fields are "not set").
pub(crate) fn resources(r: &cri::LinuxContainerResources) -> Result<Resources, Status> {
    let pos = |v: i64| (v > 0).then_some(v);
    let mut out = Resources {
        cpu_period: pos(r.cpu_period).map(|v| v as u64),
        cpu_quota: pos(r.cpu_quota),
        cpu_shares: pos(r.cpu_shares).map(|v| v as u64),
        memory: pos(r.memory_limit_in_bytes),
        memory_swap: pos(r.memory_swap_limit_in_bytes),
        oom_score_adj: None,
        cpuset_cpus: (!r.cpuset_cpus.is_empty()).then(|| r.cpuset_cpus.clone()),
        cpuset_mems: (!r.cpuset_mems.is_empty()).then(|| r.cpuset_mems.clone()),
        ..Default::default()
    };
    if r.oom_score_adj != 0 {
        if !(-1000..=1000).contains(&r.oom_score_adj) {
            return Err(Status::invalid_argument(format!(
                "oom_score_adj {} is out of range (-1000 to 1000)",
                r.oom_score_adj
            )));
        }
        out.oom_score_adj = Some(r.oom_score_adj as i32);
    }
    for h in &r.hugepage_limits {
        if h.page_size.is_empty() {
            return Err(Status::invalid_argument("hugepage limit without a page size"));
        }
        out.hugepage_limits.insert(h.page_size.clone(), h.limit);
    }
    Ok(out)
}

/// CRI resources back from engine resources (ContainerStatus).
pub(crate) fn cri_resources(r: &Resources) -> cri::LinuxContainerResources {
    cri::LinuxContainerResources {
        cpu_period: r.cpu_period.unwrap_or(0) as i64,
        cpu_quota: r.cpu_quota.unwrap_or(0),
        cpu_shares: r.cpu_shares.unwrap_or(0) as i64,
        memory_limit_in_bytes: r.memory.unwrap_or(0),
        memory_swap_limit_in_bytes: r.memory_swap.unwrap_or(0),
        oom_score_adj: r.oom_score_adj.unwrap_or(0) as i64,
        cpuset_cpus: r.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: r.cpuset_mems.clone().unwrap_or_default(),
        hugepage_limits: r
            .hugepage_limits
            .iter()
            .map(|(k, v)| cri::HugepageLimit { page_size: k.clone(), limit: *v })
            .collect(),
        unified: Default::default(),
    }
}

/// Engine propagation of a CRI mount.
fn propagation(p: i32) -> Result<&'static str, Status> {
    match cri::MountPropagation::try_from(p) {
        Ok(cri::MountPropagation::PropagationPrivate) => Ok("rprivate"),
        Ok(cri::MountPropagation::PropagationHostToContainer) => Ok("rslave"),
        Ok(cri::MountPropagation::PropagationBidirectional) => Ok("rshared"),
        Err(_) => Err(Status::invalid_argument(format!("unknown mount propagation {p}"))),
    }
}

/// CRI propagation of an engine mount.
pub(crate) fn cri_propagation(p: Option<&str>) -> i32 {
    match p {
        Some("rslave" | "slave") => cri::MountPropagation::PropagationHostToContainer as i32,
        Some("rshared" | "shared") => cri::MountPropagation::PropagationBidirectional as i32,
        _ => cri::MountPropagation::PropagationPrivate as i32,
    }
}

/// The engine's name of a CRI seccomp profile: `runtime/default`, `unconfined` or the
/// absolute path of a Localhost profile; from the profile, else the deprecated path field.
///
/// As containerd, no profile at all means unconfined (kubelet always sends one).
pub(super) fn seccomp_profile(profile: Option<&cri::SecurityProfile>, legacy_path: &str) -> Result<String, Status> {
    use cri::security_profile::ProfileType;
    if let Some(p) = profile {
        return match ProfileType::try_from(p.profile_type) {
            Ok(ProfileType::RuntimeDefault) => Ok("runtime/default".into()),
            Ok(ProfileType::Unconfined) => Ok("unconfined".into()),
            Ok(ProfileType::Localhost) => localhost(&p.localhost_ref),
            Err(_) => Err(Status::invalid_argument(format!("unknown seccomp profile type {}", p.profile_type))),
        };
    }
    match legacy_path {
        "" | "unconfined" => Ok("unconfined".into()),
        "runtime/default" | "docker/default" => Ok("runtime/default".into()),
        p => match p.strip_prefix("localhost/") {
            Some(path) => localhost(path),
            None => Err(Status::invalid_argument(format!("unknown seccomp profile {p:?}"))),
        },
    }
}

/// The seccomp `--security-opt` for a CRI profile (`None`: the engine's default profile).
fn seccomp(profile: Option<&cri::SecurityProfile>, legacy_path: &str) -> Result<Option<String>, Status> {
    Ok(match seccomp_profile(profile, legacy_path)?.as_str() {
        "runtime/default" => None,
        p => Some(format!("seccomp={p}")),
    })
}

fn localhost(path: &str) -> Result<String, Status> {
    if !path.starts_with('/') {
        return Err(Status::invalid_argument(format!("seccomp Localhost profile {path:?} must be an absolute path")));
    }
    Ok(path.to_string())
}

/// The engine user of a security context: `uid`, `uid:gid`, `name`, `name:gid` (`None`: the image's).
fn user(sc: &cri::LinuxContainerSecurityContext) -> Result<Option<String>, Status> {
    let group = sc.run_as_group.as_ref().map(|g| g.value);
    let base = match (&sc.run_as_user, sc.run_as_username.as_str()) {
        (Some(u), _) if u.value < 0 => {
            return Err(Status::invalid_argument(format!("run_as_user {} is negative", u.value)))
        }
        (Some(u), _) => Some(u.value.to_string()),
        (None, "") => None,
        (None, name) => Some(name.to_string()),
    };
    match (base, group) {
        (_, Some(g)) if g < 0 => Err(Status::invalid_argument(format!("run_as_group {g} is negative"))),
        (None, Some(_)) => Err(Status::invalid_argument("run_as_group needs run_as_user or run_as_username")),
        (Some(u), Some(g)) => Ok(Some(format!("{u}:{g}"))),
        (u, None) => Ok(u),
    }
}

/// `CreateOptions` for CRI container `c` in `pod`.
///
/// The deprecated `seccomp_profile_path` is still honoured (older kubelets send only it). `host_paths` gives, for each of `c.mounts`
/// in order, the prepared host path (symlinks resolved), or is empty to use them as given.
#[allow(deprecated)]
pub(crate) fn create_options(
    pod: &PodInspect,
    c: &cri::ContainerConfig,
    host_paths: &[String],
) -> Result<CreateOptions, Status> {
    let md = c.metadata.clone().ok_or_else(|| Status::invalid_argument("container config has no metadata"))?;
    if md.name.is_empty() {
        return Err(Status::invalid_argument("container metadata has no name"));
    }
    let image = c.image.as_ref().map(|i| i.image.clone()).unwrap_or_default();
    if image.is_empty() {
        return Err(Status::invalid_argument("container config has no image"));
    }
    let log_path = log_path(pod, c)?;
    let cm = CriMeta {
        metadata: md.clone(),
        labels: c.labels.clone(),
        annotations: c.annotations.clone(),
        image: image.clone(),
        log_path: log_path.clone(),
        pod: pod.id.clone(),
    };
    let mut labels = meta::to_btree(&c.labels);
    labels.retain(|k, _| !k.starts_with(meta::PREFIX));
    labels.extend(meta::encode(&cm));
    let mut o = CreateOptions {
        name: Some(container_name(pod, &md)),
        image,
        entrypoint: (!c.command.is_empty()).then(|| c.command.clone()),
        cmd: (!c.args.is_empty()).then(|| c.args.clone()),
        working_dir: (!c.working_dir.is_empty()).then(|| c.working_dir.clone()),
        env: c.envs.iter().map(|kv| format!("{}={}", kv.key, kv.value)).collect(),
        labels,
        annotations: meta::to_btree(&c.annotations),
        tty: c.tty,
        open_stdin: c.stdin,
        pod: Some(pod.id.clone()),
        runtime: (!pod.runtime.is_empty()).then(|| pod.runtime.clone()),
        ..Default::default()
    };
    if !log_path.is_empty() {
        o.log_config =
            LogConfig { driver: "cri".into(), config: BTreeMap::from([("path".to_string(), log_path.clone())]) };
    }
    for (i, m) in c.mounts.iter().enumerate() {
        if m.container_path.is_empty() || m.host_path.is_empty() {
            return Err(Status::invalid_argument(format!(
                "mount {i} needs both host_path and container_path (got {:?} and {:?})",
                m.host_path, m.container_path
            )));
        }
        if m.image.as_ref().is_some_and(|s| !s.image.is_empty()) {
            return Err(Status::unimplemented("image volume mounts are not supported"));
        }
        o.mounts.push(MountOption {
            kind: MountKind::Bind,
            source: host_paths.get(i).cloned().unwrap_or_else(|| m.host_path.clone()),
            target: m.container_path.clone(),
            read_only: m.readonly,
            propagation: Some(propagation(m.propagation)?.to_string()),
            ..Default::default()
        });
    }
    for d in &c.devices {
        o.devices.push(DeviceMapping {
            path_on_host: d.host_path.clone(),
            path_in_container: if d.container_path.is_empty() { d.host_path.clone() } else { d.container_path.clone() },
            cgroup_permissions: if d.permissions.is_empty() { "rwm".into() } else { d.permissions.clone() },
        });
    }
    let Some(linux) = &c.linux else {
        o.security_opt.push("seccomp=unconfined".into());
        return Ok(o);
    };
    if let Some(r) = &linux.resources {
        o.resources = resources(r)?;
    }
    let sc = linux.security_context.clone().unwrap_or_default();
    o.privileged = sc.privileged;
    o.read_only = sc.readonly_rootfs;
    o.user = user(&sc)?;
    o.group_add = sc.supplemental_groups.iter().map(|g| g.to_string()).collect();
    o.strict_supplemental_groups = sc.supplemental_groups_policy == cri::SupplementalGroupsPolicy::Strict as i32;
    if let Some(caps) = &sc.capabilities {
        o.cap_add = caps.add_capabilities.clone();
        o.cap_drop = caps.drop_capabilities.clone();
    }
    if sc.no_new_privs {
        o.security_opt.push("no-new-privileges:true".into());
    }
    if let Some(s) = seccomp(sc.seccomp.as_ref(), &sc.seccomp_profile_path)? {
        if !sc.privileged {
            o.security_opt.push(s);
        }
    }
    if !sc.privileged {
        o.masked_paths = (!sc.masked_paths.is_empty()).then(|| sc.masked_paths.clone());
        o.readonly_paths = (!sc.readonly_paths.is_empty()).then(|| sc.readonly_paths.clone());
    }
    if let Some(ns) = &sc.namespace_options {
        o.pid_mode = match cri::NamespaceMode::try_from(ns.pid) {
            Ok(cri::NamespaceMode::Pod) => None,
            Ok(cri::NamespaceMode::Container) => Some("private".into()),
            Ok(cri::NamespaceMode::Node) => Some("host".into()),
            Ok(cri::NamespaceMode::Target) if ns.target_id.is_empty() => {
                return Err(Status::invalid_argument("pid namespace mode TARGET needs target_id"))
            }
            Ok(cri::NamespaceMode::Target) => Some(format!("container:{}", ns.target_id)),
            Err(_) => return Err(Status::invalid_argument(format!("unknown pid namespace mode {}", ns.pid))),
        };
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn pod() -> PodInspect {
        let mut p = PodInspect { id: "0123456789abcdef".repeat(4), runtime: "crun".into(), ..Default::default() };
        p.config.name = "nginx".into();
        p.config.namespace = "default".into();
        p.config.log_directory = "/var/log/pods/default_nginx_uid".into();
        p
    }

    fn config() -> cri::ContainerConfig {
        cri::ContainerConfig {
            metadata: Some(cri::ContainerMetadata { name: "web".into(), attempt: 2 }),
            image: Some(cri::ImageSpec { image: "busybox:latest".into(), ..Default::default() }),
            command: vec!["/bin/sh".into()],
            args: vec!["-c".into(), "sleep 1".into()],
            working_dir: "/tmp".into(),
            envs: vec![cri::KeyValue { key: "A".into(), value: "1=2".into() }],
            labels: HashMap::from([("app".into(), "web".into())]),
            annotations: HashMap::from([("note".into(), "x".into())]),
            log_path: "web/2.log".into(),
            tty: true,
            stdin: true,
            ..Default::default()
        }
    }

    #[test]
    fn basic_fields() {
        let o = create_options(&pod(), &config(), &[]).unwrap();
        assert_eq!(o.name.as_deref(), Some("k8s_web_nginx_default_0123456789ab_2"));
        assert_eq!(o.image, "busybox:latest");
        assert_eq!(o.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(o.cmd, Some(vec!["-c".to_string(), "sleep 1".to_string()]));
        assert_eq!(o.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(o.env, vec!["A=1=2"]);
        assert!(o.tty && o.open_stdin);
        assert_eq!(o.pod.as_deref(), Some(pod().id.as_str()));
        assert_eq!(o.runtime.as_deref(), Some("crun"));
        assert_eq!(o.annotations, BTreeMap::from([("note".to_string(), "x".to_string())]));
        assert_eq!(o.labels["app"], "web");
        assert_eq!(o.log_config.driver, "cri");
        assert_eq!(o.log_config.config["path"], "/var/log/pods/default_nginx_uid/web/2.log");
        let m = meta::decode(&o.labels).unwrap();
        assert_eq!(m.metadata.attempt, 2);
        assert_eq!(m.labels, config().labels);
        assert_eq!(m.annotations, config().annotations);
        assert_eq!(m.log_path, "/var/log/pods/default_nginx_uid/web/2.log");
        // Without a linux section: unconfined seccomp (as containerd), nothing else.
        assert_eq!(o.security_opt, vec!["seccomp=unconfined"]);
        assert!(!o.strict_supplemental_groups, "the default policy is Merge");
        // Command without args: the image's Cmd is not appended.
        let mut c = config();
        c.args.clear();
        let o = create_options(&pod(), &c, &[]).unwrap();
        assert_eq!(o.cmd, None);
        assert!(o.entrypoint.is_some());
    }

    #[test]
    fn bad_configs_are_invalid_argument() {
        let mut c = config();
        c.metadata = None;
        assert_eq!(create_options(&pod(), &c, &[]).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        c.image = None;
        assert_eq!(create_options(&pod(), &c, &[]).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        c.log_path = "../../etc/x".into();
        assert_eq!(create_options(&pod(), &c, &[]).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        c.mounts.push(cri::Mount { container_path: "/data".into(), ..Default::default() });
        assert_eq!(create_options(&pod(), &c, &[]).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        let sc = cri::LinuxContainerSecurityContext {
            run_as_group: Some(cri::Int64Value { value: 5 }),
            ..Default::default()
        };
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc), resources: None });
        assert_eq!(create_options(&pod(), &c, &[]).unwrap_err().code(), tonic::Code::InvalidArgument);
        let mut c = config();
        let sc = cri::LinuxContainerSecurityContext {
            seccomp: Some(cri::SecurityProfile {
                profile_type: cri::security_profile::ProfileType::Localhost as i32,
                localhost_ref: "relative.json".into(),
            }),
            ..Default::default()
        };
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc), resources: None });
        assert_eq!(create_options(&pod(), &c, &[]).unwrap_err().code(), tonic::Code::InvalidArgument);
        let r = cri::LinuxContainerResources { oom_score_adj: 5000, ..Default::default() };
        assert!(resources(&r).is_err());
    }

    #[test]
    #[allow(deprecated)]
    fn security_context_and_resources() {
        let mut c = config();
        let sc = cri::LinuxContainerSecurityContext {
            capabilities: Some(cri::Capability {
                add_capabilities: vec!["NET_ADMIN".into()],
                drop_capabilities: vec!["ALL".into()],
                ..Default::default()
            }),
            run_as_user: Some(cri::Int64Value { value: 1000 }),
            run_as_group: Some(cri::Int64Value { value: 2000 }),
            supplemental_groups: vec![3000, 4000],
            supplemental_groups_policy: cri::SupplementalGroupsPolicy::Strict as i32,
            readonly_rootfs: true,
            no_new_privs: true,
            masked_paths: vec!["/proc/kcore".into()],
            readonly_paths: vec![],
            seccomp: Some(cri::SecurityProfile {
                profile_type: cri::security_profile::ProfileType::Localhost as i32,
                localhost_ref: "/etc/profile.json".into(),
            }),
            namespace_options: Some(cri::NamespaceOption {
                pid: cri::NamespaceMode::Target as i32,
                target_id: "abc".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let res = cri::LinuxContainerResources {
            cpu_period: 100_000,
            cpu_quota: 50_000,
            cpu_shares: 512,
            memory_limit_in_bytes: 64 << 20,
            oom_score_adj: -100,
            cpuset_cpus: "0".into(),
            hugepage_limits: vec![cri::HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }],
            ..Default::default()
        };
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc), resources: Some(res.clone()) });
        c.mounts = vec![
            cri::Mount {
                container_path: "/data".into(),
                host_path: "/srv/link".into(),
                readonly: true,
                propagation: cri::MountPropagation::PropagationHostToContainer as i32,
                ..Default::default()
            },
            cri::Mount {
                container_path: "/shared".into(),
                host_path: "/srv/shared".into(),
                propagation: cri::MountPropagation::PropagationBidirectional as i32,
                ..Default::default()
            },
        ];
        c.devices = vec![cri::Device {
            host_path: "/dev/null".into(),
            container_path: "/dev/mynull".into(),
            permissions: "rw".into(),
        }];
        let o = create_options(&pod(), &c, &["/srv/real".into(), "/srv/shared".into()]).unwrap();
        assert_eq!(o.user.as_deref(), Some("1000:2000"));
        assert_eq!(o.group_add, vec!["3000", "4000"]);
        assert!(o.strict_supplemental_groups);
        assert!(o.read_only);
        assert_eq!(o.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(o.cap_drop, vec!["ALL"]);
        assert_eq!(o.security_opt, vec!["no-new-privileges:true", "seccomp=/etc/profile.json"]);
        assert_eq!(o.masked_paths, Some(vec!["/proc/kcore".to_string()]));
        assert_eq!(o.readonly_paths, None, "empty: the runtime defaults");
        assert_eq!(o.pid_mode.as_deref(), Some("container:abc"));
        assert_eq!(o.mounts[0].source, "/srv/real");
        assert!(o.mounts[0].read_only);
        assert_eq!(o.mounts[0].propagation.as_deref(), Some("rslave"));
        assert_eq!(o.mounts[1].propagation.as_deref(), Some("rshared"));
        assert_eq!(o.devices[0].path_in_container, "/dev/mynull");
        assert_eq!(o.devices[0].cgroup_permissions, "rw");
        assert_eq!(o.resources.cpu_period, Some(100_000));
        assert_eq!(o.resources.cpu_quota, Some(50_000));
        assert_eq!(o.resources.cpu_shares, Some(512));
        assert_eq!(o.resources.memory, Some(64 << 20));
        assert_eq!(o.resources.oom_score_adj, Some(-100));
        assert_eq!(o.resources.cpuset_cpus.as_deref(), Some("0"));
        assert_eq!(o.resources.hugepage_limits["2MB"], 4 << 20);
        assert_eq!(cri_resources(&o.resources), res);

        // Privileged: no seccomp, no masked or read-only paths; a user name.
        let sc = cri::LinuxContainerSecurityContext {
            privileged: true,
            run_as_username: "nobody".into(),
            masked_paths: vec!["/proc/kcore".into()],
            seccomp: Some(cri::SecurityProfile::default()),
            ..Default::default()
        };
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc), resources: None });
        let o = create_options(&pod(), &c, &[]).unwrap();
        assert!(o.privileged);
        assert_eq!(o.user.as_deref(), Some("nobody"));
        assert!(o.security_opt.is_empty());
        assert_eq!(o.masked_paths, None);
        // RuntimeDefault: the engine's profile; Unconfined; the legacy path form.
        let mut sc =
            cri::LinuxContainerSecurityContext { seccomp: Some(cri::SecurityProfile::default()), ..Default::default() };
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc.clone()), resources: None });
        assert!(create_options(&pod(), &c, &[]).unwrap().security_opt.is_empty());
        sc.seccomp = Some(cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Unconfined as i32,
            ..Default::default()
        });
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc.clone()), resources: None });
        assert_eq!(create_options(&pod(), &c, &[]).unwrap().security_opt, vec!["seccomp=unconfined"]);
        sc.seccomp = None;
        sc.seccomp_profile_path = "localhost//p.json".into();
        c.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc), resources: None });
        assert_eq!(create_options(&pod(), &c, &[]).unwrap().security_opt, vec!["seccomp=/p.json"]);
    }
}
