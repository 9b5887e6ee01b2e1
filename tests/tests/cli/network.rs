//! End to end: networking through the real `isula` against a real `isulad` with runc and the
//! Debian CNI plugins — `isula network create|ls|inspect|rm`, two containers on one network
//! ping each other, a network in use cannot be removed, the default bridge network (Docker's
//! `-b`) with a published busybox httpd answering on 127.0.0.1, `isula port`, `--network host`
//! and `--network none`, unknown networks, and nothing left behind (veth, netns, iptables).
//!
//! Build first: `cargo build -p isulad -p isula -p isulad-shim`.

use crate::cli_support;
use crate::network_common;

use std::process::Command;

use cli_support::{Daemon, Run};
use isula_core::Ipv4Net;
use isula_tests::env::free_port;
use network_common::{bridge_ports, http_get, iptables_lines, link_exists, rand_hex};
use serde_json::Value;

/// A daemon with busybox loaded. On drop: removes every container, then the networks this
/// test made, stops the daemon and deletes the bridge devices it owns.
struct Env {
    d: Option<Daemon>,
    nets: Vec<String>,
    links: Vec<String>,
}

fn prerequisites() -> bool {
    network_common::prerequisites() && isula_tests::env::require("runc")
}

impl Env {
    fn new(flags: &[&str]) -> Env {
        let d = Daemon::start_with(flags.iter().map(|s| s.to_string()).collect());
        d.load_busybox();
        Env { d: Some(d), nets: Vec::new(), links: Vec::new() }
    }

    fn d(&self) -> &Daemon {
        self.d.as_ref().expect("daemon")
    }

    fn isula(&self, args: &[&str]) -> Run {
        self.d().isula(args)
    }

    /// `isula network create ARGS NAME`, remembered for cleanup; returns the printed id.
    fn create_net(&mut self, name: &str, args: &[&str]) -> String {
        self.nets.push(name.to_string());
        let mut a = vec!["network", "create"];
        a.extend_from_slice(args);
        a.push(name);
        self.isula(&a).ok().trim().to_string()
    }

    fn inspect_net(&self, name: &str) -> Value {
        let out = self.isula(&["network", "inspect", name]).ok().to_string();
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}"));
        v[0].clone()
    }

    fn container_ip(&self, id: &str, net: &str) -> String {
        let f = format!("{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}");
        self.isula(&["inspect", "-f", &f, id]).ok().trim().to_string()
    }

    /// Files in the daemon's netns directory (pinned namespaces of containers).
    fn netns_left(&self) -> Vec<String> {
        let dir = self.d().root.path().join("state/netns");
        std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(d) = &self.d {
            d.remove_all_containers();
            for n in &self.nets {
                let _ = d.isula(&["network", "rm", n]);
            }
        }
        self.d = None;
        for l in &self.links {
            if link_exists(l) {
                let _ = Command::new("ip").args(["link", "del", l]).status();
            }
        }
    }
}

/// `10.a.b.` of a /24, to find rules and addresses of the subnet in text.
fn prefix_of(s: &Ipv4Net) -> String {
    let o = s.addr().octets();
    format!("{}.{}.{}.", o[0], o[1], o[2])
}

#[test]
fn network_create_ls_inspect_rm() {
    if !prerequisites() {
        return;
    }
    let mut env = Env::new(&[]);
    let tag = rand_hex(3);
    let (n1, n2) = (format!("front{tag}"), format!("back{tag}"));
    let subnet = isula_tests::net::free_subnet();
    let gw = subnet.nth(1).unwrap().to_string();
    let id1 = env
        .create_net(&n1, &["-d", "bridge", "--subnet", &subnet.to_string(), "--gateway", &gw, "--label", "tier=web"]);
    assert!(id1.len() == 64 && id1.chars().all(|c| c.is_ascii_hexdigit()), "create prints the id: {id1:?}");
    let id2 = env.create_net(&n2, &["--internal", "--label", "tier=db"]);

    // ls: Docker's table, -q, filters, --format.
    let out = env.isula(&["network", "ls"]).ok().to_string();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"],
        "{out}"
    );
    let row1 = out.lines().find(|l| l.contains(&n1)).unwrap_or_else(|| panic!("{n1} missing:\n{out}"));
    assert_eq!(row1.split_whitespace().collect::<Vec<_>>(), [&id1[..12], n1.as_str(), "bridge", "local"]);
    assert!(out.contains(&n2), "{out}");
    assert!(!out.contains("\nbridge "), "the default network is disabled in this daemon:\n{out}");
    let q = env.isula(&["network", "ls", "-q"]).ok().to_string();
    assert_eq!(q.lines().collect::<Vec<_>>(), [&id2[..12], &id1[..12]], "sorted by name");
    let only = |f: &str| env.isula(&["network", "ls", "--filter", f, "--format", "{{.Name}}"]).ok().to_string();
    assert_eq!(only(&format!("name={n1}")), format!("{n1}\n"));
    assert_eq!(only("label=tier=db"), format!("{n2}\n"));
    assert_eq!(only(&format!("id={}", &id1[..10])), format!("{n1}\n"));
    assert_eq!(only("driver=macvlan"), "");
    assert_eq!(only("label=tier").lines().count(), 2);
    let f = env.isula(&[
        "network",
        "ls",
        "--no-trunc",
        "--filter",
        &format!("name={n2}"),
        "--format",
        "{{.ID}} {{.Internal}} {{.Labels}}",
    ]);
    assert_eq!(f.ok(), format!("{id2} true tier=db\n"));
    env.isula(&["network", "ls", "--filter", "color=red"]).fails(1);

    // inspect: Docker's JSON, templates, id prefixes, unknown names.
    let v = env.inspect_net(&n1);
    assert_eq!(v["Name"], n1.as_str());
    assert_eq!(v["Id"], id1.as_str());
    assert_eq!(v["Driver"], "bridge");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["EnableIPv6"], false);
    assert_eq!(v["IPAM"]["Driver"], "default");
    assert!(v["Created"].as_str().is_some_and(|c| c.ends_with('Z')), "{v}");
    assert_eq!(v["Internal"], false);
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet.to_string().as_str());
    assert_eq!(v["IPAM"]["Config"][0]["Gateway"], gw.as_str());
    assert_eq!(v["Labels"]["tier"], "web");
    assert_eq!(v["Containers"], serde_json::json!({}));
    assert!(v["Options"]["com.docker.network.bridge.name"].as_str().is_some_and(|b| !b.is_empty()), "{v}");
    assert_eq!(env.inspect_net(&n2)["Internal"], true);
    assert_eq!(env.isula(&["network", "inspect", "-f", "{{.Name}}", &id2[..12]]).ok(), format!("{n2}\n"));
    let r = env.isula(&["network", "inspect", &n1, "nope"]);
    assert!(r.fails(1).contains("Error: No such network: nope"), "{}", r.stderr);
    assert!(r.stdout.contains(&n1), "the known one is still printed: {}", r.stdout);

    // Bad input: duplicate, overlapping subnet, unknown driver, bad name; nothing is created.
    let err = env.isula(&["network", "create", &n1]).fails(1).to_string();
    assert!(err.contains("already exists"), "{err}");
    let err =
        env.isula(&["network", "create", "--subnet", &subnet.to_string(), &format!("o{tag}")]).fails(1).to_string();
    assert!(err.contains("overlaps") && err.contains(&n1), "{err}");
    let err = env.isula(&["network", "create", "-d", "macvlan", &format!("m{tag}")]).fails(1).to_string();
    assert!(err.contains("macvlan"), "{err}");
    env.isula(&["network", "create", "bad/name"]).fails(1);
    assert_eq!(env.isula(&["network", "ls", "-q"]).ok().lines().count(), 2);

    // rm: prints the names, then they are gone.
    assert_eq!(env.isula(&["network", "rm", &n1, &n2]).ok(), format!("{n1}\n{n2}\n"));
    assert_eq!(env.isula(&["network", "ls", "-q"]).ok(), "");
    let err = env.isula(&["network", "rm", &n1]).fails(1).to_string();
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn containers_on_one_network_ping_and_rm_in_use_is_refused() {
    if !prerequisites() {
        return;
    }
    let mut env = Env::new(&[]);
    let net = format!("n{}", rand_hex(3));
    let subnet = isula_tests::net::free_subnet();
    env.create_net(&net, &["--subnet", &subnet.to_string()]);
    let bridge = env.inspect_net(&net)["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_string();
    env.links.push(bridge.clone());
    let c1 = env.isula(&["run", "-d", "--network", &net, "busybox", "sleep", "1000"]).ok().trim().to_string();
    let c2 = env
        .isula(&["run", "-d", "--name", "pong", "--network", &net, "busybox", "sleep", "1000"])
        .ok()
        .trim()
        .to_string();
    let ip1 = env.container_ip(&c1, &net);
    let ip2 = env.container_ip(&c2, &net);
    assert!(ip1.starts_with(&prefix_of(&subnet)) && ip2.starts_with(&prefix_of(&subnet)), "{ip1} {ip2}");
    assert_ne!(ip1, ip2);
    env.isula(&["exec", &c1, "ping", "-c", "1", "-W", "5", &ip2]).ok();
    env.isula(&["exec", &c2, "ping", "-c", "1", "-W", "5", &ip1]).ok();
    // The container's /etc/hosts names its address.
    let hosts = env.isula(&["exec", &c2, "cat", "/etc/hosts"]).ok().to_string();
    assert!(hosts.contains(&ip2), "{hosts}");

    // inspect lists both containers with their addresses.
    let v = env.inspect_net(&net);
    assert_eq!(v["Containers"].as_object().unwrap().len(), 2, "{v}");
    assert_eq!(v["Containers"][&c2]["Name"], "pong");
    assert_eq!(v["Containers"][&c2]["IPv4Address"], format!("{ip2}/24").as_str());
    assert_eq!(bridge_ports(&bridge).len(), 2, "one veth per container");

    // A network in use cannot be removed; nothing changes.
    let err = env.isula(&["network", "rm", &net]).fails(1).to_string();
    assert!(err.starts_with("Error response from daemon:") && err.contains("in use") && err.contains(&c1), "{err}");
    env.isula(&["exec", &c1, "ping", "-c", "1", "-W", "5", &ip2]).ok();

    // Removing the containers releases everything; then the network goes.
    env.isula(&["rm", "-f", &c1, &c2]).ok();
    assert!(bridge_ports(&bridge).is_empty(), "veth left: {:?}", bridge_ports(&bridge));
    assert!(env.netns_left().is_empty(), "netns left: {:?}", env.netns_left());
    assert!(iptables_lines(&prefix_of(&subnet)).is_empty(), "{:?}", iptables_lines(&prefix_of(&subnet)));
    assert_eq!(env.isula(&["network", "rm", &net]).ok(), format!("{net}\n"));
    assert!(!link_exists(&bridge), "bridge {bridge} left");
}

#[test]
fn default_bridge_publishes_ports_and_host_none_opt_out() {
    if !prerequisites() {
        return;
    }
    let tag = rand_hex(3);
    let dev = format!("isb{tag}");
    let subnet = isula_tests::net::free_subnet();
    let bip = format!("{}/24", subnet.nth(1).unwrap());
    let mut env = Env::new(&["--bridge", &dev, "--bip", &bip]);
    env.links.push(dev.clone());

    // Listed before first use, as Docker's `bridge`; its device appears with the first container.
    let v = env.inspect_net("bridge");
    assert_eq!(v["Containers"], serde_json::json!({}));
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet.to_string().as_str());
    assert!(!link_exists(&dev), "{dev} made before first use");
    assert_eq!(env.isula(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]).ok(), "bridge bridge\n");

    // No network option: the container joins the default network.
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let script = "mkdir -p /www && echo hello-from-default > /www/index.html && exec httpd -f -p 80 -h /www";
    let c = env.isula(&["run", "-d", "-p", &publish, "busybox", "sh", "-c", script]).ok().trim().to_string();
    let body = http_get(&format!("127.0.0.1:{port}"), "/").unwrap();
    assert!(body.contains("hello-from-default"), "{body}");
    let ip = env.container_ip(&c, "bridge");
    assert!(ip.starts_with(&prefix_of(&subnet)), "address {ip} outside --bip {bip}");
    assert_eq!(bridge_ports(&dev).len(), 1, "the container's veth is on --bridge {dev}");
    assert_eq!(env.isula(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", &c]).ok(), "bridge\n");

    // isula port, Docker's output.
    assert_eq!(env.isula(&["port", &c]).ok(), format!("80/tcp -> 127.0.0.1:{port}\n"));
    assert_eq!(env.isula(&["port", &c, "80/tcp"]).ok(), format!("127.0.0.1:{port}\n"));
    let err = env.isula(&["port", &c, "81"]).fails(1).to_string();
    assert!(err.contains("No public port '81/tcp'"), "{err}");
    env.isula(&["port", "no-such-container"]).fails(1);

    // isula ps shows the published port in its PORTS column, as Docker does.
    let ports = format!("127.0.0.1:{port}->80/tcp");
    assert_eq!(env.isula(&["ps", "--filter", &format!("id={c}"), "--format", "{{.Ports}}"]).ok(), format!("{ports}\n"));
    let table = env.isula(&["ps", "--filter", &format!("id={c}")]).ok().to_string();
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains("PORTS"), "{table}");
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.contains(&ports), "{table}");
    let column = |line: &str, text: &str| line.find(text).map(|i| line[..i].chars().count());
    assert_eq!(column(row, &ports), column(header, "PORTS"), "the port is in the PORTS column:\n{table}");

    // The default network is listed as `bridge`, on the device, and cannot be removed.
    let v = env.inspect_net("bridge");
    assert_eq!(v["Options"]["com.docker.network.bridge.name"], dev.as_str());
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet.to_string().as_str());
    assert_eq!(v["IPAM"]["Config"][0]["Gateway"], subnet.nth(1).unwrap().to_string().as_str());
    assert!(v["Containers"].get(&c).is_some(), "{v}");
    assert!(env.isula(&["network", "ls", "--format", "{{.Name}}"]).ok().lines().any(|l| l == "bridge"));
    let err = env.isula(&["network", "rm", "bridge"]).fails(1).to_string();
    assert!(err.contains("cannot be removed"), "{err}");

    // A daemon restart keeps the default network (same id, device, subnet) and the container's
    // published port.
    let id = v["Id"].as_str().unwrap().to_string();
    env.d.as_mut().unwrap().restart();
    assert_eq!(env.inspect_net("bridge")["Id"], id.as_str());
    let body = http_get(&format!("127.0.0.1:{port}"), "/").unwrap();
    assert!(body.contains("hello-from-default"), "after restart: {body}");
    assert_eq!(env.container_ip(&c, "bridge"), ip);

    // --network none: only lo. --network host: the host's interfaces (the bridge device).
    let none = env.isula(&["run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"]).ok().to_string();
    let ifaces: Vec<&str> = none.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(ifaces, ["lo"], "{none}");
    for rt in ["runc", "crun"] {
        let lo = env.isula(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--network",
            "none",
            "busybox",
            "ip",
            "-o",
            "link",
            "show",
            "lo",
        ]);
        assert!(lo.ok().contains("LOOPBACK,UP"), "{rt}: lo is not up with --network none: {}", lo.stdout);
    }
    let host = env.isula(&["run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"]).ok().to_string();
    assert!(host.contains(&format!("{dev}:")), "host network shows {dev}:\n{host}");
    let r = env.isula(&["run", "--rm", "--network", "host", "-p", "80", "busybox", "true"]);
    assert!(r.fails(125).contains("cannot be combined"), "{}", r.stderr);

    // Removal of the container releases the port, veth, namespace and iptables rules; the
    // default bridge device stays, as docker0 does.
    env.isula(&["rm", "-f", &c]).ok();
    assert!(http_get_once(port).is_err(), "port {port} still answers");
    assert!(bridge_ports(&dev).is_empty(), "veth left: {:?}", bridge_ports(&dev));
    assert!(env.netns_left().is_empty(), "netns left: {:?}", env.netns_left());
    assert!(iptables_lines(&prefix_of(&subnet)).is_empty(), "{:?}", iptables_lines(&prefix_of(&subnet)));
    assert!(iptables_lines(&format!("dport {port} ")).is_empty(), "{:?}", iptables_lines(&format!("dport {port} ")));
    assert!(link_exists(&dev));
}

/// One connection attempt to 127.0.0.1:`port` (no retries).
fn http_get_once(port: u16) -> std::io::Result<std::net::TcpStream> {
    std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        std::time::Duration::from_secs(2),
    )
}

#[test]
fn disabled_default_bridge_and_unknown_network() {
    if !prerequisites() {
        return;
    }
    // The harness starts isulad with --bridge none: no option means only lo, as before.
    let env = Env::new(&[]);
    let out = env.isula(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]).ok().to_string();
    let ifaces: Vec<&str> = out.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(ifaces, ["lo"], "{out}");
    let r = env.isula(&["run", "--rm", "-p", "8080:80", "busybox", "true"]);
    assert!(r.fails(125).contains("default bridge network is disabled"), "{}", r.stderr);
    let r = env.isula(&["run", "--rm", "--network", "bridge", "busybox", "true"]);
    assert!(r.fails(125).contains("not found"), "{}", r.stderr);
    // An unknown network: a clear error and no container, namespace or network left.
    let r = env.isula(&["run", "--rm", "--network", "nope", "busybox", "true"]);
    let err = r.fails(125);
    assert!(err.contains("network \"nope\" not found"), "{err}");
    env.isula(&["create", "--name", "x", "--network", "nope", "busybox", "true"]).fails(125);
    assert_eq!(env.isula(&["ps", "-aq"]).ok(), "");
    assert!(env.netns_left().is_empty(), "netns left: {:?}", env.netns_left());
    assert_eq!(env.isula(&["network", "ls", "-q"]).ok(), "");
}

#[test]
fn admin_networks_come_from_the_test_daemons_own_conf_dir() {
    if !prerequisites() {
        return;
    }
    // The harness points --cni-conf-dir into the test's root, so a conflist on the host (as
    // podman's /etc/cni/net.d/87-podman-bridge.conflist) never shows up in a test; one written
    // to the test's own directory does.
    let env = Env::new(&[]);
    assert_eq!(env.isula(&["network", "ls", "-q"]).ok(), "");
    let dir = env.d().root.path().join("cni-conf");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = r#"{"cniVersion": "1.0.0", "name": "foreign", "plugins": [{"type": "loopback"}]}"#;
    std::fs::write(dir.join("87-foreign.conflist"), conf).unwrap();
    let out = env.isula(&["network", "ls", "--format", "{{.Name}}"]).ok().to_string();
    assert_eq!(out.trim(), "foreign", "{out}");
}

#[test]
fn publish_all_ip_hosts_and_resolv_conf_on_a_network() {
    if !prerequisites() {
        return;
    }
    let mut env = Env::new(&[]);
    let net = format!("w{}", rand_hex(3));
    let subnet = isula_tests::net::free_subnet();
    env.create_net(&net, &["--subnet", &subnet.to_string()]);
    let bridge = env.inspect_net(&net)["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_string();
    env.links.push(bridge.clone());
    let ip = subnet.nth(50).unwrap().to_string();
    let script = "mkdir -p /www && echo hello-from-p > /www/index.html && exec httpd -f -p 80 -h /www";
    let c = env
        .isula(&[
            "run",
            "-d",
            "--network",
            &net,
            "--ip",
            &ip,
            "-P",
            "--expose",
            "80",
            "--hostname",
            "web",
            "--add-host",
            "db.local:10.9.9.9",
            "--dns",
            "10.1.1.1",
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .ok()
        .trim()
        .to_string();
    assert_eq!(env.container_ip(&c, &net), ip, "--ip honoured");

    // -P: the exposed port got a host port from the ephemeral range, on all addresses.
    let out = env.isula(&["port", &c, "80"]).ok().to_string();
    let port: u16 = out.trim().strip_prefix("0.0.0.0:").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{out}"));
    assert!(port >= 1024, "{out}");
    let body = http_get(&format!("127.0.0.1:{port}"), "/").unwrap();
    assert!(body.contains("hello-from-p"), "{body}");

    // /etc/hosts: the address with the hostname, and --add-host; resolv.conf: --dns.
    let hosts = env.isula(&["exec", &c, "cat", "/etc/hosts"]).ok().to_string();
    assert!(hosts.lines().any(|l| l.starts_with(&ip) && l.split_whitespace().any(|w| w == "web")), "{hosts}");
    assert!(hosts.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["10.9.9.9", "db.local"]), "{hosts}");
    let resolv = env.isula(&["exec", &c, "cat", "/etc/resolv.conf"]).ok().to_string();
    assert!(resolv.lines().any(|l| l.trim() == "nameserver 10.1.1.1"), "{resolv}");
    assert_eq!(env.isula(&["exec", &c, "hostname"]).ok(), "web\n");

    // Stop and start: detached, then attached again with the same address (an ephemeral
    // host port may change, as with Docker).
    env.isula(&["stop", "-t", "1", &c]).ok();
    let detached = isula_tests::poll::poll(std::time::Duration::from_secs(20), || bridge_ports(&bridge).is_empty());
    assert!(detached, "veth left after stop: {:?}", bridge_ports(&bridge));
    env.isula(&["start", &c]).ok();
    assert_eq!(env.container_ip(&c, &net), ip);
    let out = env.isula(&["port", &c, "80"]).ok().to_string();
    let port: u16 = out.trim().strip_prefix("0.0.0.0:").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{out}"));
    assert!(http_get(&format!("127.0.0.1:{port}"), "/").unwrap().contains("hello-from-p"));
    let hosts = env.isula(&["exec", &c, "cat", "/etc/hosts"]).ok().to_string();
    assert!(hosts.lines().any(|l| l.starts_with(&ip)), "{hosts}");

    // A second container cannot have the same --ip; nothing of it is left.
    let r = env.isula(&["run", "-d", "--network", &net, "--ip", &ip, "busybox", "sleep", "100"]);
    r.fails(125);
    assert_eq!(bridge_ports(&bridge).len(), 1, "{}", r.stderr);

    env.isula(&["rm", "-f", &c]).ok();
    assert!(env.netns_left().is_empty(), "netns left: {:?}", env.netns_left());
    assert!(iptables_lines(&prefix_of(&subnet)).is_empty(), "{:?}", iptables_lines(&prefix_of(&subnet)));
}
