//! The infra container: the pause program's facts (spec, capabilities, sysctls, read-only
//! rootfs), a `pod-sandbox-image` instead of it, restarts refused in a stopped pod.

use isula_core::{ErrorKind, LoadOptions, PodState};
use isula_tests::images::{build, docker_archive, Compression, DockerLayout, LayerBuilder};

use super::common::*;

#[test]
fn infra_spec_sysctls_and_restart_rules() {
    if !prerequisites() {
        return;
    }
    let env = PodEnv::new("runc", false);
    let e = env.e();
    let mut cfg = env.pod_config("infra");
    cfg.sysctls.insert("net.ipv4.ip_unprivileged_port_start".into(), "53".into());
    cfg.annotations.insert("example.com/note".into(), "kept".into());
    let id = e.pods().run(&cfg).unwrap();
    let spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.root.path().join("root/containers").join(&id).join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["annotations"]["cri.sandbox.id"], id.as_str());
    assert_eq!(spec["annotations"]["cri.container.type"], "sandbox");
    assert_eq!(spec["annotations"]["example.com/note"], "kept");
    assert_eq!(spec["root"]["readonly"], true);
    assert_eq!(spec["process"]["capabilities"]["bounding"], serde_json::json!([]));
    assert_eq!(spec["process"]["args"], serde_json::json!(["/pause"]));
    let pid = e.pods().inspect(&id).unwrap().pid;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.lines().any(|l| l == "CapEff:\t0000000000000000"), "{status}");
    let c = e.containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
    assert_eq!(env.exec(&c, &["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]), "53\n");
    // The pause rootfs is shared and left untouched.
    let rootfs = env.root.path().join("root/pause/rootfs");
    let mut names: Vec<String> =
        std::fs::read_dir(&rootfs).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["dev", "etc", "pause", "proc", "sys", "tmp"]);

    e.pods().stop(&id).unwrap();
    let err = e.containers().start(&c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert_eq!(e.containers().start(&id).unwrap_err().kind(), ErrorKind::FailedPrecondition);
    e.pods().remove(&id).unwrap();
    assert!(netns_files(&env).is_empty());
}

/// An image holding only the pause program, with `/pause` as its entrypoint.
fn pause_image() -> isula_tests::images::BuiltImage {
    let pause = std::fs::read(isula_tests::pause::pause_path()).unwrap();
    let mut layer = LayerBuilder::new();
    for d in ["proc", "dev", "sys", "etc", "tmp"] {
        layer.dir(d, 0o755);
    }
    layer.file("pause", 0o755, &pause);
    build(&[layer.finish()], Compression::Gzip, |c| {
        c["config"] = serde_json::json!({"Entrypoint": ["/pause"]});
    })
}

#[test]
fn pod_sandbox_image_is_pulled_on_first_use() {
    use isula_tests::registry::{available, Registry, RegistryMode};
    if !prerequisites() || !available(&RegistryMode::Http) || !isula_tests::env::require("skopeo") {
        return;
    }
    let reg = Registry::start(RegistryMode::Http);
    let name = reg.push(&pause_image(), "isula-test/pause:3.10");
    let mut env = PodEnv::new("runc", false);
    env.sandbox_image = Some(name.clone());
    env.insecure_registries = vec![reg.addr()];
    env.reopen();
    let e = env.e();
    assert!(e.images().inspect(&name).is_err(), "not there before the first pod");
    let id = e.pods().run(&env.pod_config("pulled")).unwrap();
    assert_eq!(e.pods().inspect(&id).unwrap().state, PodState::Ready);
    assert!(e.images().inspect(&name).is_ok(), "pulled by the first pod");
    let id2 = e.pods().run(&env.pod_config("second")).unwrap();
    e.pods().remove(&id).unwrap();
    e.pods().remove(&id2).unwrap();
}

#[test]
fn pod_sandbox_image_runs_instead_of_pause() {
    if !prerequisites() {
        return;
    }
    let mut env = PodEnv::new("runc", false);
    let img = pause_image();
    let name = "localhost/isula-test/pause:3.10";
    let tar = docker_archive(&[(&img, &[name])], DockerLayout::Legacy);
    env.e().images().load(&mut &tar[..], &LoadOptions::default()).unwrap();
    env.sandbox_image = Some(name.into());
    env.reopen();
    let e = env.e();
    let id = e.pods().run(&env.pod_config("img")).unwrap();
    let p = e.pods().inspect(&id).unwrap();
    assert_eq!(p.state, PodState::Ready);
    assert_eq!(std::fs::read_to_string(format!("/proc/{}/cmdline", p.pid)).unwrap(), "/pause\0");
    assert_eq!(e.containers().inspect(&id).unwrap().config.image, name);
    let c = e.containers().run(&env.in_pod(&id, &["sleep", "1000"])).unwrap();
    assert_eq!(ns(env.pid(&c), "net"), ns(p.pid, "net"));
    e.pods().remove(&id).unwrap();
    assert!(e.containers().list(&Default::default()).unwrap().is_empty());

    // An image that is neither local nor pullable: a clear error, nothing left.
    env.sandbox_image = Some("127.0.0.1:1/isula-test/no-such-pause:1".into());
    env.reopen();
    let e = env.e();
    let err = e.pods().run(&env.pod_config("nopull")).unwrap_err();
    assert!(err.to_string().contains("pod-sandbox-image"), "{err}");
    assert!(e.pods().list().unwrap().is_empty());
    assert!(e.containers().list(&isula_core::ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(netns_files(&env).is_empty());
}
