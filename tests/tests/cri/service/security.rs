//! The security context, host-path mounts and devices of CRI containers, seen from inside.

use std::time::Duration;

use k8s_cri::v1 as cri;

use super::support::*;

fn with_sc(mut cfg: cri::ContainerConfig, sc: cri::LinuxContainerSecurityContext) -> cri::ContainerConfig {
    cfg.linux = Some(cri::LinuxContainerConfig { security_context: Some(sc), resources: None });
    cfg
}

/// The value of `key` in /proc/self/status inside container `id`.
fn proc_status(c: &Cri, id: &str, key: &str) -> String {
    let s = c.exec_ok(id, &["cat", "/proc/self/status"]);
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {s}"))
        .trim()
        .to_string()
}

/// The `Seccomp` mode (0 none, 2 filter) of pod `id`'s infra process.
fn infra_seccomp(c: &Cri, id: &str) -> String {
    let pid = pod_info(c, id)["pid"].as_i64().expect("infra pid");
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find_map(|l| l.strip_prefix("Seccomp:")).expect("Seccomp line").trim().to_string()
}

#[test]
fn security_context_users_caps_paths_and_mounts() {
    if !prerequisites() {
        return;
    }
    let c = Cri::start();
    let pc = pod_config("secure", &c.daemon.root.path().join("logs"));
    let pod = c.run_pod(&pc);
    let sleep = &["sleep", "1000"];
    // The sandbox's seccomp: none given means unconfined (as containerd); RuntimeDefault filters.
    assert_eq!(infra_seccomp(&c, &pod), "0", "a sandbox without a profile");
    let mut pc2 = pod_config("secure-default", &c.daemon.root.path().join("logs"));
    pc2.linux.get_or_insert_with(Default::default).security_context.get_or_insert_with(Default::default).seccomp =
        Some(cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::RuntimeDefault as i32,
            ..Default::default()
        });
    let pod2 = c.run_pod(&pc2);
    assert_eq!(infra_seccomp(&c, &pod2), "2", "a RuntimeDefault sandbox");
    c.remove_pod(&pod2);

    // Users and groups, read-only rootfs, no caps, no_new_privs, masked and read-only paths.
    let sc = cri::LinuxContainerSecurityContext {
        run_as_user: Some(cri::Int64Value { value: 1000 }),
        run_as_group: Some(cri::Int64Value { value: 2000 }),
        supplemental_groups: vec![3000],
        readonly_rootfs: true,
        no_new_privs: true,
        capabilities: Some(cri::Capability { drop_capabilities: vec!["ALL".into()], ..Default::default() }),
        masked_paths: vec!["/etc/hostname".into()],
        readonly_paths: vec!["/proc/sys".into()],
        seccomp: Some(cri::SecurityProfile::default()),
        ..Default::default()
    };
    let a = c.create(&pod, &with_sc(container_config("locked", sleep), sc), &pc);
    c.start_container(&a);
    let id = c.exec_ok(&a, &["id"]);
    assert!(id.starts_with("uid=1000") && id.contains(" gid=2000"), "{id}");
    assert!(id.contains("3000"), "{id}");
    let user = c.container_status(&a).user.and_then(|u| u.linux).expect("the running user");
    assert_eq!((user.uid, user.gid), (1000, 2000));
    // Kubernetes lists the primary group among the supplementary ones (Merge, the default).
    assert!(user.supplemental_groups.contains(&3000) && user.supplemental_groups.contains(&2000), "{user:?}");
    let r = c.exec(&a, &["touch", "/x"], 10).unwrap();
    assert_ne!(r.exit_code, 0, "read-only rootfs");
    assert_eq!(proc_status(&c, &a, "CapEff"), "0000000000000000");
    assert_eq!(proc_status(&c, &a, "NoNewPrivs"), "1");
    assert_eq!(proc_status(&c, &a, "Seccomp"), "2", "RuntimeDefault: a filter");
    assert_eq!(c.exec_ok(&a, &["cat", "/etc/hostname"]), "", "masked");
    let st = c.container_status(&a);
    assert_eq!(st.state, cri::ContainerState::ContainerRunning as i32);

    // Capabilities added, Unconfined seccomp, a symlinked host path with rslave propagation,
    // a device.
    let host = c.daemon.root.path().join("host-data");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("file"), "from-host\n").unwrap();
    // rslave needs a shared source mount (as containerd checks): make the directory one
    // (under the test's root, unmounted when it goes).
    let run = |args: &[&str]| assert!(std::process::Command::new("mount").args(args).status().unwrap().success());
    run(&["--bind", host.to_str().unwrap(), host.to_str().unwrap()]);
    run(&["--make-shared", host.to_str().unwrap()]);
    let link = c.daemon.root.path().join("host-link");
    std::os::unix::fs::symlink(&host, &link).unwrap();
    let sc = cri::LinuxContainerSecurityContext {
        capabilities: Some(cri::Capability { add_capabilities: vec!["NET_ADMIN".into()], ..Default::default() }),
        seccomp: Some(cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Unconfined as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut cfg = with_sc(container_config("open", sleep), sc);
    cfg.mounts = vec![cri::Mount {
        container_path: "/data".into(),
        host_path: link.display().to_string(),
        readonly: true,
        propagation: cri::MountPropagation::PropagationHostToContainer as i32,
        ..Default::default()
    }];
    cfg.devices = vec![cri::Device {
        container_path: "/dev/mynull".into(),
        host_path: "/dev/null".into(),
        permissions: "rwm".into(),
    }];
    let b = c.create(&pod, &cfg, &pc);
    c.start_container(&b);
    let cap = u64::from_str_radix(&proc_status(&c, &b, "CapEff"), 16).unwrap();
    assert_ne!(cap & (1 << 12), 0, "CAP_NET_ADMIN");
    assert_eq!(proc_status(&c, &b, "Seccomp"), "0", "Unconfined");
    assert_eq!(c.exec_ok(&b, &["cat", "/data/file"]), "from-host\n");
    assert_ne!(c.exec(&b, &["touch", "/data/new"], 10).unwrap().exit_code, 0, "read-only mount");
    let mi = c.exec_ok(&b, &["cat", "/proc/self/mountinfo"]);
    let line = mi.lines().find(|l| l.split(' ').nth(4) == Some("/data")).unwrap();
    assert!(line.contains("master:"), "rslave: {line}");
    c.exec_ok(&b, &["sh", "-c", "echo x > /dev/mynull"]);
    let st = c.container_status(&b);
    assert_eq!(st.mounts[0].container_path, "/data");
    assert_eq!(st.mounts[0].propagation, cri::MountPropagation::PropagationHostToContainer as i32);

    // Resources land in the cgroup and come back in the status; UpdateContainerResources.
    let mut cfg = container_config("limited", sleep);
    cfg.linux = Some(cri::LinuxContainerConfig {
        resources: Some(cri::LinuxContainerResources {
            memory_limit_in_bytes: 64 << 20,
            cpu_shares: 512,
            cpu_quota: 50_000,
            cpu_period: 100_000,
            oom_score_adj: 500,
            ..Default::default()
        }),
        security_context: None,
    });
    let l = c.create(&pod, &cfg, &pc);
    c.start_container(&l);
    assert_eq!(c.exec_ok(&l, &["cat", "/proc/self/oom_score_adj"]).trim(), "500");
    let r = c.container_status(&l).resources.unwrap().linux.unwrap();
    assert_eq!((r.memory_limit_in_bytes, r.cpu_shares, r.cpu_quota), (64 << 20, 512, 50_000));
    let upd = cri::UpdateContainerResourcesRequest {
        container_id: l.clone(),
        linux: Some(cri::LinuxContainerResources { memory_limit_in_bytes: 128 << 20, ..Default::default() }),
        ..Default::default()
    };
    c.call(c.rs().update_container_resources(upd)).unwrap();
    let r = wait_for(Duration::from_secs(5), "updated", || {
        let r = c.container_status(&l).resources?.linux?;
        (r.memory_limit_in_bytes == 128 << 20).then_some(r)
    });
    assert_eq!(r.cpu_shares, 512, "other limits stay");
    c.remove_pod(&pod);
}
