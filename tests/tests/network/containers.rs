//! End-to-end: real containers (runc) on a managed network — a published busybox httpd answers
//! on 127.0.0.1 and on the container IP, a second container pings the first, inspect shows
//! NetworkSettings, /etc/hosts has the address; stop and remove release everything.

use crate::containers_common;
use crate::network_common;

use std::time::{Duration, Instant};

use containers_common::Env;
use isula_core::{Ipv4Net, NetworkCreateOptions};
use isula_core::{ListOptions, RemoveOptions, WaitCondition};
use network_common::{bridge_ports, http_get, iptables_lines, link_exists, rand_hex};

/// Removes containers, then the networks and their bridges, even when the test fails.
struct Guard {
    env: Option<Env>,
    nets: Vec<(String, String)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(env) = self.env.take() {
            let e = env.e();
            if let Ok(list) = e.containers().list(&ListOptions { all: true, ..Default::default() }) {
                for c in list {
                    let _ = e.containers().remove(&c.id, &RemoveOptions { force: true, volumes: true });
                }
            }
            for (n, br) in &self.nets {
                if let Err(err) = e.networks().remove(n).or_else(|x| {
                    if x.kind() == isula_core::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(x)
                    }
                }) {
                    eprintln!("cleanup: network {n}: {err}");
                }
                if link_exists(br) {
                    let _ = std::process::Command::new("ip").args(["link", "del", br]).status();
                }
            }
            drop(env);
        }
    }
}

fn setup() -> Option<(Guard, String, Ipv4Net)> {
    if !containers_common::prerequisites() || !network_common::prerequisites() {
        return None;
    }
    let env = Env::new("runc");
    let name = format!("n{}", rand_hex(3));
    let subnet = isula_tests::net::free_subnet();
    let info = env
        .e()
        .networks()
        .create(&NetworkCreateOptions { name: name.clone(), subnet: Some(subnet.to_string()), ..Default::default() })
        .unwrap();
    assert_eq!(info.ipam.config[0].subnet.as_deref(), Some(subnet.to_string().as_str()));
    let br = info.options["com.docker.network.bridge.name"].clone();
    Some((Guard { env: Some(env), nets: vec![(name.clone(), br)] }, name, subnet))
}

#[test]
fn published_httpd_ping_inspect_stop_remove() {
    let Some((g, net, subnet)) = setup() else { return };
    let env = g.env.as_ref().unwrap();
    let e = env.e();
    let bridge = g.nets[0].1.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let marker = format!("isula-net-{}", rand_hex(4));
    let mut o = env.opts(&[
        "sh",
        "-c",
        &format!("mkdir -p /www && echo {marker} > /www/index.html && exec httpd -f -p 80 -h /www"),
    ]);
    o.network_mode = Some(net.clone());
    o.publish = vec![format!("127.0.0.1:{port}:80")];
    o.hostname = Some("web".into());
    let id = e.containers().run(&o).unwrap();

    let ins = e.containers().inspect(&id).unwrap();
    let ep = &ins.network_settings.networks[&net];
    let ip = ep.ip_address.clone();
    assert!(subnet.contains(ip.parse().unwrap()), "{ip} in {subnet}");
    assert_eq!(ep.gateway, subnet.nth(1).unwrap().to_string());
    assert_eq!(ep.mac_address.len(), 17);
    assert_eq!(ins.network_settings.ports["80/tcp"][0].host_port, port.to_string());
    assert!(ins.network_settings.sandbox_key.ends_with(&format!("netns/{id}")));
    let hosts = std::fs::read_to_string(env.root.path().join("root/containers").join(&id).join("hosts")).unwrap();
    assert!(hosts.lines().any(|l| l.starts_with(&ip) && l.contains("web")), "{hosts}");

    let body = http_get(&format!("127.0.0.1:{port}"), "/index.html").unwrap();
    assert!(body.contains(&marker), "{body}");
    let body = http_get(&format!("{ip}:80"), "/index.html").unwrap();
    assert!(body.contains(&marker), "{body}");

    let mut p = env.opts(&["ping", "-c", "1", "-W", "3", &ip]);
    p.network_mode = Some(net.clone());
    let pinger = e.containers().run(&p).unwrap();
    assert_eq!(e.containers().wait(&pinger, WaitCondition::NotRunning).unwrap(), 0, "second container pings {ip}");
    // The monitor releases the network right after recording the exit.
    assert!(
        containers_common::eventually(Duration::from_secs(10), || iptables_lines(&pinger).is_empty()),
        "exited container released its network"
    );

    e.containers().stop(&id, Some(1)).unwrap();
    assert!(bridge_ports(&bridge).is_empty(), "stop removes the veth");
    assert!(iptables_lines(&id).is_empty(), "{:?}", iptables_lines(&id));
    assert!(http_get(&format!("127.0.0.1:{port}"), "/").is_err());
    // in use by (stopped) containers? No attachment is left, so the network could go now;
    // start again re-attaches with the same published port.
    e.containers().start(&id).unwrap();
    let body = http_get(&format!("127.0.0.1:{port}"), "/index.html").unwrap();
    assert!(body.contains(&marker), "{body}");
    let err = e.networks().remove(&net).unwrap_err();
    assert_eq!(err.kind(), isula_core::ErrorKind::FailedPrecondition);

    e.containers().remove(&id, &RemoveOptions { force: true, volumes: false }).unwrap();
    e.containers().remove(&pinger, &RemoveOptions::default()).unwrap();
    assert!(iptables_lines(&id).is_empty());
    assert!(!env.root.path().join("state/netns").join(&id).exists());
    e.networks().remove(&net).unwrap();
    assert!(!link_exists(&bridge));
}

#[test]
#[ignore]
fn measure_run_with_and_without_network() {
    let Some((g, net, _)) = setup() else { return };
    let env = g.env.as_ref().unwrap();
    let e = env.e();
    let mut with = Vec::new();
    let mut without = Vec::new();
    for i in 0..20 {
        let mut o = env.opts(&["sleep", "100"]);
        if i % 2 == 0 {
            o.network_mode = Some(net.clone());
        }
        let t = Instant::now();
        let id = e.containers().run(&o).unwrap();
        let d = t.elapsed();
        if i % 2 == 0 {
            with.push(d)
        } else {
            without.push(d)
        }
        e.containers().remove(&id, &RemoveOptions { force: true, volumes: false }).unwrap();
    }
    let med = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!("run -d median of 10 without network: {:?}", med(without));
    println!("run -d median of 10 with a bridge network: {:?}", med(with));
}
