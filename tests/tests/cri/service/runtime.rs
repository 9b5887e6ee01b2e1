//! Version, Status (NetworkReady follows the CNI config dir), runtime handlers, crictl's
//! info, RuntimeConfig, UpdateRuntimeConfig and the calls that say they are not implemented
//! (checkpoints and pod metrics).

use k8s_cri::v1 as cri;
use tonic::Code;

use super::support::{prerequisites, CniNet, Cri};

#[test]
fn version_status_handlers_and_info() {
    if !prerequisites() {
        return;
    }
    // No network config yet: the runtime is ready, the network is not.
    let c = Cri::start_on(CniNet::new(), Vec::new());
    let v = c.call(c.rs().version(cri::VersionRequest { version: "v1".into() })).unwrap();
    assert_eq!((v.runtime_name.as_str(), v.runtime_api_version.as_str()), ("isulad", "v1"));
    assert!(!v.runtime_version.is_empty());

    let status = |verbose| c.call(c.rs().status(cri::StatusRequest { verbose })).unwrap();
    let s = status(false);
    let conds = s.status.unwrap().conditions;
    let cond = |t: &str| conds.iter().find(|x| x.r#type == t).unwrap_or_else(|| panic!("no {t} in {conds:?}")).clone();
    assert!(cond("RuntimeReady").status);
    let net = cond("NetworkReady");
    assert!(!net.status);
    assert_eq!(net.reason, "NetworkPluginNotReady");
    assert!(!net.message.is_empty());
    let names: Vec<&str> = s.runtime_handlers.iter().map(|h| h.name.as_str()).collect();
    assert!(names.contains(&"runc") && names.contains(&"crun"), "{names:?}");
    assert!(s.info.is_empty(), "info only when verbose");

    // Once the admin writes a network config, the network is ready.
    c.net.write();
    let s = status(true);
    let conds = s.status.unwrap().conditions;
    assert!(conds.iter().all(|x| x.status), "{conds:?}");
    let info: serde_json::Value = serde_json::from_str(&s.info["config"]).unwrap();
    assert_eq!(info["networkPlugin"], "cni");
    assert_eq!(info["cniConfDir"], c.net.conf_dir.display().to_string());
    assert_eq!(info["cgroupDriver"], "cgroupfs");

    let rc = c.call(c.rs().runtime_config(cri::RuntimeConfigRequest {})).unwrap();
    assert_eq!(rc.linux.unwrap().cgroup_driver, cri::CgroupDriver::Cgroupfs as i32);
    let upd = cri::UpdateRuntimeConfigRequest {
        runtime_config: Some(cri::RuntimeConfig {
            network_config: Some(cri::NetworkConfig { pod_cidr: "10.244.0.0/24".into() }),
        }),
    };
    c.call(c.rs().update_runtime_config(upd)).unwrap();
    let info: serde_json::Value = serde_json::from_str(&status(true).info["config"]).unwrap();
    assert_eq!(info["podCIDR"], "10.244.0.0/24");
}

#[test]
fn unimplemented_calls_say_so() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let e = c.call(c.rs().checkpoint_container(cri::CheckpointContainerRequest::default())).unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    assert!(e.message().contains("CheckpointContainer"), "{}", e.message());
    let e = c.call(c.rs().list_pod_sandbox_metrics(cri::ListPodSandboxMetricsRequest {})).unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    let e = c.call(c.rs().list_metric_descriptors(cri::ListMetricDescriptorsRequest {})).unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
}
