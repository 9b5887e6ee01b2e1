//! Pods with `network-plugin cni`: a bridge + host-local + portmap config written to the
//! test's own directory (bridge name and subnet unique to the test), an address reachable
//! from the host, a hostPort that answers, CNI DEL at stop, restore after reopen, and a
//! missing configuration.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use isula_core::{ErrorKind, Ipv4Net, ListOptions, PodPortMapping, PodState};

use super::common::*;
use isula_tests::env::free_port;

const T: Duration = Duration::from_secs(20);

/// Writes the test's network config (`10-<name>.conflist`) and a later one that must not be
/// used; returns (network name, bridge, subnet).
fn write_config(env: &mut PodEnv) -> (String, String, Ipv4Net) {
    let subnet = isula_tests::net::free_subnet();
    let tag = format!("{}{}", std::process::id() % 100_000, env.n);
    let (name, bridge) = (format!("podtest{tag}"), format!("ipt{tag}"));
    env.bridge = Some(bridge.clone());
    let dir = env.conf_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let ipam_dir = env.root.path().join("ipam");
    let conf = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet.to_string()}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": ipam_dir.display().to_string()}},
            {"type": "portmap", "capabilities": {"portMappings": true}},
            {"type": "firewall", "backend": "iptables"}
        ]
    });
    std::fs::write(dir.join(format!("10-{name}.conflist")), conf.to_string()).unwrap();
    let other = serde_json::json!({"cniVersion": "1.0.0", "name": format!("{name}-not-used"),
        "plugins": [{"type": "bridge", "bridge": format!("{bridge}x"), "ipam": {}}]});
    std::fs::write(dir.join(format!("20-{name}.conflist")), other.to_string()).unwrap();
    (name, bridge, subnet)
}

/// The body of `GET /` from `addr`, retried until it answers or `T` passes.
fn http_get(addr: &str) -> Result<String, String> {
    let mut last = String::new();
    let ok = isula_tests::poll::poll(T, || {
        match std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = write!(s, "GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n");
                let mut out = String::new();
                match s.read_to_string(&mut out) {
                    Ok(_) if !out.is_empty() => {
                        last = out;
                        return true;
                    }
                    Ok(_) => last = "empty response".into(),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        false
    });
    if ok {
        Ok(last)
    } else {
        Err(format!("GET http://{addr}/: {last}"))
    }
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// veth devices enslaved to `bridge`.
fn bridge_ports(bridge: &str) -> Vec<String> {
    match std::fs::read_dir(format!("/sys/class/net/{bridge}/brif")) {
        Ok(rd) => rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

fn cni_prerequisites() -> bool {
    prerequisites() && isula_tests::env::require("iptables")
}

#[test]
fn cni_pod_gets_an_address_and_a_host_port() {
    if !cni_prerequisites() {
        return;
    }
    let mut env = PodEnv::new("runc", true);
    let (name, bridge, subnet) = write_config(&mut env);
    let e = env.e();
    let port = free_port();
    let mut cfg = env.pod_config("cni");
    cfg.hostname = "cnipod".into();
    cfg.port_mappings =
        vec![PodPortMapping { protocol: "TCP".into(), container_port: 8080, host_port: port, host_ip: String::new() }];
    let id = e.pods().run(&cfg).unwrap();
    let p = e.pods().inspect(&id).unwrap();
    assert_eq!(p.state, PodState::Ready);
    let ip: std::net::Ipv4Addr = p.ip.parse().unwrap_or_else(|_| panic!("pod ip {:?}", p.ip));
    assert!(subnet.contains(ip), "{ip} in {subnet}");
    assert!(link_exists(&bridge) && !link_exists(&format!("{bridge}x")), "the first config in lexical order is used");
    assert_eq!(bridge_ports(&bridge).len(), 1);

    let marker = format!("isula-pod-{id}");
    let web = e
        .containers()
        .run(&env.in_pod(
            &id,
            &[
                "sh",
                "-c",
                &format!("mkdir -p /www && echo {marker} > /www/index.html && exec httpd -f -p 8080 -h /www"),
            ],
        ))
        .unwrap();
    let hosts = env.exec(&web, &["cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l == format!("{ip}\tcnipod")), "{hosts}");
    let addrs = env.exec(&web, &["ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(addrs.contains(&format!("{ip}/24")), "{addrs}");
    let body = http_get(&format!("{ip}:8080")).unwrap();
    assert!(body.contains(&marker), "{body}");
    let body = http_get(&format!("127.0.0.1:{port}")).unwrap();
    assert!(body.contains(&marker), "hostPort: {body}");
    let ipam = env.root.path().join("ipam").join(&name);
    assert!(ipam.join(ip.to_string()).exists(), "host-local reserved {ip}");

    e.pods().stop(&id).unwrap();
    assert_eq!(e.pods().inspect(&id).unwrap().state, PodState::NotReady);
    assert!(!ipam.join(ip.to_string()).exists(), "CNI DEL released {ip}");
    assert!(bridge_ports(&bridge).is_empty(), "veth removed: {:?}", bridge_ports(&bridge));
    assert!(netns_files(&env).is_empty());
    e.pods().stop(&id).unwrap();
    e.pods().remove(&id).unwrap();
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(netns_files(&env).is_empty());
    let cache = env.root.path().join("state/cni");
    let left: Vec<_> = std::fs::read_dir(&cache).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.iter().all(|p| !p.to_string_lossy().contains(&id)), "cache left: {left:?}");
}

#[test]
fn cni_pod_survives_reopen_with_its_port() {
    if !cni_prerequisites() {
        return;
    }
    let mut env = PodEnv::new("runc", true);
    let (_, bridge, _) = write_config(&mut env);
    let port = free_port();
    let mut cfg = env.pod_config("reopen");
    cfg.port_mappings = vec![PodPortMapping {
        protocol: "tcp".into(),
        container_port: 80,
        host_port: port,
        host_ip: "127.0.0.1".into(),
    }];
    let id = env.e().pods().run(&cfg).unwrap();
    let marker = format!("reopen-{id}");
    env.e()
        .containers()
        .run(&env.in_pod(
            &id,
            &["sh", "-c", &format!("mkdir -p /www && echo {marker} > /www/index.html && exec httpd -f -p 80 -h /www")],
        ))
        .unwrap();
    assert!(http_get(&format!("127.0.0.1:{port}")).unwrap().contains(&marker));
    let before = env.e().pods().inspect(&id).unwrap();
    env.reopen();
    let after = env.e().pods().inspect(&id).unwrap();
    assert_eq!((after.state, after.pid, &after.ip), (PodState::Ready, before.pid, &before.ip));
    assert!(http_get(&format!("127.0.0.1:{port}")).unwrap().contains(&marker), "the port answers after reopen");
    env.e().pods().stop(&id).unwrap();
    env.e().pods().remove(&id).unwrap();
    assert!(bridge_ports(&bridge).is_empty());
    assert!(netns_files(&env).is_empty());
}

#[test]
fn missing_cni_config_is_a_clear_error_and_leaves_nothing() {
    if !prerequisites() {
        return;
    }
    let env = PodEnv::new("runc", true);
    let e = env.e();
    let err = e.pods().run(&env.pod_config("nocni")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(err.to_string().contains(&env.conf_dir().display().to_string()), "{err}");
    assert!(e.pods().list().unwrap().is_empty());
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(netns_files(&env).is_empty());
    let pods: Vec<_> = std::fs::read_dir(env.root.path().join("root/pods")).unwrap().flatten().collect();
    assert!(pods.is_empty(), "{pods:?}");
    // A host-network pod needs no CNI config.
    let mut host = env.pod_config("host");
    host.namespaces.host_network = true;
    let id = e.pods().run(&host).unwrap();
    e.pods().remove(&id).unwrap();
}
