//! The infra container of a pod: by default the engine's `isula-pause` from the shared
//! read-only pause rootfs, or the entrypoint of the `pod-sandbox-image`. It holds the pod's
//! IPC and UTS (and shared PID) namespaces, runs in the pod's network namespace, with the
//! pod's sysctls, cgroup parent and annotations and no capabilities (unless privileged).

use std::collections::BTreeMap;
use std::path::PathBuf;

use isula_types::container::options::LogConfig;

use super::join::{CreateExtra, PodJoin};
use crate::container::options::CreateOptions;
use crate::container::store::check_name;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pod::pause::{self, PAUSE_BINARY, PAUSE_IN_ROOTFS};
use crate::pod::{PodRecord, INFRA_LABEL};

/// What an infra container runs (see [`Engine::infra_source`]).
#[derive(Debug)]
pub(super) struct InfraSource {
    /// Image reference (the name shown for the pause program).
    image: String,
    /// The pause rootfs (no image then).
    rootfs: Option<PathBuf>,
    /// The command (the image's entrypoint when `None`).
    cmd: Option<Vec<String>>,
}

/// Seconds the infra process gets to exit on SIGTERM before SIGKILL.
pub(super) const INFRA_STOP_TIMEOUT: i64 = 10;

/// `security_opt` entries for the pod's seccomp profile.
fn seccomp_opts(profile: &str) -> Result<Vec<String>> {
    Ok(match profile.trim() {
        "" | "runtime/default" | "docker/default" => Vec::new(),
        "unconfined" => vec!["seccomp=unconfined".into()],
        p if p.starts_with('/') => vec![format!("seccomp={p}")],
        p => {
            return Err(Error::invalid(format!(
                "pod seccomp profile {p:?}: expected runtime/default, unconfined or an absolute path"
            )))
        }
    })
}

impl Engine {
    /// The pause rootfs, checked (and made) on first use by this engine.
    fn pause_rootfs(&self) -> Result<PathBuf> {
        let mut g = self.inner.pods.pause_rootfs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = g.as_ref() {
            return Ok(p.clone());
        }
        let bin = pause::locate(self.inner.config.pause_path.as_deref())?;
        let p = pause::ensure_rootfs(&self.inner.config.graph.join("pause"), &bin)?;
        *g = Some(p.clone());
        Ok(p)
    }

    /// What the infra process of a new pod runs: the `pod-sandbox-image` (pulled when
    /// missing) or the pause program (its rootfs made when needed). Called before anything
    /// of the pod is made, so a missing program fails early.
    pub(super) fn infra_source(&self) -> Result<InfraSource> {
        Ok(match &self.inner.config.pod_sandbox_image {
            Some(img) if !img.is_empty() => {
                self.ensure_sandbox_image(img)?;
                InfraSource { image: img.clone(), rootfs: None, cmd: None }
            }
            // The image name is only shown (`ps`); the rootfs is the pause rootfs.
            _ => InfraSource {
                image: PAUSE_BINARY.to_string(),
                rootfs: Some(self.pause_rootfs()?),
                cmd: Some(vec![PAUSE_IN_ROOTFS.to_string()]),
            },
        })
    }

    /// Creates and starts the infra container of pod `rec` (whose directory is `dir`).
    pub(super) fn infra_run(&self, rec: &PodRecord, dir: &std::path::Path, source: InfraSource) -> Result<()> {
        let c = &rec.config;
        let ns = &c.namespaces;
        let InfraSource { image, rootfs, cmd } = source;
        let name = format!("k8s_POD_{}_{}_{}_{}", c.name, c.namespace, c.uid, c.attempt);
        let mut labels: BTreeMap<String, String> = c.labels.clone().into_iter().collect();
        labels.insert(INFRA_LABEL.into(), rec.id.clone());
        let mut annotations: BTreeMap<String, String> = c.annotations.clone().into_iter().collect();
        annotations.insert("cri.container.type".into(), "sandbox".into());
        annotations.insert("cri.sandbox.id".into(), rec.id.clone());
        let mut security_opt = seccomp_opts(&c.seccomp_profile)?;
        if !c.privileged {
            security_opt.push("no-new-privileges".into());
        }
        let opts = CreateOptions {
            name: check_name(&name).ok(),
            image,
            cmd,
            hostname: (!ns.host_network).then(|| rec.hostname.clone()),
            network_mode: Some(if ns.host_network { "host" } else { "none" }.into()),
            uts_mode: ns.host_network.then(|| "host".into()),
            ipc_mode: ns.host_ipc.then(|| "host".into()),
            pid_mode: ns.host_pid.then(|| "host".into()),
            sysctls: c.sysctls.clone().into_iter().collect(),
            cgroup_parent: Some(rec.cgroup_parent.clone()),
            labels: labels.into_iter().collect(),
            annotations: annotations.into_iter().collect(),
            read_only: rootfs.is_some(),
            privileged: c.privileged,
            cap_drop: if c.privileged { Vec::new() } else { vec!["ALL".into()] },
            security_opt,
            log_config: LogConfig { driver: "none".into(), ..Default::default() },
            runtime: (!c.runtime.is_empty()).then(|| c.runtime.clone()),
            stop_timeout: Some(INFRA_STOP_TIMEOUT),
            ..Default::default()
        };
        let extra = CreateExtra {
            id: Some(rec.id.clone()),
            rootfs,
            spec_options: None,
            join: Some(PodJoin {
                netns: (!rec.netns_path.is_empty()).then(|| PathBuf::from(&rec.netns_path)),
                uts_pid: None,
                ipc_pid: None,
                shm: (!ns.host_ipc).then(|| crate::pod::files::shm_dir(dir)),
                files_dir: dir.to_path_buf(),
            }),
            pod: Some(rec.id.clone()),
        };
        match self.create_container_with(&opts, true, extra) {
            Ok((_, None)) => Ok(()),
            Ok((id, Some(e))) => {
                self.infra_remove(&id);
                Err(e.context("start the pod's infra process"))
            }
            Err(e) => Err(e.context("create the pod's infra container")),
        }
    }

    /// Force-removes the infra container `id` (missing is fine).
    pub(super) fn infra_remove(&self, id: &str) {
        let o = crate::container::types::RemoveOptions { force: true, volumes: true };
        if let Err(e) = self.remove(id, &o) {
            if e.kind() != crate::ErrorKind::NotFound {
                log::warn!("removing infra container {id}: {e}");
            }
        }
    }

    /// Pulls the sandbox image `reference` when it is not in the store.
    fn ensure_sandbox_image(&self, reference: &str) -> Result<()> {
        if self.resolve_image(reference).is_ok() {
            return Ok(());
        }
        self.pull(reference, &crate::registry::PullOptions::default(), &mut |_| {})
            .map(drop)
            .map_err(|e| e.context(format!("pull pod-sandbox-image {reference}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_profiles() {
        assert!(seccomp_opts("").unwrap().is_empty());
        assert!(seccomp_opts("runtime/default").unwrap().is_empty());
        assert_eq!(seccomp_opts("unconfined").unwrap(), ["seccomp=unconfined"]);
        assert_eq!(seccomp_opts("/p.json").unwrap(), ["seccomp=/p.json"]);
        assert_eq!(seccomp_opts("localhost/x").unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
    }
}
