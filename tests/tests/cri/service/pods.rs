//! Pods over the CRI: CNI networking with a hostPort reached from the host, containers of
//! one pod sharing network and IPC, status, lists and filters, stop/remove, a daemon restart.

use std::collections::HashMap;
use std::time::Duration;

use k8s_cri::v1 as cri;

use super::support::*;

#[test]
fn pod_with_cni_and_a_host_port() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let logs = c.daemon.root.path().join("logs");
    let port = free_port();
    let mut pc = pod_config("web", &logs);
    pc.port_mappings = vec![http_port(port)];
    let pod = c.run_pod(&pc);
    let st = c.pod_status(&pod);
    assert_eq!(st.state, cri::PodSandboxState::SandboxReady as i32);
    assert_eq!(st.metadata, pc.metadata);
    assert_eq!(st.labels, pc.labels, "labels as given");
    assert_eq!(st.annotations, pc.annotations, "annotations as given");
    let ip: std::net::Ipv4Addr = st.network.as_ref().unwrap().ip.parse().expect("pod IP");
    assert!(c.net.subnet.contains(ip), "{ip} not in {}", c.net.subnet);
    let info = pod_info(&c, &pod);
    assert!(info["pid"].as_i64().unwrap() > 0, "{info}");

    let id = c.create(&pod, &web_container("httpd", "hello-from-pod"), &pc);
    c.start_container(&id);
    let req = cri::PodSandboxStatusRequest { pod_sandbox_id: pod.clone(), verbose: false };
    let full = c.call(c.rs().pod_sandbox_status(req)).unwrap();
    assert_eq!(full.containers_statuses.len(), 1);
    assert_eq!(full.containers_statuses[0].id, id);
    assert!(full.timestamp > 0);
    // From the host: the pod's address, and the hostPort on loopback.
    let direct = wait_for(Duration::from_secs(20), "httpd in the pod", || http_get(&format!("{ip}:80")));
    assert!(direct.contains("hello-from-pod"), "{direct}");
    let via = wait_for(Duration::from_secs(20), "the hostPort", || http_get(&format!("127.0.0.1:{port}")));
    assert!(via.contains("hello-from-pod"), "{via}");
    assert_eq!(bridge_ports(&c.net.bridge).len(), 1, "one veth for the pod");

    // Lists and filters.
    let list = |f: Option<cri::PodSandboxFilter>| {
        c.call(c.rs().list_pod_sandbox(cri::ListPodSandboxRequest { filter: f })).unwrap().items
    };
    assert_eq!(list(None).len(), 1);
    let by = |f: cri::PodSandboxFilter| list(Some(f)).len();
    assert_eq!(by(cri::PodSandboxFilter { id: pod[..8].into(), ..Default::default() }), 1);
    assert_eq!(by(cri::PodSandboxFilter { label_selector: pc.labels.clone(), ..Default::default() }), 1);
    let other = HashMap::from([("app".to_string(), "other".to_string())]);
    assert_eq!(by(cri::PodSandboxFilter { label_selector: other, ..Default::default() }), 0);
    let notready = cri::PodSandboxStateValue { state: cri::PodSandboxState::SandboxNotready as i32 };
    assert_eq!(by(cri::PodSandboxFilter { state: Some(notready), ..Default::default() }), 0);

    // Stop: not ready, its container exited, the network released; twice is fine.
    for _ in 0..2 {
        c.call(c.rs().stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: pod.clone() })).unwrap();
    }
    assert_eq!(c.pod_status(&pod).state, cri::PodSandboxState::SandboxNotready as i32);
    assert_eq!(c.container_status(&id).state, cri::ContainerState::ContainerExited as i32);
    assert!(http_get(&format!("127.0.0.1:{port}")).is_none());
    assert_eq!(bridge_ports(&c.net.bridge), Vec::<String>::new());
    for _ in 0..2 {
        c.call(c.rs().remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: pod.clone() })).unwrap();
    }
    assert!(list(None).is_empty());
    let e = c.call(c.rs().container_status(cri::ContainerStatusRequest { container_id: id, verbose: false }));
    assert_eq!(e.unwrap_err().code(), tonic::Code::NotFound, "the pod's containers go with it");
    assert_pod_gone(&c, &info);
}

#[test]
fn containers_of_a_pod_share_network_and_ipc() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let pc = pod_config("share", &c.daemon.root.path().join("logs"));
    let pod = c.run_pod(&pc);
    let a = c.create(&pod, &container_config("a", &["sleep", "1000"]), &pc);
    let b = c.create(&pod, &container_config("b", &["sleep", "1000"]), &pc);
    c.start_container(&a);
    c.start_container(&b);
    let ns = |id: &str, kind: &str| c.exec_ok(id, &["readlink", &format!("/proc/self/ns/{kind}")]);
    assert_eq!(ns(&a, "net"), ns(&b, "net"));
    assert_eq!(ns(&a, "ipc"), ns(&b, "ipc"));
    assert_eq!(ns(&a, "uts"), ns(&b, "uts"));
    assert_ne!(ns(&a, "mnt"), ns(&b, "mnt"));
    assert_eq!(c.exec_ok(&a, &["hostname"]).trim(), "share");
    // The pod's address is the containers' address.
    let ip = c.pod_status(&pod).network.unwrap().ip;
    assert!(c.exec_ok(&b, &["ip", "-4", "addr"]).contains(&ip));
    // Shared IPC: a file in /dev/shm made by one is seen by the other.
    c.exec_ok(&a, &["sh", "-c", "echo shared > /dev/shm/x"]);
    assert_eq!(c.exec_ok(&b, &["cat", "/dev/shm/x"]), "shared\n");

    // The same metadata twice in one pod: refused, nothing added.
    let req = cri::CreateContainerRequest {
        pod_sandbox_id: pod.clone(),
        config: Some(container_config("a", &["sleep", "1"])),
        sandbox_config: Some(pc.clone()),
    };
    let e = c.call(c.rs().create_container(req)).unwrap_err();
    assert_ne!(e.code(), tonic::Code::Ok);
    let all = c.call(c.rs().list_containers(cri::ListContainersRequest { filter: None })).unwrap().containers;
    assert_eq!(all.len(), 2);
    let info = pod_info(&c, &pod);
    c.remove_pod(&pod);
    assert_pod_gone(&c, &info);
}

#[test]
fn daemon_restart_keeps_a_running_pod() {
    if !prerequisites() {
        return;
    }
    let mut c = Cri::start();
    let port = free_port();
    let mut pc = pod_config("restart", &c.daemon.root.path().join("logs"));
    pc.port_mappings = vec![http_port(port)];
    let pod = c.run_pod(&pc);
    let id = c.create(&pod, &web_container("httpd", "still-here"), &pc);
    c.start_container(&id);
    wait_for(Duration::from_secs(20), "the hostPort", || http_get(&format!("127.0.0.1:{port}")));
    let info = pod_info(&c, &pod);

    c.daemon.restart();
    c.reconnect();
    assert_eq!(c.pod_status(&pod).state, cri::PodSandboxState::SandboxReady as i32);
    assert_eq!(c.container_status(&id).state, cri::ContainerState::ContainerRunning as i32);
    assert_eq!(pod_info(&c, &pod)["pid"], info["pid"], "the same infra process");
    let body =
        wait_for(Duration::from_secs(20), "the hostPort after the restart", || http_get(&format!("127.0.0.1:{port}")));
    assert!(body.contains("still-here"), "{body}");
    c.remove_pod(&pod);
    assert_pod_gone(&c, &info);
}
