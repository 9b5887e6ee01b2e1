//! End-to-end: published ports through the portmap plugin — busybox httpd inside a namespace
//! answers on 127.0.0.1:<host port> and on the container IP; a busy host port is refused cleanly.

use crate::network_common;

use isula_core::ErrorKind;
use isula_core::{NetworkAttachRequest, NetworkCreateOptions, PortMapping, Protocol};
use isula_tests::env::free_port;
use network_common::*;

fn tcp(host_ip: Option<&str>, host_port: u16, container_port: u16) -> PortMapping {
    PortMapping { host_ip: host_ip.map(|s| s.parse().unwrap()), host_port, container_port, protocol: Protocol::Tcp }
}

#[test]
fn published_port_reaches_httpd_and_busy_port_is_refused() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let name = env.net("web");
    let info = env.store().create(&NetworkCreateOptions { name: name.clone(), ..Default::default() }).unwrap();
    let bridge = info.bridge.clone().unwrap();
    let c = env.cid("w");
    let ns = env.netns(&c);
    let p1 = free_port();
    let res = env
        .store()
        .attach(
            &c,
            &ns,
            &[NetworkAttachRequest {
                name: name.clone(),
                port_mappings: vec![tcp(Some("127.0.0.1"), p1, 80), tcp(None, 0, 80)],
                aliases: vec!["web".into()],
                ..Default::default()
            }],
        )
        .unwrap();
    let p2 = res[0].port_mappings[1].host_port;
    assert!(isula_core::unstable::network::EPHEMERAL_PORTS.contains(&p2), "allocated {p2}");
    assert_eq!(res[0].port_mappings[0].host_port, p1);
    let ip = res[0].ip_address().unwrap().to_string();

    let www = env.root.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let marker = format!("hello from {}", env.tag);
    std::fs::write(www.join("index.html"), &marker).unwrap();
    let httpd = start_httpd(&ns, &www);
    env.keep_child(httpd);

    let direct = http_get(&format!("{ip}:80"), "/index.html").unwrap();
    assert!(direct.contains(&marker), "{direct}");
    let via_lo = http_get(&format!("127.0.0.1:{p1}"), "/index.html").unwrap();
    assert!(via_lo.contains(&marker), "{via_lo}");
    let via_any = http_get(&format!("127.0.0.1:{p2}"), "/index.html").unwrap();
    assert!(via_any.contains(&marker), "{via_any}");
    // portmap makes localhost DNAT work by enabling route_localnet on the bridge.
    let rl = std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet")).unwrap();
    assert_eq!(rl.trim(), "1");

    // A host port promised to another container → Conflict naming the owner.
    let c2 = env.cid("x");
    let ns2 = env.netns(&c2);
    let e = env
        .store()
        .attach(
            &c2,
            &ns2,
            &[NetworkAttachRequest {
                name: name.clone(),
                port_mappings: vec![tcp(None, p1, 80)],
                ..Default::default()
            }],
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.to_string().contains(&p1.to_string()) && e.to_string().contains(&c), "{e}");

    // A host port something else listens on → Conflict naming the port, nothing left behind.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bp = busy.local_addr().unwrap().port();
    let e = env
        .store()
        .attach(
            &c2,
            &ns2,
            &[NetworkAttachRequest {
                name: name.clone(),
                port_mappings: vec![tcp(Some("127.0.0.1"), bp, 8080)],
                ..Default::default()
            }],
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.to_string().contains(&format!("127.0.0.1:{bp}")), "{e}");
    assert!(env.store().attachments(&c2).is_empty());
    assert!(env.store().cni().cache().entries().iter().all(|e| e.container_id != c2));
    assert_eq!(bridge_ports(&bridge).len(), 1, "no veth for the refused container");
    assert!(iptables_lines(&c2).is_empty());
    drop(busy);

    env.store().detach_all(&c, &ns).unwrap();
    assert!(iptables_lines(&c).is_empty(), "{:?}", iptables_lines(&c));
    assert!(iptables_lines(&format!("--dport {p1}")).is_empty());
    assert!(iptables_lines(&format!("--dport {p2}")).is_empty());
    assert!(bridge_ports(&bridge).is_empty());
}
