//! Loopback-only pods: run, inspect, containers joining (net, IPC, UTS, files), stop, remove,
//! restore after reopen, and bad input.

use std::time::Duration;

use isula_core::{DnsConfig, ErrorKind, EventFilter, ListOptions, PodState, INFRA_LABEL};

use super::common::*;

const T: Duration = Duration::from_secs(20);

#[test]
fn pod_lifecycle_and_joined_containers() {
    if !prerequisites() {
        return;
    }
    for rt in ["runc", "crun"] {
        let env = PodEnv::new(rt, false);
        let e = env.e();
        let (_, events) = e.events(&EventFilter { types: vec!["pod".into()], ..Default::default() });
        let mut cfg = env.pod_config("web");
        cfg.hostname = "podhost".into();
        cfg.dns = Some(DnsConfig {
            servers: vec!["10.0.0.10".into()],
            searches: vec!["svc.example.test".into()],
            options: vec!["ndots:2".into()],
        });
        cfg.labels.insert("app".into(), "web".into());
        let id = e.pods().run(&cfg).unwrap_or_else(|err| panic!("{rt}: run pod: {err}"));
        let p = e.pods().inspect(&id).unwrap();
        assert_eq!(p.state, PodState::Ready, "{rt}");
        assert!(p.pid > 0 && pid_alive(p.pid), "{rt}: {p:?}");
        assert_eq!(p.infra_id, id);
        assert_eq!(p.config, cfg);
        assert!(std::path::Path::new(&p.netns_path).exists(), "{rt}: {p:?}");
        assert_eq!(e.pods().inspect(&id[..12]).unwrap().id, id, "prefix lookup");
        assert_eq!(e.pods().list().unwrap().iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec![id.clone()]);
        // The infra process is the pause program, in the pod's netns with only lo (up).
        let cmdline = std::fs::read_to_string(format!("/proc/{}/cmdline", p.pid)).unwrap();
        assert_eq!(cmdline, "/pause\0", "{rt}");
        let infra = e.containers().inspect(&id).unwrap();
        assert_eq!(infra.config.labels.get(INFRA_LABEL), Some(&id), "{rt}: infra containers are marked");

        let a = e
            .containers()
            .run(&env.in_pod(&id[..12], &["sh", "-c", "echo shared > /dev/shm/x; exec sleep 1000"]))
            .unwrap();
        let b = e.containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
        let (pa, pb) = (env.pid(&a), env.pid(&b));
        for kind in ["net", "ipc", "uts"] {
            assert_eq!(ns(pa, kind), ns(p.pid, kind), "{rt}: {kind} of a");
            assert_eq!(ns(pb, kind), ns(p.pid, kind), "{rt}: {kind} of b");
        }
        assert_ne!(ns(pa, "pid"), ns(pb, "pid"), "{rt}: private PID namespaces without share_pid");
        assert_ne!(ns(pa, "mnt"), ns(pb, "mnt"));
        wait_until(T, "a wrote /dev/shm/x", || std::fs::read_to_string(format!("/proc/{pa}/root/dev/shm/x")).is_ok());
        assert_eq!(env.exec(&b, &["cat", "/dev/shm/x"]), "shared\n", "{rt}: /dev/shm is the pod's");
        assert_eq!(env.exec(&b, &["hostname"]), "podhost\n", "{rt}");
        assert_eq!(
            env.exec(&b, &["cat", "/etc/resolv.conf"]),
            "search svc.example.test\nnameserver 10.0.0.10\noptions ndots:2\n",
            "{rt}"
        );
        let hosts = env.exec(&a, &["cat", "/etc/hosts"]);
        assert!(hosts.contains("127.0.0.1\tlocalhost"), "{rt}: {hosts}");
        // Those are the pod's files, bind-mounted: its containers keep no copies of their own.
        for c in [&id, &a, &b] {
            let dir = env.root.path().join("root/containers").join(c);
            assert!(dir.join("config.json").is_file(), "{rt}: {}", dir.display());
            for f in ["hosts", "resolv.conf", "hostname"] {
                assert!(!dir.join(f).exists(), "{rt}: {} has its own {f}", dir.display());
            }
        }
        let links = env.exec(&a, &["ip", "-o", "link"]);
        assert_eq!(links.lines().count(), 1, "{rt}: only lo: {links}");
        assert!(links.contains("lo:") && links.contains("UP"), "{rt}: lo is up: {links}");

        let p = e.pods().inspect(&id).unwrap();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        let mut got = p.containers.clone();
        got.sort();
        assert_eq!(got, want, "{rt}: the infra container is not listed");
        let list = e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap();
        assert!(list.iter().all(|c| c.pod == id), "{rt}: {list:?}");
        assert_eq!(e.containers().inspect(&a).unwrap().host_config.pod.as_deref(), Some(id.as_str()));
        let cg = format!("{}/pod-{id}", env.cgroup_parent);
        assert_eq!(p.cgroup_parent, cg);
        let stats = e.pods().stats(&id).unwrap();
        assert!(stats.memory.usage > 0, "{rt}: {stats:?}");

        // A container of the pod removed on its own leaves the pod.
        e.containers().remove(&b, &isula_core::RemoveOptions { force: true, volumes: true }).unwrap();
        assert_eq!(e.pods().inspect(&id).unwrap().containers, vec![a.clone()]);
        assert_eq!(e.pods().inspect(&id).unwrap().state, PodState::Ready);

        e.pods().stop(&id).unwrap();
        let s = e.pods().inspect(&id).unwrap();
        assert_eq!((s.state, s.pid), (PodState::NotReady, 0), "{rt}");
        assert!(!pid_alive(p.pid) && !pid_alive(pa), "{rt}");
        assert_eq!(e.containers().inspect(&a).unwrap().state.status, "exited");
        assert!(netns_files(&env).is_empty(), "{rt}: netns released at stop: {:?}", netns_files(&env));
        e.pods().stop(&id).unwrap();
        let err = e.containers().create(&env.in_pod(&id, &["true"])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{rt}: {err}");

        e.pods().remove(&id).unwrap();
        assert_eq!(e.pods().inspect(&id).unwrap_err().kind(), ErrorKind::NotFound);
        assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
        assert!(e.pods().list().unwrap().is_empty());
        assert!(netns_files(&env).is_empty());
        let left: Vec<_> =
            env.cgroup_leftovers().into_iter().filter(|d| d.to_string_lossy().contains("pod-")).collect();
        assert!(left.is_empty(), "{rt}: cgroups left: {left:?}");
        assert!(!env.root.path().join("root/pods").join(&id).exists());
        let actions: Vec<String> = events.try_iter().filter(|ev| ev.actor.id == id).map(|ev| ev.action).collect();
        assert_eq!(actions, ["start", "stop", "remove"], "{rt}");
    }
}

#[test]
fn shared_pid_namespace_and_host_network() {
    if !prerequisites() {
        return;
    }
    let env = PodEnv::new("runc", false);
    let e = env.e();
    let mut cfg = env.pod_config("pid");
    cfg.namespaces.share_pid = true;
    let id = e.pods().run(&cfg).unwrap();
    let infra = e.pods().inspect(&id).unwrap().pid;
    let a = e.containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
    assert_eq!(ns(env.pid(&a), "pid"), ns(infra, "pid"));
    let ps = env.exec(&a, &["ps", "-o", "pid,args"]);
    assert!(ps.lines().any(|l| l.trim() == "1 /pause"), "the pause process is pid 1: {ps}");
    let mut private = env.in_pod(&id, &["sleep", "1000"]);
    private.pid_mode = Some("private".into());
    let b = e.containers().run(&private).unwrap();
    assert_ne!(ns(env.pid(&b), "pid"), ns(infra, "pid"));
    // CRI TARGET: the PID namespace of another container.
    let mut target = env.in_pod(&id, &["sleep", "1000"]);
    target.pid_mode = Some(format!("container:{b}"));
    let t = e.containers().run(&target).unwrap();
    assert_eq!(ns(env.pid(&t), "pid"), ns(env.pid(&b), "pid"));

    let mut host = env.pod_config("host");
    host.namespaces.host_network = true;
    let h = e.pods().run(&host).unwrap();
    let hp = e.pods().inspect(&h).unwrap();
    assert!(hp.netns_path.is_empty() && hp.ip.is_empty());
    assert_eq!(ns(hp.pid, "net"), ns(std::process::id() as i32, "net"));
    let c = e.containers().run(&env.in_pod(&h, &["sleep", "1000"])).unwrap();
    assert_eq!(ns(env.pid(&c), "net"), ns(std::process::id() as i32, "net"));
    assert_eq!(env.exec(&c, &["hostname"]).trim(), isula_core::host::hostname());
    e.pods().remove(&id).unwrap();
    e.pods().remove(&h).unwrap();
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
}

#[test]
fn reopen_keeps_a_running_pod_ready() {
    if !prerequisites() {
        return;
    }
    let mut env = PodEnv::new("runc", false);
    let id = env.e().pods().run(&env.pod_config("keep")).unwrap();
    let before = env.e().pods().inspect(&id).unwrap();
    let a = env.e().containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
    env.reopen();
    let after = env.e().pods().inspect(&id).unwrap();
    assert_eq!(after.state, PodState::Ready);
    assert_eq!((after.pid, &after.netns_path, &after.containers), (before.pid, &before.netns_path, &vec![a.clone()]));
    assert_eq!(
        env.e().pods().run(&env.pod_config("keep")).unwrap_err().kind(),
        ErrorKind::AlreadyExists,
        "the metadata reservation survives reopen"
    );
    let b = env.e().containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
    assert_eq!(ns(env.pid(&b), "net"), ns(after.pid, "net"));
    env.e().pods().remove(&id).unwrap();
    assert!(netns_files(&env).is_empty());
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    if !prerequisites() {
        return;
    }
    let env = PodEnv::new("runc", false);
    let e = env.e();
    let unknown = "0".repeat(64);
    assert_eq!(e.pods().inspect(&unknown).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.pods().stop(&unknown).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.pods().remove(&unknown).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.pods().stats(&unknown).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.containers().create(&env.in_pod(&unknown, &["true"])).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(e.pods().run(&Default::default()).unwrap_err().kind(), ErrorKind::InvalidArgument);

    let cfg = env.pod_config("dup");
    let id = e.pods().run(&cfg).unwrap();
    assert_eq!(e.pods().run(&cfg).unwrap_err().kind(), ErrorKind::AlreadyExists);
    for (what, mut o) in [
        ("network", env.in_pod(&id, &["true"])),
        ("ipc", env.in_pod(&id, &["true"])),
        ("uts", env.in_pod(&id, &["true"])),
        ("publish", env.in_pod(&id, &["true"])),
    ] {
        match what {
            "network" => o.network_mode = Some("host".into()),
            "ipc" => o.ipc_mode = Some("host".into()),
            "uts" => o.uts_mode = Some("host".into()),
            _ => o.publish = vec!["8080:80".into()],
        }
        assert_eq!(e.containers().create(&o).unwrap_err().kind(), ErrorKind::InvalidArgument, "{what}");
    }
    let mut bad_rt = env.pod_config("badrt");
    bad_rt.runtime = "no-such-runtime".into();
    assert!(e.pods().run(&bad_rt).is_err());
    e.pods().remove(&id).unwrap();
    // A new attempt of the same pod is a new pod.
    let mut again = cfg.clone();
    again.attempt = 1;
    let id2 = e.pods().run(&again).unwrap();
    assert_ne!(id2, id);
    e.pods().remove(&id2).unwrap();
    assert!(e.pods().list().unwrap().is_empty());
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(netns_files(&env).is_empty());
}

#[test]
fn a_failed_run_is_undone_and_a_missing_pause_binary_fails_early() {
    if !prerequisites() {
        return;
    }
    let mut env = PodEnv::new("runc", false);
    env.pause_path = Some(env.root.path().join("no-such-pause"));
    env.reopen();
    let e = env.e();
    let mut cfg = env.pod_config("undo");
    cfg.dns = Some(DnsConfig { servers: vec!["10.0.0.10".into()], ..Default::default() });
    let err = e.pods().run(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("no-such-pause"), "{err}");
    assert!(e.pods().list().unwrap().is_empty());
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(netns_files(&env).is_empty(), "{:?}", netns_files(&env));
    let pods: Vec<_> = std::fs::read_dir(env.root.path().join("root/pods")).unwrap().flatten().collect();
    assert!(pods.is_empty(), "{pods:?}");
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = env.root.path().display().to_string();
    assert!(!info.lines().any(|l| l.contains(&root)), "no mount left under {root}");
    // With the binary there, a sysctl the runtime refuses fails the infra container after
    // the netns, files and shm were made: all undone.
    env.pause_path = None;
    env.reopen();
    let e = env.e();
    let mut bad = cfg.clone();
    bad.sysctls.insert("kernel.no_such_sysctl".into(), "1".into());
    assert!(e.pods().run(&bad).is_err());
    assert!(e.pods().list().unwrap().is_empty());
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(netns_files(&env).is_empty(), "{:?}", netns_files(&env));
    assert!(std::fs::read_dir(env.root.path().join("root/pods")).unwrap().next().is_none());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info.lines().any(|l| l.contains(&root)), "no mount left under {root}");
    let left: Vec<_> = env.cgroup_leftovers().into_iter().filter(|d| d.to_string_lossy().contains("pod-")).collect();
    assert!(left.is_empty(), "{left:?}");
    // The same pod runs once its config is right.
    let id = e.pods().run(&cfg).unwrap();
    e.pods().remove(&id).unwrap();
}

#[test]
fn an_infra_that_died_while_closed_leaves_the_pod_not_ready() {
    if !prerequisites() {
        return;
    }
    let mut env = PodEnv::new("runc", false);
    let id = env.e().pods().run(&env.pod_config("dies")).unwrap();
    let pid = env.e().pods().inspect(&id).unwrap().pid;
    env.engine = None;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until(T, "the infra process is gone", || !pid_alive(pid));
    env.reopen();
    let p = env.e().pods().inspect(&id).unwrap();
    assert_eq!((p.state, p.pid), (PodState::NotReady, 0));
    assert!(netns_files(&env).is_empty(), "the netns was released: {:?}", netns_files(&env));
    assert_eq!(
        env.e().containers().create(&env.in_pod(&id, &["true"])).unwrap_err().kind(),
        ErrorKind::FailedPrecondition
    );
    env.e().pods().stop(&id).unwrap();
    env.e().pods().remove(&id).unwrap();
    assert!(env.e().containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
}

#[test]
fn pods_run_in_parallel() {
    if !prerequisites() {
        return;
    }
    let env = PodEnv::new("runc", false);
    let e = env.e();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    let id = env.e().pods().run(&env.pod_config(&format!("par{i}"))).unwrap();
                    env.e().containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
                    id
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let list = e.pods().list().unwrap();
    assert_eq!(list.len(), 6);
    assert!(list.iter().all(|p| p.state == PodState::Ready && p.containers.len() == 1));
    let mut nets: Vec<String> = list.iter().map(|p| ns(p.pid, "net")).collect();
    nets.sort();
    nets.dedup();
    assert_eq!(nets.len(), 6, "a network namespace each");
    std::thread::scope(|s| {
        for id in &ids {
            s.spawn(move || e.pods().remove(id).unwrap());
        }
    });
    assert!(e.pods().list().unwrap().is_empty());
    assert!(netns_files(&env).is_empty());
}
