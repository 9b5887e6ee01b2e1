//! Containers in a pod ([`CreateOptions::pod`]): they join the pod's network namespace (by
//! path), its IPC namespace and `/dev/shm` and its UTS namespace (through the infra process),
//! its PID namespace as `pid_mode` says, bind-mount the pod's `hosts`, `resolv.conf` and
//! `hostname`, and put their cgroups under the pod's parent.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::container::options::CreateOptions;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pod::files::{pod_files, shm_dir};

/// What a pod adds to creating a container (empty for a plain container).
#[derive(Debug, Default)]
pub(crate) struct CreateExtra {
    /// The container's id (the infra container's is the pod id); `None`: a new one.
    pub id: Option<String>,
    /// Run from this directory instead of an image (the pause rootfs).
    pub rootfs: Option<PathBuf>,
    /// The options the spec is built from, when they differ from the recorded ones.
    pub spec_options: Option<CreateOptions>,
    /// Changes to the built spec.
    pub join: Option<PodJoin>,
    /// The full id of the pod, recorded as the container's `HostConfig.Pod`.
    pub pod: Option<String>,
}

/// Changes to a container's spec that put it into a pod.
#[derive(Debug, Default)]
pub(crate) struct PodJoin {
    /// The pod's network namespace (`None`: the spec's stays, e.g. the host's).
    pub netns: Option<PathBuf>,
    /// Join the UTS namespace of this process (the infra's) and leave the hostname to it.
    pub uts_pid: Option<i32>,
    /// Join the IPC namespace of this process (the infra's).
    pub ipc_pid: Option<i32>,
    /// Bind this directory (the pod's shm tmpfs) on `/dev/shm`.
    pub shm: Option<PathBuf>,
    /// The pod's directory: its `hosts`, `resolv.conf` and `hostname` replace the container's.
    pub files_dir: PathBuf,
}

impl PodJoin {
    /// Applies the changes to `spec`.
    pub(crate) fn apply(&self, spec: &mut Spec) {
        if let Some(ns) = &self.netns {
            crate::engine::network::set_netns_path(spec, ns);
        }
        if let Some(pid) = self.uts_pid {
            set_ns_path(spec, LinuxNamespaceType::Uts, pid, "uts");
            // The infra process set the hostname of the shared namespace.
            spec.set_hostname(None);
        }
        if let Some(pid) = self.ipc_pid {
            set_ns_path(spec, LinuxNamespaceType::Ipc, pid, "ipc");
        }
        let files = pod_files(&self.files_dir);
        if let Some(mounts) = spec.mounts_mut() {
            for m in mounts.iter_mut() {
                if let Some((_, src)) = files.iter().find(|(dst, _)| m.destination().as_os_str() == *dst) {
                    m.set_source(Some(src.clone()));
                }
                if let (Some(shm), "/dev/shm") = (&self.shm, m.destination().to_string_lossy().as_ref()) {
                    m.set_typ(Some("bind".into()));
                    m.set_source(Some(shm.clone()));
                    m.set_options(Some(["rbind", "rprivate", "nosuid", "nodev", "noexec"].map(String::from).to_vec()));
                }
            }
        }
    }
}

fn set_ns_path(spec: &mut Spec, typ: LinuxNamespaceType, pid: i32, file: &str) {
    if let Some(nss) = spec.linux_mut().as_mut().and_then(|l| l.namespaces_mut().as_mut()) {
        for n in nss.iter_mut() {
            if n.typ() == typ {
                n.set_path(Some(PathBuf::from(format!("/proc/{pid}/ns/{file}"))));
            }
        }
    }
}

fn set(o: &Option<String>) -> bool {
    o.as_deref().is_some_and(|s| !s.trim().is_empty())
}

impl Engine {
    /// The pod part of creating a container with `opts` (nothing without `opts.pod`).
    /// `NotFound` for an unknown pod, `FailedPrecondition` when it is not ready,
    /// `InvalidArgument` when the options also choose network, IPC or UTS namespaces.
    pub(crate) fn pod_create_extra(&self, opts: &CreateOptions) -> Result<CreateExtra> {
        let Some(key) = opts.pod.as_deref() else { return Ok(CreateExtra::default()) };
        let pod = self.pod(key)?;
        for (what, v) in
            [("network mode", &opts.network_mode), ("IPC mode", &opts.ipc_mode), ("UTS mode", &opts.uts_mode)]
        {
            if set(v) {
                return Err(Error::invalid(format!(
                    "a container in pod {} cannot choose its {what} ({}): it uses the pod's",
                    pod.id,
                    v.as_deref().unwrap_or_default()
                )));
            }
        }
        if !opts.networks.is_empty() || !opts.publish.is_empty() || opts.publish_all || opts.ip.is_some() {
            return Err(Error::invalid(format!(
                "a container in pod {} cannot have networks, an address or published ports: it uses the pod's network",
                pod.id
            )));
        }
        let rec = pod.record();
        let Some(infra_pid) = self.pod_infra_pid(&rec) else {
            return Err(Error::precondition(format!("pod {} is not ready", rec.id)));
        };
        let ns = &rec.config.namespaces;
        let infra = format!("container:{}", rec.id);
        let mut o = opts.clone();
        // `pod` stays: the spec builder merges the image's groups as Kubernetes does for it.
        o.pod = Some(rec.id.clone());
        o.hostname = (!ns.host_network).then(|| rec.hostname.clone());
        o.network_mode = Some(if ns.host_network { "host" } else { "none" }.into());
        o.uts_mode = ns.host_network.then(|| "host".to_string());
        o.ipc_mode = ns.host_ipc.then(|| "host".to_string());
        o.pid_mode = Some(match opts.pid_mode.as_deref().map(str::trim).unwrap_or("") {
            "" if ns.host_pid => "host".into(),
            "" if ns.share_pid => infra,
            "" | "private" => String::new(),
            other => other.to_string(),
        });
        o.cgroup_parent = Some(rec.cgroup_parent.clone());
        // The pod's files replace these.
        o.dns.clear();
        o.dns_search.clear();
        o.dns_options.clear();
        o.extra_hosts.clear();
        let join = PodJoin {
            netns: (!rec.netns_path.is_empty()).then(|| PathBuf::from(&rec.netns_path)),
            uts_pid: (!ns.host_network).then_some(infra_pid),
            ipc_pid: (!ns.host_ipc).then_some(infra_pid),
            shm: (!ns.host_ipc).then(|| shm_dir(&pod.dir)),
            files_dir: pod.dir.clone(),
        };
        Ok(CreateExtra { spec_options: Some(o), join: Some(join), pod: Some(rec.id.clone()), ..Default::default() })
    }
}

impl Engine {
    /// Before (re)starting container `rec`: a container of a pod needs the pod ready (its
    /// spec names the infra process's namespaces); the infra container of a stopped pod is
    /// not started again. `FailedPrecondition` otherwise.
    pub(crate) fn pod_check_start(&self, rec: &crate::container::store::ContainerRecord) -> Result<()> {
        let Some(pod_id) = rec.host_config.pod.as_deref() else { return Ok(()) };
        let pod = self
            .pod(pod_id)
            .map_err(|_| Error::precondition(format!("container {}: its pod {pod_id} no longer exists", rec.id)))?;
        let p = pod.record();
        if p.stopped {
            return Err(Error::precondition(format!("container {}: pod {pod_id} is stopped", rec.id)));
        }
        if rec.id != pod_id && self.pod_infra_pid(&p).is_none() {
            return Err(Error::precondition(format!("container {}: pod {pod_id} is not ready", rec.id)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "hostname": "c1",
            "root": {"path": "/r"},
            "mounts": [
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["size=1"]},
                {"destination": "/etc/hosts", "type": "bind", "source": "/c/hosts", "options": ["rbind"]},
                {"destination": "/etc/resolv.conf", "type": "bind", "source": "/c/resolv.conf", "options": ["rbind"]},
                {"destination": "/data", "type": "bind", "source": "/d", "options": ["rbind"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
        }))
        .unwrap()
    }

    #[test]
    fn apply_joins_namespaces_and_binds_the_pod_files() {
        let mut s = spec();
        PodJoin {
            netns: Some("/run/netns/p".into()),
            uts_pid: Some(42),
            ipc_pid: Some(42),
            shm: Some("/pods/p/shm".into()),
            files_dir: "/pods/p".into(),
        }
        .apply(&mut s);
        let v = serde_json::to_value(&s).unwrap();
        let nss = &v["linux"]["namespaces"];
        assert_eq!(nss[0], serde_json::json!({"type": "pid"}), "pid untouched");
        assert_eq!(nss[1]["path"], "/run/netns/p");
        assert_eq!(nss[2]["path"], "/proc/42/ns/ipc");
        assert_eq!(nss[3]["path"], "/proc/42/ns/uts");
        assert!(v.get("hostname").is_none(), "the infra sets the hostname");
        let m = &v["mounts"];
        assert_eq!((m[0]["type"].as_str(), m[0]["source"].as_str()), (Some("bind"), Some("/pods/p/shm")));
        assert_eq!(m[1]["source"], "/pods/p/hosts");
        assert_eq!(m[2]["source"], "/pods/p/resolv.conf");
        assert_eq!(m[3]["source"], "/d");

        // The infra container keeps its own UTS/IPC namespaces and hostname.
        let mut s = spec();
        PodJoin { netns: None, files_dir: "/pods/p".into(), ..Default::default() }.apply(&mut s);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["hostname"], "c1");
        assert!(v["linux"]["namespaces"].as_array().unwrap().iter().all(|n| n.get("path").is_none()));
        assert_eq!(v["mounts"][0]["type"], "tmpfs");
    }
}
