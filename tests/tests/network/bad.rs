//! End-to-end: bad input and failing plugins give clear errors and leave nothing behind.

use crate::network_common;

use isula_core::ErrorKind;
use isula_core::{NetworkAttachRequest, NetworkCreateOptions, NetworkFilters};
use network_common::*;

fn req(name: &str) -> NetworkAttachRequest {
    NetworkAttachRequest { name: name.to_string(), ..Default::default() }
}

fn create(env: &NetEnv, name: &str, subnet: Option<String>) -> isula_core::Result<isula_core::NetworkInfo> {
    env.store().create(&NetworkCreateOptions { name: name.to_string(), subnet, ..Default::default() })
}

#[test]
fn create_rejects_bad_options_and_overlaps() {
    if !prerequisites() {
        return;
    }
    let env = NetEnv::new();
    let a = env.net("a");
    let sa = env.spare_subnet(0);
    create(&env, &a, Some(sa.to_string())).unwrap();
    assert_eq!(create(&env, &a, None).unwrap_err().kind(), ErrorKind::AlreadyExists);
    let wider = isula_core::Ipv4Net::new(sa.addr(), 22).unwrap();
    for s in [sa, wider] {
        let e = create(&env, &env.net("b"), Some(s.to_string())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.to_string().contains(&a), "names the other network: {e}");
    }
    if let Some(r) = isula_core::unstable::network::host_routes().into_iter().find(|r| r.dest.prefix() <= 30) {
        let e = create(&env, &env.net("c"), Some(r.dest.to_string())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(e.to_string().contains(&r.iface), "{e}");
    }
    let bad = [
        NetworkCreateOptions { name: "bad name".into(), ..Default::default() },
        NetworkCreateOptions { name: env.net("d"), driver: "macvlan".into(), ..Default::default() },
        NetworkCreateOptions { name: env.net("d"), subnet: Some("10.1.2.3/24".into()), ..Default::default() },
        NetworkCreateOptions {
            name: env.net("d"),
            subnet: Some(env.spare_subnet(1).to_string()),
            gateway: Some("192.0.2.77".into()),
            ..Default::default()
        },
        NetworkCreateOptions { name: "bridge".into(), ..Default::default() },
    ];
    for o in bad {
        let e = env.store().create(&o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{o:?}: {e}");
    }
    let names: Vec<String> =
        env.store().list(&NetworkFilters::default()).unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, vec![a.clone()], "failed creates leave nothing");
    let confs = std::fs::read_dir(env.root.path().join("root/networks/conf")).unwrap().count();
    assert_eq!(confs, 1);
}

/// Writes an admin conflist: a bridge (no masquerade) followed by `extra` plugin types.
fn admin_conflist(env: &mut NetEnv, name: &str, bridge: &str, subnet_idx: usize, extra: &[&str]) {
    env.own_link(bridge);
    let mut plugins = vec![serde_json::json!({
        "type": "bridge", "bridge": bridge, "isGateway": true,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": env.spare_subnet(subnet_idx).to_string()}]],
                 "dataDir": env.root.path().join("admin-ipam").display().to_string()}
    })];
    for t in extra {
        plugins.push(serde_json::json!({"type": t}));
    }
    let v = serde_json::json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins});
    std::fs::write(env.conf_dir.join(format!("50-{name}.conflist")), v.to_string()).unwrap();
}

#[test]
fn missing_and_failing_plugins_leave_nothing() {
    if !prerequisites() {
        return;
    }
    let mut env = NetEnv::new();
    let c = env.cid("f");
    let ns = env.netns(&c);

    // unknown network
    let e = env.store().attach(&c, &ns, &[req(&env.net("nope"))]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains(&env.net("nope")), "{e}");

    // a plugin missing from every bin dir: named with the dirs, nothing runs
    let (miss, miss_br) = (env.net("miss"), format!("isb{}m", env.tag));
    admin_conflist(&mut env, &miss, &miss_br, 2, &["isula-no-such-plugin"]);
    let e = env.store().attach(&c, &ns, &[req(&miss)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let s = e.to_string();
    assert!(s.contains("isula-no-such-plugin") && s.contains("/usr/lib/cni") && s.contains("fake-bin"), "{s}");
    assert!(!link_exists(&miss_br), "nothing ran");

    // a plugin that fails ADD: the error carries its JSON and stderr; the bridge's veth is undone
    env.fake_plugin(
        "isula-fail",
        "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then echo 'fake plugin says no' >&2; \
         echo '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"refusing on purpose\",\"details\":\"test\"}'; exit 1; fi\n\
         [ \"$CNI_COMMAND\" = VERSION ] && echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"1.0.0\"]}'\nexit 0\n",
    );
    let (fail, fail_br) = (env.net("fail"), format!("isb{}f", env.tag));
    admin_conflist(&mut env, &fail, &fail_br, 3, &["isula-fail"]);
    let ok_net = env.net("ok");
    env.store().create(&NetworkCreateOptions { name: ok_net.clone(), ..Default::default() }).unwrap();
    let e = env.store().attach(&c, &ns, &[req(&ok_net), req(&fail)]).unwrap_err();
    let s = e.to_string();
    for want in ["isula-fail", "ADD", "refusing on purpose", "test", "code 999", "fake plugin says no", &fail] {
        assert!(s.contains(want), "{want:?} missing in {s}");
    }
    assert!(link_exists(&fail_br), "the bridge plugin did run before the failure");
    assert!(bridge_ports(&fail_br).is_empty(), "veth removed by the cleanup DEL");
    let ok_br = env.store().inspect(&ok_net).unwrap().bridge.unwrap();
    assert!(bridge_ports(&ok_br).is_empty(), "earlier network of the same request rolled back");
    assert!(env.store().attachments(&c).is_empty());
    assert!(env.store().cni().cache().entries().is_empty());
    assert!(iptables_lines(&c).is_empty(), "{:?}", iptables_lines(&c));
    let (_, links) = NetEnv::in_ns(&ns, &["ip", "-o", "link"]);
    assert!(!links.contains("eth0") && !links.contains("eth1"), "{links}");
    let leased: Vec<String> = std::fs::read_dir(env.root.path().join("admin-ipam").join(&fail))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(!leased.iter().any(|n| n.parse::<std::net::IpAddr>().is_ok()), "IP lease released: {leased:?}");

    // admin networks are not removable
    let e = env.store().remove(&fail).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert!(e.to_string().contains("50-"), "{e}");
}

#[test]
fn malformed_conflist_is_named() {
    if !prerequisites() {
        return;
    }
    let env = NetEnv::new();
    std::fs::write(env.conf_dir.join("99-broken.conflist"), "{\"name\": \"x\", ").unwrap();
    let e = env.store().list(&NetworkFilters::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("99-broken.conflist") && e.to_string().contains("invalid JSON"), "{e}");
    std::fs::write(env.conf_dir.join("99-broken.conflist"), r#"{"name":"x","cniVersion":"1.0.0","plugins":[{}]}"#)
        .unwrap();
    let e = env.store().inspect("x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("99-broken.conflist") && e.to_string().contains("type"), "{e}");
    std::fs::remove_file(env.conf_dir.join("99-broken.conflist")).unwrap();
    assert!(env.store().list(&NetworkFilters::default()).unwrap().is_empty());
}
