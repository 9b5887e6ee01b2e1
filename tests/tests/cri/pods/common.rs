//! A test engine for pods: private root, the built shim and pause binaries, its own cgroup
//! parent and CNI config directory; dropping it removes every pod and container, the cgroup
//! parent and (for CNI tests) the test's bridge.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use isula_core::{CreateOptions, Engine, EngineConfig, ListOptions, LoadOptions, PodConfig, RemoveOptions};
use isula_tests::env::{require, require_root, skip_or_fail, TestRoot};
use isula_tests::images::{docker_archive, DockerLayout};

pub(crate) use isula_tests::poll::wait_until;

static N: AtomicUsize = AtomicUsize::new(0);

/// Root, runc, busybox and the CNI loopback plugin; false (skip) or a panic in CI.
pub(crate) fn prerequisites() -> bool {
    if !(require_root() && require("runc") && require("crun") && require("busybox")) {
        return false;
    }
    if !Path::new("/usr/lib/cni/loopback").exists() {
        return !skip_or_fail("the CNI plugins (/usr/lib/cni) are not installed");
    }
    true
}

/// One test's engine.
pub(crate) struct PodEnv {
    pub engine: Option<Engine>,
    pub root: TestRoot,
    pub cgroup_parent: String,
    pub runtime: String,
    /// `network-plugin` of the engine.
    pub plugin: String,
    /// Bridge device to delete on drop (CNI tests).
    pub bridge: Option<String>,
    /// `pod-sandbox-image` of the engine.
    pub sandbox_image: Option<String>,
    /// `insecure-registries` of the engine.
    pub insecure_registries: Vec<String>,
    /// `pause-path` instead of the built binary.
    pub pause_path: Option<PathBuf>,
    pub n: usize,
}

impl PodEnv {
    /// A fresh engine on `runtime` with busybox loaded; `cni`: `network-plugin cni` with the
    /// config directory `<root>/cni-conf` (empty until the test writes a config).
    pub(crate) fn new(runtime: &str, cni: bool) -> PodEnv {
        let root = TestRoot::new();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let cgroup_parent = format!("/isula-podtest-{}-{n}", std::process::id());
        let mut env = PodEnv {
            engine: None,
            root,
            cgroup_parent,
            runtime: runtime.into(),
            plugin: if cni { "cni".into() } else { String::new() },
            bridge: None,
            sandbox_image: None,
            insecure_registries: Vec::new(),
            pause_path: None,
            n,
        };
        let e = Engine::open(env.config()).expect("open engine");
        let img = isula_tests::images::busybox();
        let tar = docker_archive(&[(&img, &["busybox:latest"])], DockerLayout::Legacy);
        e.images().load(&mut &tar[..], &LoadOptions::default()).expect("load busybox");
        env.engine = Some(e);
        env
    }

    /// The CNI configuration directory of this engine.
    pub(crate) fn conf_dir(&self) -> PathBuf {
        self.root.path().join("cni-conf")
    }

    /// The engine config.
    pub(crate) fn config(&self) -> EngineConfig {
        let mut c = self.root.config();
        c.default_runtime = self.runtime.clone();
        c.shim_path = Some(isula_tests::shim::shim_path());
        c.pause_path = Some(self.pause_path.clone().unwrap_or_else(isula_tests::pause::pause_path));
        c.cgroup_parent = self.cgroup_parent.clone();
        c.cni_conf_dir = self.conf_dir();
        c.cni_bin_dir = vec![PathBuf::from("/usr/lib/cni")];
        c.network_plugin = self.plugin.clone();
        c.pod_sandbox_image = self.sandbox_image.clone();
        c.insecure_registries = self.insecure_registries.clone();
        c
    }

    /// The engine.
    pub(crate) fn e(&self) -> &Engine {
        self.engine.as_ref().expect("engine open")
    }

    /// Close and reopen the engine.
    pub(crate) fn reopen(&mut self) {
        self.engine = None;
        self.engine = Some(Engine::open(self.config()).expect("reopen engine"));
    }

    /// A pod config with a name and uid unique to this test.
    pub(crate) fn pod_config(&self, name: &str) -> PodConfig {
        PodConfig {
            name: name.into(),
            namespace: "isula-test".into(),
            uid: format!("uid-{}-{}", std::process::id(), self.n),
            ..Default::default()
        }
    }

    /// Options of a busybox container in `pod` running `cmd`.
    pub(crate) fn in_pod(&self, pod: &str, cmd: &[&str]) -> CreateOptions {
        CreateOptions {
            image: "busybox".into(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            pod: Some(pod.into()),
            ..Default::default()
        }
    }

    /// Host pid of container `id`.
    pub(crate) fn pid(&self, id: &str) -> i32 {
        self.e().containers().inspect(id).expect("inspect").state.pid
    }

    /// stdout of `cmd` run in container `id` (asserting exit code 0).
    pub(crate) fn exec(&self, id: &str, cmd: &[&str]) -> String {
        let o = isula_core::ExecOptions { cmd: cmd.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        let out = self.e().containers().exec(id, &o).expect("exec").collect().expect("exec output");
        assert_eq!(out.exit_code, 0, "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sub-directories of the cgroup parent (or the parent itself) left in any hierarchy.
    pub(crate) fn cgroup_leftovers(&self) -> Vec<PathBuf> {
        cgroup_dirs(&self.cgroup_parent)
    }
}

/// Every directory at or below `parent` in every cgroup hierarchy (v2 and each v1 mount).
pub(crate) fn cgroup_dirs(parent: &str) -> Vec<PathBuf> {
    let rel = parent.trim_start_matches('/');
    let mut bases = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        bases.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    let mut out = Vec::new();
    for b in bases {
        let top = b.join(rel);
        if !top.is_dir() {
            continue;
        }
        let mut stack = vec![top];
        while let Some(d) = stack.pop() {
            if let Ok(rd) = std::fs::read_dir(&d) {
                stack.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
            out.push(d);
        }
    }
    out
}

/// The namespace link `/proc/<pid>/ns/<kind>`.
pub(crate) fn ns(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
        .display()
        .to_string()
}

/// Whether `pid` is alive (a zombie counts as dead).
pub(crate) fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(')').map(|(_, r)| !r.trim_start().starts_with(['Z', 'X'])).unwrap_or(false),
        Err(_) => false,
    }
}

/// Files in the engine's netns directory.
pub(crate) fn netns_files(env: &PodEnv) -> Vec<PathBuf> {
    match std::fs::read_dir(env.root.path().join("state/netns")) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

impl Drop for PodEnv {
    fn drop(&mut self) {
        if self.engine.is_none() {
            if let Ok(e) = Engine::open(self.config()) {
                self.engine = Some(e);
            }
        }
        if let Some(e) = self.engine.take() {
            if let Ok(pods) = e.pods().list() {
                for p in pods {
                    if let Err(err) = e.pods().remove(&p.id) {
                        eprintln!("cleanup: remove pod {}: {err}", p.id);
                    }
                }
            }
            if let Ok(list) = e.containers().list(&ListOptions { all: true, ..Default::default() }) {
                for c in list {
                    if let Err(err) = e.containers().remove(&c.id, &RemoveOptions { force: true, volumes: true }) {
                        eprintln!("cleanup: remove {}: {err}", c.id);
                    }
                }
            }
        }
        let mut dirs = cgroup_dirs(&self.cgroup_parent);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(&d);
        }
        if let Some(b) = &self.bridge {
            let _ = std::process::Command::new("ip").args(["link", "del", b]).status();
        }
    }
}
