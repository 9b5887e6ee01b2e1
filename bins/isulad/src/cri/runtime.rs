//! Version, Status, RuntimeConfig and UpdateRuntimeConfig.

use std::collections::HashMap;
use std::path::Path;

use isula_core::{CgroupDriver, EngineConfig};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::Shared;

/// The CRI API version served.
pub(crate) const CRI_VERSION: &str = "v1";
/// The runtime's name in Version.
pub(crate) const RUNTIME_NAME: &str = "isulad";

/// Version: our name and version, CRI v1.
pub(crate) fn version(_: &cri::VersionRequest) -> cri::VersionResponse {
    cri::VersionResponse {
        version: "0.1.0".into(),
        runtime_name: RUNTIME_NAME.into(),
        runtime_version: env!("CARGO_PKG_VERSION").into(),
        runtime_api_version: CRI_VERSION.into(),
    }
}

/// The runtime handlers (RuntimeClass handlers): the keys of `runtimes`, plus runc and crun.
pub(crate) fn handlers(cfg: &EngineConfig) -> Vec<String> {
    let mut v: Vec<String> = cfg.runtimes.keys().cloned().collect();
    for builtin in ["runc", "crun"] {
        if !v.iter().any(|h| h == builtin) {
            v.push(builtin.into());
        }
    }
    v.sort();
    v
}

/// The engine runtime for a CRI runtime handler (empty: the default runtime);
/// `INVALID_ARGUMENT` for an unknown handler.
pub(crate) fn runtime_for_handler(cfg: &EngineConfig, handler: &str) -> Result<String, Status> {
    if handler.is_empty() {
        return Ok(String::new());
    }
    if handlers(cfg).iter().any(|h| h == handler) {
        return Ok(handler.to_string());
    }
    Err(Status::invalid_argument(format!("unknown runtime handler {handler:?} (known: {})", handlers(cfg).join(", "))))
}

/// The first network config file of `dir` in lexical order (`.conf`, `.conflist`, `.json`).
pub(crate) fn cni_config(dir: &Path) -> Option<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("conf" | "conflist" | "json")))
        .collect();
    files.sort();
    files.into_iter().next()
}

/// The NetworkReady condition: with `network-plugin cni`, ready once a config exists.
pub(crate) fn network_condition(cfg: &EngineConfig) -> cri::RuntimeCondition {
    let mut c = cri::RuntimeCondition { r#type: "NetworkReady".into(), status: true, ..Default::default() };
    if cfg.network_plugin == "cni" && cni_config(&cfg.cni_conf_dir).is_none() {
        c.status = false;
        c.reason = "NetworkPluginNotReady".into();
        c.message = format!(
            "Network plugin returns error: cni config uninitialized (no network config in {})",
            cfg.cni_conf_dir.display()
        );
    }
    c
}

/// The effective CRI configuration, as `crictl info` shows it (`info["config"]`).
pub(crate) fn effective_config(shared: &Shared) -> serde_json::Value {
    let cfg = &shared.config;
    let pod_cidr = shared.pod_cidr.lock().map(|c| c.clone()).unwrap_or_default();
    serde_json::json!({
        "networkPlugin": cfg.network_plugin,
        "cniConfDir": cfg.cni_conf_dir,
        "cniBinDir": cfg.cni_bin_dir,
        "cniConfig": cni_config(&cfg.cni_conf_dir),
        "podSandboxImage": cfg.pod_sandbox_image,
        "pausePath": cfg.pause_path,
        "defaultRuntime": cfg.default_runtime,
        "runtimeHandlers": handlers(cfg),
        "runtimes": cfg.runtimes,
        "cgroupDriver": cgroup_driver(cfg).as_str(),
        "cgroupParent": cfg.cgroup_parent,
        "registryMirrors": cfg.registry_mirrors,
        "insecureRegistries": cfg.insecure_registries,
        "root": cfg.graph,
        "state": cfg.state,
        "podCIDR": pod_cidr,
        "streaming": false,
    })
}

/// Status: RuntimeReady, NetworkReady, the runtime handlers; with `verbose` the effective
/// config in `info["config"]`.
pub(crate) fn status(shared: &Shared, r: cri::StatusRequest) -> Result<cri::StatusResponse, Status> {
    let conditions = vec![
        cri::RuntimeCondition { r#type: "RuntimeReady".into(), status: true, ..Default::default() },
        network_condition(&shared.config),
    ];
    let mut info = HashMap::new();
    if r.verbose {
        info.insert("config".to_string(), effective_config(shared).to_string());
    }
    Ok(cri::StatusResponse {
        status: Some(cri::RuntimeStatus { conditions }),
        info,
        runtime_handlers: handlers(&shared.config)
            .into_iter()
            .map(|name| cri::RuntimeHandler {
                name,
                features: Some(cri::RuntimeHandlerFeatures {
                    recursive_read_only_mounts: false,
                    user_namespaces: false,
                }),
            })
            .collect(),
        features: Some(cri::RuntimeFeatures { supplemental_groups_policy: true }),
    })
}

/// The configured cgroup driver (`cgroupfs` unless `cgroup-driver`/`systemd-cgroup` say systemd).
fn cgroup_driver(cfg: &EngineConfig) -> CgroupDriver {
    cfg.cgroup_driver().unwrap_or(CgroupDriver::Cgroupfs)
}

/// RuntimeConfig: the cgroup driver in use, which kubelet must match.
pub(crate) fn runtime_config(cfg: &EngineConfig) -> cri::RuntimeConfigResponse {
    let driver = match cgroup_driver(cfg) {
        CgroupDriver::Cgroupfs => cri::CgroupDriver::Cgroupfs,
        CgroupDriver::Systemd => cri::CgroupDriver::Systemd,
    };
    cri::RuntimeConfigResponse { linux: Some(cri::LinuxRuntimeConfiguration { cgroup_driver: driver as i32 }) }
}

/// UpdateRuntimeConfig: remember the pod CIDR (the CNI config names its own ranges).
pub(crate) fn update_config(shared: &Shared, r: cri::UpdateRuntimeConfigRequest) {
    let cidr = r.runtime_config.and_then(|c| c.network_config).map(|n| n.pod_cidr).unwrap_or_default();
    if cidr.is_empty() {
        return;
    }
    log::info!("CRI: pod CIDR is {cidr}");
    if let Ok(mut c) = shared.pod_cidr.lock() {
        *c = cidr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_and_network_condition() {
        let mut cfg = EngineConfig::default();
        cfg.runtimes.insert("kata".into(), Default::default());
        assert_eq!(handlers(&cfg), vec!["crun", "kata", "runc"]);
        assert_eq!(runtime_for_handler(&cfg, "").unwrap(), "");
        assert_eq!(runtime_for_handler(&cfg, "kata").unwrap(), "kata");
        let e = runtime_for_handler(&cfg, "gvisor").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("gvisor"));

        let dir = tempfile::tempdir().unwrap();
        cfg.cni_conf_dir = dir.path().to_path_buf();
        assert!(network_condition(&cfg).status, "no network plugin: ready");
        cfg.network_plugin = "cni".into();
        let c = network_condition(&cfg);
        assert!(!c.status);
        assert_eq!(c.reason, "NetworkPluginNotReady");
        std::fs::write(dir.path().join("README"), "x").unwrap();
        assert!(!network_condition(&cfg).status);
        std::fs::write(dir.path().join("20-b.conflist"), "{}").unwrap();
        std::fs::write(dir.path().join("10-a.conf"), "{}").unwrap();
        assert!(network_condition(&cfg).status);
        assert_eq!(cni_config(dir.path()).unwrap(), dir.path().join("10-a.conf"));
    }
}
