//! End-to-end: managed bridge networks with the real CNI plugins — attach two namespaces and ping,
//! internal networks, the default network, DEL after a store restart, and complete cleanup.

use crate::network_common;

use isula_core::unstable::network::NetworkStore;
use isula_core::ErrorKind;
use isula_core::{Ipv4Net, NetworkAttachRequest, NetworkCreateOptions, NetworkFilters};
use network_common::*;

fn req(name: &str) -> NetworkAttachRequest {
    NetworkAttachRequest { name: name.to_string(), ..Default::default() }
}

#[test]
fn two_namespaces_ping_each_other_and_everything_is_cleaned() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let name = env.net("ping");
    let info = env
        .store()
        .create(&NetworkCreateOptions {
            name: name.clone(),
            labels: [("team".to_string(), "a".to_string())].into(),
            ..Default::default()
        })
        .unwrap();
    let subnet: isula_core::Ipv4Net = info.subnet.clone().unwrap().parse().unwrap();
    assert!(env.pool.overlaps(&subnet), "auto subnet {subnet} comes from the pool {}", env.pool);
    let bridge = info.bridge.clone().unwrap();
    assert!(bridge.len() <= 15, "{bridge}");
    assert!(info.managed && info.containers.is_empty());
    assert_eq!(info.plugins, vec!["bridge", "portmap", "firewall"]);
    // list filters
    let l = env.store().list(&NetworkFilters { label: vec!["team=a".into()], ..Default::default() }).unwrap();
    assert_eq!(l.iter().map(|n| n.name.clone()).collect::<Vec<_>>(), vec![name.clone()]);
    assert!(env
        .store()
        .list(&NetworkFilters { label: vec!["team=b".into()], ..Default::default() })
        .unwrap()
        .is_empty());

    let (c1, c2) = (env.cid("a"), env.cid("b"));
    let ns1 = env.netns(&c1);
    let ns2 = env.netns(&c2);
    let r1 = env.store().attach(&c1, &ns1, &[req(&name)]).unwrap();
    let r2 = env.store().attach(&c2, &ns2, &[req(&name)]).unwrap();
    assert_eq!(r1[0].interface, "eth0");
    let ip1 = r1[0].ip_address().unwrap().to_string();
    let ip2 = r2[0].ip_address().unwrap().to_string();
    assert!(subnet.contains(ip1.parse().unwrap()) && subnet.contains(ip2.parse().unwrap()));
    assert_ne!(ip1, ip2);
    assert_eq!(r1[0].gateway.as_deref(), info.gateway.as_deref());
    assert!(r1[0].mac.as_deref().is_some_and(|m| m.len() == 17), "{:?}", r1[0].mac);
    assert_eq!(bridge_ports(&bridge).len(), 2);

    assert!(NetEnv::ping(&ns1, &ip2), "ns1 -> {ip2}");
    assert!(NetEnv::ping(&ns2, &ip1), "ns2 -> {ip1}");
    assert!(NetEnv::ping(&ns1, "127.0.0.1"), "lo is up");
    env.store().check(&c1, &ns1).unwrap();
    // CHECK notices a missing interface
    let (ok, out) = NetEnv::in_ns(&ns2, &["ip", "link", "set", "eth0", "down"]);
    assert!(ok, "{out}");
    assert!(env.store().check(&c2, &ns2).is_err(), "CHECK fails when eth0 is down");
    let (ok, out) = NetEnv::in_ns(&ns2, &["ip", "link", "set", "eth0", "up"]);
    assert!(ok, "{out}");
    // attaching twice is refused
    let e = env.store().attach(&c1, &ns1, &[req(&name)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);

    // in use → FailedPrecondition naming the containers
    assert_eq!(env.store().inspect(&name).unwrap().containers, {
        let mut v = vec![c1.clone(), c2.clone()];
        v.sort();
        v
    });
    let e = env.store().remove(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert!(e.to_string().contains(&c1) && e.to_string().contains(&c2), "{e}");
    assert!(!iptables_lines(&c1).is_empty(), "ipMasq rules mention the container id");

    env.store().detach(&c1, &ns1, std::slice::from_ref(&name)).unwrap();
    env.store().detach(&c1, &ns1, std::slice::from_ref(&name)).unwrap(); // idempotent
    env.store().detach_all(&c2, &ns2).unwrap();
    assert!(bridge_ports(&bridge).is_empty());
    assert!(iptables_lines(&c1).is_empty() && iptables_lines(&c2).is_empty(), "{:?}", iptables_lines(&c1));
    assert!(iptables_lines(&format!("{ip1}/32")).is_empty(), "{:?}", iptables_lines(&format!("{ip1}/32")));
    assert!(env.store().cni().cache().entries().is_empty());
    env.store().remove(&name).unwrap();
    assert!(!link_exists(&bridge));
    assert_eq!(env.store().inspect(&name).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn internal_network_cannot_reach_the_gateway() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let open = env.net("open");
    let internal = env.net("int");
    let oi = env.store().create(&NetworkCreateOptions { name: open.clone(), ..Default::default() }).unwrap();
    let ii = env
        .store()
        .create(&NetworkCreateOptions { name: internal.clone(), internal: true, ..Default::default() })
        .unwrap();
    assert!(ii.internal);
    assert_ne!(oi.subnet, ii.subnet, "auto subnets do not collide");
    let (c1, c2) = (env.cid("o"), env.cid("i"));
    let ns1 = env.netns(&c1);
    let ns2 = env.netns(&c2);
    env.store().attach(&c1, &ns1, &[req(&open)]).unwrap();
    let r2 = env.store().attach(&c2, &ns2, &[req(&internal)]).unwrap();
    assert!(NetEnv::ping(&ns1, oi.gateway.as_deref().unwrap()), "normal network reaches its gateway");
    let gw = ii.gateway.clone().unwrap();
    assert!(!NetEnv::ping(&ns2, &gw), "internal network must not reach the host at {gw}");
    assert!(!NetEnv::ping(&ns2, oi.gateway.as_deref().unwrap()));
    let (_, routes) = NetEnv::in_ns(&ns2, &["ip", "route"]);
    assert!(!routes.contains("default"), "no default route on an internal network: {routes}");
    assert!(r2[0].ip_address().is_some());
}

#[test]
fn default_network_multiple_networks_and_del_after_restart() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let second = env.net("two");
    let sub = env.spare_subnet(0);
    env.store()
        .create(&NetworkCreateOptions { name: second.clone(), subnet: Some(sub.to_string()), ..Default::default() })
        .unwrap();
    let c = env.cid("m");
    let ns = env.netns(&c);
    let want_ip = sub.nth(7).unwrap();
    let res = env
        .store()
        .attach(
            &c,
            &ns,
            &[
                req("bridge"),
                NetworkAttachRequest { name: second.clone(), ip: Some(want_ip.into()), ..Default::default() },
            ],
        )
        .unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!((res[0].interface.as_str(), res[1].interface.as_str()), ("eth0", "eth1"));
    assert_eq!(res[1].ip_address(), Some(want_ip.to_string().as_str()), "--ip honoured");
    let def = env.store().inspect("bridge").unwrap();
    assert_eq!(def.bridge.as_deref(), Some(format!("isd{}", env.tag).as_str()));
    assert_eq!(env.store().attachments(&c), res);
    let (_, addrs) = NetEnv::in_ns(&ns, &["ip", "-4", "-o", "addr"]);
    assert!(addrs.contains(&want_ip.to_string()), "{addrs}");

    // Engine restart: a new store on the same directories detaches from the cache.
    env.restart();
    assert_eq!(env.store().attachments(&c).len(), 2);
    env.store().detach(&c, &ns, &["bridge".to_string(), second.clone()]).unwrap();
    assert!(env.store().attachments(&c).is_empty());
    assert!(env.store().cni().cache().entries().is_empty());
    assert!(iptables_lines(&c).is_empty(), "{:?}", iptables_lines(&c));
    assert!(bridge_ports(def.bridge.as_deref().unwrap()).is_empty());
    // DEL of a namespace that is gone is fine too
    let c2 = env.cid("g");
    let ns2 = env.netns(&c2);
    env.store().attach(&c2, &ns2, &[req(&second)]).unwrap();
    isula_core::unstable::network::netns::remove(&ns2).unwrap();
    env.restart();
    env.store().detach_all(&c2, &ns2).unwrap();
    assert!(iptables_lines(&c2).is_empty(), "{:?}", iptables_lines(&c2));
    assert!(env.store().cni().cache().entries().is_empty());
}

#[test]
fn parallel_attach_and_detach() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let name = env.net("par");
    let info = env.store().create(&NetworkCreateOptions { name: name.clone(), ..Default::default() }).unwrap();
    let jobs: Vec<(String, std::path::PathBuf)> = (0..6)
        .map(|i| {
            let c = env.cid(&format!("p{i}"));
            let ns = env.netns(&c);
            (c, ns)
        })
        .collect();
    let store = env.store();
    let ips: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = jobs
            .iter()
            .map(|(c, ns)| {
                let name = name.clone();
                s.spawn(move || store.attach(c, ns, &[req(&name)]).unwrap()[0].ip_address().unwrap().to_string())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut uniq = ips.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 6, "{ips:?}");
    assert!(NetEnv::ping(&jobs[0].1, &ips[5]));
    std::thread::scope(|s| {
        for (c, ns) in &jobs {
            s.spawn(move || store.detach_all(c, ns).unwrap());
        }
    });
    assert!(bridge_ports(info.bridge.as_deref().unwrap()).is_empty());
    for (c, _) in &jobs {
        assert!(iptables_lines(c).is_empty(), "{:?}", iptables_lines(c));
    }
}

#[test]
fn default_network_subnet_avoids_others_and_follows_bip() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let user = env.store().create(&NetworkCreateOptions { name: env.net("u"), ..Default::default() }).unwrap();
    let def = env.store().ensure_default().unwrap();
    let us: Ipv4Net = user.subnet.clone().unwrap().parse().unwrap();
    let ds: Ipv4Net = def.subnet.clone().unwrap().parse().unwrap();
    assert!(!us.overlaps(&ds), "default {ds} collides with {us}");
    assert!(env.pool.overlaps(&ds), "default {ds} outside the pool {}", env.pool);
    assert_eq!(def.bridge.as_deref(), Some(format!("isd{}", env.tag).as_str()));
    assert_eq!(env.store().ensure_default().unwrap().id, def.id, "created once");

    // `bip` overlapping another network is a conflict naming it; nothing is created.
    let mut cfg = env.store_config();
    cfg.default_network = "bridge2".into();
    cfg.default_bridge = format!("ise{}", env.tag);
    cfg.default_address = Some((us.nth(1).unwrap(), us));
    let err = NetworkStore::open(cfg.clone()).unwrap().ensure_default().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains(&user.name), "{err}");
    assert!(env.store().inspect("bridge2").is_err());

    // `bip` on a subnet routed through an existing device: refused, unless that device is
    // the default network's own bridge (made earlier, e.g. by a previous engine).
    let spare = env.spare_subnet(0);
    let own = format!("ise{}", env.tag);
    env.own_link(&own);
    let gw = spare.nth(9).unwrap();
    for args in [
        vec!["link", "add", own.as_str(), "type", "bridge"],
        vec!["addr", "add", &format!("{gw}/24"), "dev", own.as_str()],
        vec!["link", "set", own.as_str(), "up"],
    ] {
        assert!(std::process::Command::new("ip").args(&args).status().unwrap().success(), "ip {args:?}");
    }
    cfg.default_address = Some((gw, spare));
    cfg.default_bridge = format!("isf{}", env.tag);
    let err = NetworkStore::open(cfg.clone()).unwrap().ensure_default().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains(&own), "names the device: {err}");
    cfg.default_bridge = own.clone();
    let d2 = NetworkStore::open(cfg.clone()).unwrap().ensure_default().unwrap();
    assert_eq!(d2.subnet, Some(spare.to_string()));
    assert_eq!(d2.gateway, Some(gw.to_string()));
    assert_eq!(d2.bridge.as_deref(), Some(own.as_str()));

    // Disabled (`bridge: none`): the default network is not made, the error says why.
    cfg.default_network = "bridge3".into();
    cfg.default_bridge = "none".into();
    let s3 = NetworkStore::open(cfg).unwrap();
    let c = env.cid("d");
    let ns = env.netns(&c);
    let err = s3.attach(&c, &ns, &[req("bridge3")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("disabled"), "{err}");
    assert!(s3.attachments(&c).is_empty());
}
