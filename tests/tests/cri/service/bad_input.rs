//! Bad input: unknown ids, malformed configs, a missing image, an unknown runtime handler.
//! Each is a clear gRPC status and leaves nothing behind; stop/remove of unknown objects
//! succeed.

use k8s_cri::v1 as cri;
use tonic::Code;

use super::support::*;

#[test]
fn bad_input_is_a_clear_status_and_leaves_nothing() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let rs = || c.rs();
    let unknown = "0123456789abcdef".repeat(4);

    // Stop and remove of unknown pods and containers: successes.
    c.call(rs().stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: unknown.clone() })).unwrap();
    c.call(rs().remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: unknown.clone() })).unwrap();
    c.call(rs().stop_container(cri::StopContainerRequest { container_id: unknown.clone(), timeout: 1 })).unwrap();
    c.call(rs().remove_container(cri::RemoveContainerRequest { container_id: unknown.clone() })).unwrap();

    // Unknown ids elsewhere: NOT_FOUND.
    let code = |r: Result<(), tonic::Status>| r.unwrap_err().code();
    let st = cri::PodSandboxStatusRequest { pod_sandbox_id: unknown.clone(), verbose: false };
    assert_eq!(code(c.call(rs().pod_sandbox_status(st)).map(drop)), Code::NotFound);
    let st = cri::ContainerStatusRequest { container_id: unknown.clone(), verbose: false };
    assert_eq!(code(c.call(rs().container_status(st)).map(drop)), Code::NotFound);
    let st = cri::StartContainerRequest { container_id: unknown.clone() };
    assert_eq!(code(c.call(rs().start_container(st)).map(drop)), Code::NotFound);
    assert_eq!(code(c.exec(&unknown, &["true"], 1).map(drop)), Code::NotFound);
    let logs = c.daemon.root.path().join("logs");
    let pc = pod_config("bad", &logs);
    let req = cri::CreateContainerRequest {
        pod_sandbox_id: unknown.clone(),
        config: Some(container_config("x", &["true"])),
        sandbox_config: Some(pc.clone()),
    };
    assert_eq!(code(c.call(rs().create_container(req)).map(drop)), Code::NotFound);
    // Empty ids: INVALID_ARGUMENT.
    let st = cri::ContainerStatusRequest { container_id: String::new(), verbose: false };
    assert_eq!(code(c.call(rs().container_status(st)).map(drop)), Code::InvalidArgument);

    // Malformed pod configs and an unknown runtime handler: INVALID_ARGUMENT, no pod.
    let run = |config: Option<cri::PodSandboxConfig>, handler: &str| {
        let req = cri::RunPodSandboxRequest { config, runtime_handler: handler.into() };
        c.call(rs().run_pod_sandbox(req)).map(drop)
    };
    assert_eq!(code(run(None, "")), Code::InvalidArgument);
    let mut no_md = pc.clone();
    no_md.metadata = None;
    assert_eq!(code(run(Some(no_md), "")), Code::InvalidArgument);
    let e = run(Some(pc.clone()), "no-such-handler").unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("no-such-handler"), "{}", e.message());
    let list = || c.call(rs().list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })).unwrap().items;
    assert!(list().is_empty());
    assert_eq!(bridge_ports(&c.net.bridge), Vec::<String>::new());

    // In a real pod: malformed container configs and a missing image; nothing is created.
    let pod = c.run_pod(&pc);
    let create = |config: cri::ContainerConfig| {
        let req = cri::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(config),
            sandbox_config: Some(pc.clone()),
        };
        c.call(rs().create_container(req)).map(drop)
    };
    let mut cfg = container_config("x", &["true"]);
    cfg.metadata = None;
    assert_eq!(code(create(cfg)), Code::InvalidArgument);
    let mut cfg = container_config("x", &["true"]);
    cfg.image = None;
    assert_eq!(code(create(cfg)), Code::InvalidArgument);
    let mut cfg = container_config("x", &["true"]);
    cfg.mounts = vec![cri::Mount { container_path: "relative".into(), host_path: "/tmp".into(), ..Default::default() }];
    assert_eq!(code(create(cfg)), Code::InvalidArgument);
    let mut cfg = container_config("x", &["true"]);
    cfg.image = Some(cri::ImageSpec { image: "no-such-image:1".into(), ..Default::default() });
    let missing_source = c.daemon.root.path().join("not-made");
    cfg.mounts = vec![cri::Mount {
        container_path: "/data".into(),
        host_path: missing_source.display().to_string(),
        ..Default::default()
    }];
    let e = create(cfg).unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert!(!missing_source.exists(), "a refused create makes no host directory");
    let all = c.call(rs().list_containers(cri::ListContainersRequest { filter: None })).unwrap().containers;
    assert!(all.is_empty(), "{all:?}");
    let pull = cri::PullImageRequest {
        image: Some(cri::ImageSpec { image: "127.0.0.1:1/no/such:1".into(), ..Default::default() }),
        ..Default::default()
    };
    assert_ne!(c.call(c.is().pull_image(pull)).unwrap_err().code(), Code::Ok);

    let info = pod_info(&c, &pod);
    c.remove_pod(&pod);
    assert_pod_gone(&c, &info);
}
