//! Helpers shared by the containers_* end-to-end tests: an engine on a private root with
//! the busybox image loaded, its own cgroup parent, and a guard that force-removes every
//! container and the cgroup parent even when the test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use isula_core::LoadOptions;
use isula_core::{CreateOptions, ListOptions, RemoveOptions};
use isula_core::{Engine, EngineConfig};
use isula_tests::env::{require, require_root, TestRoot};
use isula_tests::images::{docker_archive, DockerLayout};

#[allow(unused_imports)] // not every test file that includes this module uses both
pub(crate) use isula_tests::shim::{shim_path, RUNTIMES};

/// Root, runc, crun, busybox; false (skip) or a panic in CI when something is missing.
pub(crate) fn prerequisites() -> bool {
    require_root() && require("runc") && require("crun") && require("busybox")
}

/// Run `test` once for each runtime of [`RUNTIMES`], each time with a fresh [`Env`]; nothing
/// when the prerequisites are missing (see [`prerequisites`]).
pub(crate) fn each_runtime(mut test: impl FnMut(&str, &mut Env)) {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let mut env = Env::new(rt);
        test(rt, &mut env);
    }
}

static N: AtomicUsize = AtomicUsize::new(0);

/// The engine config of a test root: given default runtime, the built shim, a private cgroup parent.
pub(crate) fn config_for(root: &TestRoot, runtime: &str, cgroup_parent: &str) -> EngineConfig {
    let mut c = root.config();
    c.default_runtime = runtime.to_string();
    c.shim_path = Some(shim_path());
    c.cgroup_parent = cgroup_parent.to_string();
    c
}

/// One test's engine. Dropping it force-removes all containers, closes the engine, removes
/// the cgroup parent, then the root (unmounting what is left).
pub(crate) struct Env {
    pub engine: Option<Engine>,
    pub cgroup_parent: String,
    pub runtime: String,
    pub root: TestRoot,
}

impl Env {
    /// A fresh engine with `busybox:latest` loaded.
    pub(crate) fn new(runtime: &str) -> Env {
        let root = TestRoot::new();
        let cgroup_parent = format!("/isula-ctest-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let engine = Engine::open(config_for(&root, runtime, &cgroup_parent)).expect("open engine");
        let img = isula_tests::images::busybox();
        let tar = docker_archive(&[(&img, &["busybox:latest"])], DockerLayout::Legacy);
        engine.images().load(&mut &tar[..], &LoadOptions::default()).expect("load busybox");
        Env { engine: Some(engine), cgroup_parent, runtime: runtime.to_string(), root }
    }

    /// The engine.
    pub(crate) fn e(&self) -> &Engine {
        self.engine.as_ref().expect("engine open")
    }

    /// The config this env opens engines with.
    pub(crate) fn config(&self) -> EngineConfig {
        config_for(&self.root, &self.runtime, &self.cgroup_parent)
    }

    /// Close and reopen the engine.
    pub(crate) fn reopen(&mut self) {
        self.engine = None;
        self.engine = Some(Engine::open(self.config()).expect("reopen engine"));
    }

    /// Host directory mounted at `destination` in container `id` (a bind or a volume).
    pub(crate) fn mount_source(&self, id: &str, destination: &str) -> PathBuf {
        let rec = self.e().containers().record(id).expect("container record");
        let m = rec.mounts.iter().find(|m| m.destination == destination);
        PathBuf::from(&m.unwrap_or_else(|| panic!("no mount at {destination} in {id}")).source)
    }

    /// Options for a busybox container running `cmd`.
    pub(crate) fn opts(&self, cmd: &[&str]) -> CreateOptions {
        CreateOptions {
            image: "busybox".into(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// Cgroup directories left below the cgroup parent (in every hierarchy).
    pub(crate) fn cgroup_leftovers(&self) -> Vec<PathBuf> {
        cgroup_children(&self.cgroup_parent)
    }
}

/// Sub-directories of `parent` in every cgroup hierarchy.
pub(crate) fn cgroup_children(parent: &str) -> Vec<PathBuf> {
    let rel = parent.trim_start_matches('/');
    let mut out = Vec::new();
    let mut bases = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        bases.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for b in bases {
        if let Ok(rd) = std::fs::read_dir(b.join(rel)) {
            out.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    out
}

fn remove_cgroup_parent(parent: &str) {
    let rel = parent.trim_start_matches('/');
    for c in cgroup_children(parent) {
        let _ = std::fs::remove_dir(&c);
    }
    let mut bases = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        bases.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for b in bases {
        let _ = std::fs::remove_dir(b.join(rel));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.engine.is_none() {
            if let Ok(e) = Engine::open(self.config()) {
                self.engine = Some(e);
            }
        }
        if let Some(e) = self.engine.take() {
            if let Ok(list) = e.containers().list(&ListOptions { all: true, ..Default::default() }) {
                for c in list {
                    if let Err(err) = e.containers().remove(&c.id, &RemoveOptions { force: true, volumes: true }) {
                        eprintln!("cleanup: remove {}: {err}", c.id);
                    }
                }
            }
        }
        remove_cgroup_parent(&self.cgroup_parent);
    }
}

/// Whether `pid` is alive (a zombie counts as dead), from /proc.
pub(crate) fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(')').map(|(_, r)| !r.trim_start().starts_with(['Z', 'X'])).unwrap_or(false),
        Err(_) => false,
    }
}

#[allow(unused_imports)] // not every test file that includes this module uses all
pub(crate) use isula_tests::poll::{holds_for, poll as eventually, wait_for, wait_until};

/// The whole json-file log of container `id` as one string (stdout and stderr).
pub(crate) fn logs_text(env: &Env, id: &str) -> String {
    let mut s = String::new();
    env.e()
        .containers()
        .logs(id, &isula_core::LogOptions::default(), &mut |l| {
            s.push_str(&l.log);
            true
        })
        .expect("read logs");
    s
}

/// Mount points below `dir` from /proc/self/mountinfo.
pub(crate) fn mounts_below(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let d = dir.to_string_lossy().to_string();
    info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&d)).map(str::to_string).collect()
}
