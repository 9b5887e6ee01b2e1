//! The crash-point harness: a private engine root per case, the child process that runs one
//! operation until the engine kills itself at a crash point, the operations themselves (the
//! child runs them, the parent retries them) and the checks for leftovers once the root is
//! opened again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use isula_core::{
    CreateOptions, Engine, EngineConfig, ListImagesOptions, ListOptions, LoadOptions, PodConfig, PullOptions,
    RemoveImageOptions, RemoveOptions, Status, VolumeCreateOptions,
};
use isula_tests::env::TestRoot;
use isula_tests::images::{docker_archive, DockerLayout};

/// Environment of the child: the case's directory, operation, argument and config.
const DIR: &str = "ISULA_CRASH_DIR";
const OP: &str = "ISULA_CRASH_OP";
const ARG: &str = "ISULA_CRASH_ARG";
const CGROUP: &str = "ISULA_CRASH_CGROUP";
const CNI: &str = "ISULA_CRASH_CNI";
const REGISTRY: &str = "ISULA_CRASH_REGISTRY";

/// How long what a crash left gets to settle before it counts as left behind.
const SETTLE: Duration = Duration::from_secs(10);

/// How long a child gets to reach its crash point.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// The operation a case interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `Containers::create` of a busybox container named by the argument.
    Create,
    /// `Containers::run` (create and start in one runtime call) of a container like `Create`'s.
    Run,
    /// `Containers::start` of the (stopped) container named by the argument.
    Start,
    /// `Containers::remove` (forced) of the running container named by the argument.
    Remove,
    /// `Images::load` of the archive at the argument.
    Load,
    /// `Images::pull` of the reference in the argument.
    Pull,
    /// `Volumes::create` of the volume named by the argument.
    Volume,
    /// `Pods::run` of the pod named by the argument (with CNI).
    Pod,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Run => "run",
            Op::Start => "start",
            Op::Remove => "remove",
            Op::Load => "load",
            Op::Pull => "pull",
            Op::Volume => "volume",
            Op::Pod => "pod",
        }
    }

    fn parse(s: &str) -> Op {
        [Op::Create, Op::Run, Op::Start, Op::Remove, Op::Load, Op::Pull, Op::Volume, Op::Pod]
            .into_iter()
            .find(|o| o.name() == s)
            .unwrap_or_else(|| panic!("unknown crash op {s:?}"))
    }
}

/// The container every container case works on.
pub(crate) const CONTAINER: &str = "crashme";
/// The volume of the volume cases.
pub(crate) const VOLUME: &str = "crashvol";
/// The pod of the pod cases.
pub(crate) const POD: &str = "crashpod";

/// Command of the container cases: exits at its first start, sleeps from the second on (so
/// `start` has a stopped container whose runtime state is gone to start again).
pub(crate) fn container_cmd() -> Vec<String> {
    ["sh", "-c", "if [ -e /started ]; then exec sleep 1000; fi; touch /started"].iter().map(|s| s.to_string()).collect()
}

/// Create options of the container cases.
pub(crate) fn container_opts() -> CreateOptions {
    CreateOptions {
        name: Some(CONTAINER.into()),
        image: "busybox".into(),
        cmd: Some(container_cmd()),
        stop_timeout: Some(1),
        ..Default::default()
    }
}

/// The pod config of the pod cases.
pub(crate) fn pod_config() -> PodConfig {
    PodConfig { name: POD.into(), namespace: "isula-crash".into(), uid: "uid-crashpod".into(), ..Default::default() }
}

/// Run `op` with `arg` on `e` (what the child does, and the parent's retry).
pub(crate) fn run_op(e: &Engine, op: Op, arg: &str) -> isula_core::Result<()> {
    match op {
        Op::Create => e.containers().create(&container_opts()).map(drop),
        Op::Run => e.containers().run(&container_opts()).map(drop),
        Op::Start => e.containers().start(arg),
        Op::Remove => e.containers().remove(arg, &RemoveOptions { force: true, volumes: true }),
        Op::Load => {
            let mut f = std::fs::File::open(arg).expect("open the archive");
            e.images().load(&mut f, &LoadOptions::default()).map(drop)
        }
        Op::Pull => e.images().pull(arg, &PullOptions::default(), &mut |_| {}).map(drop),
        Op::Volume => {
            e.volumes().create(&VolumeCreateOptions { name: Some(arg.into()), ..Default::default() }).map(drop)
        }
        Op::Pod => e.pods().run(&pod_config()).map(drop),
    }
}

/// The engine config of a case directory.
fn config_of(dir: &Path, cgroup_parent: &str, cni: bool, registry: Option<&str>) -> EngineConfig {
    let mut c = EngineConfig::with_dirs(dir.join("root"), dir.join("state"));
    c.bridge = isula_core::BRIDGE_NONE.into();
    c.registry_config_dir = dir.join("registry-config");
    c.cni_conf_dir = dir.join("cni-conf");
    c.cni_bin_dir = vec![PathBuf::from("/usr/lib/cni")];
    c.default_runtime = "runc".into();
    c.shim_path = Some(isula_tests::shim::shim_path());
    c.pause_path = Some(isula_tests::pause::pause_path());
    c.cgroup_parent = cgroup_parent.into();
    if cni {
        c.network_plugin = "cni".into();
    }
    if let Some(r) = registry {
        c.insecure_registries = vec![r.into()];
    }
    c
}

/// The body of the child process: open the case's root and run the operation. The engine
/// kills the process at the crash point; returning means the point was never reached.
pub(crate) fn child_main() {
    let Some(dir) = std::env::var_os(DIR) else { return };
    let op = Op::parse(&std::env::var(OP).expect("crash op"));
    let arg = std::env::var(ARG).unwrap_or_default();
    let cgroup = std::env::var(CGROUP).unwrap_or_default();
    let registry = std::env::var(REGISTRY).ok();
    let cfg = config_of(Path::new(&dir), &cgroup, std::env::var_os(CNI).is_some(), registry.as_deref());
    let e = Engine::open(cfg).expect("the child opens the root");
    match run_op(&e, op, &arg) {
        Ok(()) => eprintln!("crash child: {} {arg} finished without reaching the crash point", op.name()),
        Err(err) => eprintln!("crash child: {} {arg} failed before the crash point: {err}", op.name()),
    }
}

static N: AtomicUsize = AtomicUsize::new(0);

/// One case's root, cgroup parent and (pods) CNI bridge; dropping it removes every pod,
/// container, volume and image, the cgroup parent and the bridge, then the root.
pub(crate) struct Case {
    pub point: &'static str,
    pub op: Op,
    pub root: TestRoot,
    pub cgroup_parent: String,
    pub bridge: Option<String>,
    pub registry: Option<String>,
    pub engine: Option<Engine>,
}

impl Case {
    /// A fresh root for `point` of `op` (busybox loaded for the container cases).
    pub(crate) fn new(point: &'static str, op: Op, registry: Option<String>) -> Case {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let mut c = Case {
            point,
            op,
            root: TestRoot::new(),
            cgroup_parent: format!("/isula-crash-{pid}-{n}"),
            bridge: None,
            registry,
            engine: None,
        };
        if op == Op::Pod {
            c.bridge = Some(write_cni_config(&c.root, &format!("{}{n}", pid % 100_000)));
        }
        let e = c.open();
        if matches!(op, Op::Create | Op::Run | Op::Start | Op::Remove) {
            let tar = docker_archive(&[(&isula_tests::images::busybox(), &["busybox:latest"])], DockerLayout::Legacy);
            e.images().load(&mut &tar[..], &LoadOptions::default()).expect("load busybox");
        }
        c.engine = Some(e);
        c
    }

    fn config(&self) -> EngineConfig {
        config_of(self.root.path(), &self.cgroup_parent, self.bridge.is_some(), self.registry.as_deref())
    }

    fn open(&self) -> Engine {
        Engine::open(self.config()).unwrap_or_else(|e| panic!("{}: open the root: {e}", self.point))
    }

    /// The engine (open).
    pub(crate) fn e(&self) -> &Engine {
        self.engine.as_ref().expect("engine open")
    }

    /// Close the engine, run `op` with `arg` in a child process armed at the case's point,
    /// check that the point killed it, and open the root again.
    pub(crate) fn crash(&mut self, arg: &str) {
        self.engine = None;
        let log_path = self.root.path().join("child.log");
        let log = std::fs::File::create(&log_path).expect("child log");
        let mut cmd = Command::new(std::env::current_exe().expect("test executable"));
        cmd.args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(isula_core::unstable::failpoint::ENV, self.point)
            .env(DIR, self.root.path())
            .env(OP, self.op.name())
            .env(ARG, arg)
            .env(CGROUP, &self.cgroup_parent)
            .env("ISULA_SHIM", isula_tests::shim::shim_path())
            .env("ISULA_PAUSE", isula_tests::pause::pause_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("child log"))
            .stderr(log);
        if self.bridge.is_some() {
            cmd.env(CNI, "1");
        }
        if let Some(r) = &self.registry {
            cmd.env(REGISTRY, r);
        }
        let mut child = cmd.spawn().expect("spawn the child");
        let deadline = Instant::now() + CHILD_LIMIT;
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for the child") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{}: the child did not finish within {CHILD_LIMIT:?}; its log:\n{}",
                    self.point,
                    tail(&log_path)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        assert_eq!(
            signal,
            Some(libc::SIGKILL),
            "{}: the child was not killed at the crash point ({status}); its log:\n{}",
            self.point,
            tail(&log_path)
        );
        self.engine = Some(self.open());
    }

    /// Close and open the engine again.
    pub(crate) fn reopen(&mut self) {
        self.engine = None;
        self.engine = Some(self.open());
    }

    /// Remove everything the engine shows (pods, containers, volumes, images), each
    /// removal checked.
    pub(crate) fn remove_everything(&self) {
        let e = self.e();
        let p = self.point;
        for pod in e.pods().list().unwrap_or_else(|err| panic!("{p}: list pods: {err}")) {
            e.pods().remove(&pod.id).unwrap_or_else(|err| panic!("{p}: remove pod {}: {err}", pod.id));
        }
        let all = ListOptions { all: true, ..Default::default() };
        for c in e.containers().list(&all).unwrap_or_else(|err| panic!("{p}: list containers: {err}")) {
            e.containers()
                .remove(&c.id, &RemoveOptions { force: true, volumes: true })
                .unwrap_or_else(|err| panic!("{p}: remove container {}: {err}", c.id));
        }
        for v in e.volumes().list(&[]).unwrap_or_else(|err| panic!("{p}: list volumes: {err}")) {
            e.volumes().remove(&v.name, true).unwrap_or_else(|err| panic!("{p}: remove volume {}: {err}", v.name));
        }
        let imgs = e.images().list(&ListImagesOptions::default()).unwrap_or_else(|err| panic!("{p}: images: {err}"));
        for i in imgs {
            e.images()
                .remove(&i.id, &RemoveImageOptions { force: true, ..Default::default() })
                .unwrap_or_else(|err| panic!("{p}: remove image {}: {err}", i.id));
        }
    }

    /// Assert that nothing is left that the engine does not show (see [`Case::leftovers`]).
    /// Given a moment ([`SETTLE`]): the runtime sees an exit before the engine's monitor
    /// records it, a killed process leaves its cgroup as it exits.
    pub(crate) fn assert_no_leftovers(&self, when: &str, partial_pull_ok: bool) {
        let mut left = self.leftovers(partial_pull_ok);
        if !left.is_empty() {
            isula_tests::poll::poll(SETTLE, || {
                left = self.leftovers(partial_pull_ok);
                left.is_empty()
            });
        }
        assert!(left.is_empty(), "{}: {when}: left behind:\n  {}", self.point, left.join("\n  "));
    }

    /// What the root, the runtime, the kernel and the CNI network hold beyond what the engine
    /// shows: mounts, runtime containers, shims, cgroups, netns, veths, IP allocations,
    /// container/pod/volume directories, snapshots, layers and blobs of no image, scratch and
    /// ingest files (a pull's partial download is resumable: allowed with `partial_pull_ok`).
    pub(crate) fn leftovers(&self, partial_pull_ok: bool) -> Vec<String> {
        let e = self.e();
        let dir = self.root.path();
        let root = dir.join("root");
        let state = dir.join("state");
        let mut left = Vec::new();
        let all = ListOptions { all: true, ..Default::default() };
        let containers: Vec<isula_core::ContainerRecord> = e
            .containers()
            .list(&all)
            .expect("list containers")
            .iter()
            .map(|c| e.containers().record(&c.id).expect("container record"))
            .collect();
        let ids: BTreeSet<String> = containers.iter().map(|r| r.id.clone()).collect();
        let live: BTreeSet<String> = containers
            .iter()
            .filter(|r| match r.state.status {
                Status::Running | Status::Paused => true,
                Status::Created => r.state.shim_pid > 0,
                _ => false,
            })
            .map(|r| r.id.clone())
            .collect();
        let pods: Vec<isula_core::PodInspect> = e.pods().list().expect("list pods");
        let pod_ids: BTreeSet<String> = pods.iter().map(|p| p.id.clone()).collect();
        let known = |s: &str| ids.iter().chain(pod_ids.iter()).any(|id| s.contains(id.as_str()));

        for m in isula_core::unstable::mount::mounts_under(dir) {
            if !known(&m.to_string_lossy()) {
                left.push(format!("mount {}", m.display()));
            }
        }
        let runc_root = state.join("runtime/runc");
        let runc = runc_list(&runc_root);
        // An exited container keeps its stopped runtime state until it is removed.
        for id in &runc {
            if !ids.contains(id) {
                left.push(format!("runc container {id} of no container"));
            } else if !live.contains(id) && runc_status(&runc_root, id) != "stopped" {
                left.push(format!("runc container {id} runs, but its container is recorded as not running"));
            }
        }
        // What the record says of a live container is what the runtime says.
        for r in containers.iter().filter(|r| live.contains(&r.id)) {
            let want = match r.state.status {
                Status::Running => "running",
                Status::Paused => "paused",
                _ => "created",
            };
            let got = runc_status(&runc_root, &r.id);
            if got != want {
                left.push(format!("container {} recorded {:?} but the runtime says {got:?}", r.id, r.state.status));
            }
        }
        for (pid, cmdline) in processes_mentioning(dir) {
            if !live.iter().any(|id| cmdline.contains(id.as_str())) {
                left.push(format!("process {pid}: {cmdline}"));
            }
        }
        for d in cgroup_dirs(&self.cgroup_parent) {
            let ok = d.iter().all(|part| {
                let s = part.to_string_lossy();
                ids.contains(s.as_ref()) || s.strip_prefix("pod-").is_some_and(|p| pod_ids.contains(p))
            });
            let leaf = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !ok {
                let procs = cgroup_procs(&self.cgroup_parent, &d);
                let rel = Path::new(self.cgroup_parent.trim_start_matches('/')).join(&d);
                let r#in: Vec<String> =
                    cgroup_bases().iter().filter(|b| b.join(&rel).is_dir()).map(|b| b.display().to_string()).collect();
                left.push(format!("cgroup {} (in {in:?}, processes {procs:?})", d.display()));
            } else if ids.contains(&leaf) && !live.contains(&leaf) {
                let procs = cgroup_procs(&self.cgroup_parent, &d);
                if !procs.is_empty() {
                    left.push(format!("processes {procs:?} in cgroup {} of a stopped container", d.display()));
                }
            }
        }
        for (what, path) in [
            ("container dir", root.join("containers")),
            ("snapshot", root.join("snapshots/snapshots")),
            ("pod dir", root.join("pods")),
            ("netns", state.join("netns")),
            ("shim dir", state.join("shims")),
            ("CNI result cache", state.join("cni/results")),
        ] {
            for name in names_in(&path) {
                if !known(&name) {
                    left.push(format!("{what} {}", path.join(&name).display()));
                }
            }
        }
        for (what, path) in [("scratch file", root.join("tmp")), ("staged layer", root.join("snapshots/tmp"))] {
            for name in names_in(&path) {
                left.push(format!("{what} {}", path.join(name).display()));
            }
        }
        let volumes: BTreeSet<String> = e.volumes().list(&[]).expect("volumes").into_iter().map(|v| v.name).collect();
        for name in names_in(&root.join("volumes")) {
            if !volumes.contains(&name) {
                left.push(format!("volume dir {name}"));
            }
        }
        // Ingests: only a pull's partial download (resumable) may stay, until the retry.
        for name in names_in(&root.join("content/ingest")) {
            let resumable = partial_pull_ok && self.op == Op::Pull && !name.starts_with("tmp-");
            if !resumable {
                left.push(format!("ingest {name}"));
            }
        }
        // Layers and blobs: exactly those of the images shown (the test images share none).
        let mut want_layers = 0;
        let mut want_blobs = BTreeSet::new();
        let mut layer_blobs = 0;
        for i in e.images().list(&ListImagesOptions::default()).expect("images") {
            let ins = e.images().inspect(&i.id).expect("inspect image");
            want_layers += ins.root_fs.layers.len();
            layer_blobs += ins.root_fs.layers.len();
            want_blobs.insert(ins.id.trim_start_matches("sha256:").to_string());
            want_blobs.insert(ins.manifest.digest.trim_start_matches("sha256:").to_string());
        }
        let layers = names_in(&root.join("snapshots/layers"));
        if layers.len() != want_layers {
            left.push(format!("{} layers for images with {want_layers}: {layers:?}", layers.len()));
        }
        for lock in names_in(&root.join("snapshots/locks")) {
            if lock != "meta.lock" && !layers.contains(&lock.trim_end_matches(".lock").to_string()) {
                left.push(format!("layer creation lock {lock} of no layer"));
            }
        }
        let links = names_in(&root.join("snapshots/l"));
        if links.len() != want_layers {
            left.push(format!("{} short links for images with {want_layers} layers: {links:?}", links.len()));
        }
        let blobs: BTreeSet<String> = names_in(&root.join("content/blobs/sha256")).into_iter().collect();
        if !want_blobs.is_subset(&blobs) || blobs.len() != want_blobs.len() + layer_blobs {
            left.push(format!(
                "blobs {blobs:?} for images with configs and manifests {want_blobs:?} and {layer_blobs} layer blobs"
            ));
        }
        if let Some(bridge) = &self.bridge {
            let ready = pods.iter().filter(|p| !p.ip.is_empty()).count();
            let veths = bridge_ports(bridge);
            if veths.len() > ready {
                left.push(format!("veths on {bridge} for {ready} pod(s) with an address: {veths:?}"));
            }
            let ips = ipam_allocations(&dir.join("ipam"));
            if ips.len() > ready {
                left.push(format!("IP allocations for {ready} pod(s) with an address: {ips:?}"));
            }
        }
        left
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if self.engine.is_none() {
            self.engine = Engine::open(self.config()).ok();
        }
        if let Some(e) = self.engine.take() {
            if let Ok(pods) = e.pods().list() {
                for p in pods {
                    let _ = e.pods().remove(&p.id);
                }
            }
            if let Ok(list) = e.containers().list(&ListOptions { all: true, ..Default::default() }) {
                for c in list {
                    let _ = e.containers().remove(&c.id, &RemoveOptions { force: true, volumes: true });
                }
            }
        }
        // Whatever the engine lost track of: runtime containers, shims, processes.
        let runc_root = self.root.path().join("state/runtime/runc");
        for id in runc_list(&runc_root) {
            let _ = Command::new("runc").arg("--root").arg(&runc_root).args(["delete", "--force", &id]).status();
        }
        for (pid, _) in processes_mentioning(self.root.path()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        let mut dirs = cgroup_dirs(&self.cgroup_parent);
        dirs.insert(0, PathBuf::new());
        for base in cgroup_bases() {
            for d in dirs.iter().rev() {
                let _ = std::fs::remove_dir(base.join(self.cgroup_parent.trim_start_matches('/')).join(d));
            }
        }
        if let Some(b) = &self.bridge {
            let _ = Command::new("ip").args(["link", "del", b]).stderr(Stdio::null()).status();
        }
    }
}

/// The last 4 KiB of a file (a child's log).
fn tail(p: &Path) -> String {
    let b = std::fs::read(p).unwrap_or_default();
    String::from_utf8_lossy(&b[b.len().saturating_sub(4096)..]).into_owned()
}

/// File names in `dir` (none when it is missing).
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Ids of the containers runc knows under `root`.
pub(crate) fn runc_list(root: &Path) -> Vec<String> {
    if !root.is_dir() {
        return Vec::new();
    }
    let out = Command::new("runc").arg("--root").arg(root).args(["list", "-q"]).output().expect("run runc list");
    assert!(out.status.success(), "runc list: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// `runc state` of `id` ("absent" when runc does not know it).
fn runc_status(root: &Path, id: &str) -> String {
    let out = Command::new("runc").arg("--root").arg(root).args(["state", id]).output().expect("run runc state");
    if !out.status.success() {
        return "absent".into();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("unknown").to_string()
}

/// Live processes (not zombies) other than this one whose command line mentions `dir`
/// (the shims: their argument is their state directory).
pub(crate) fn processes_mentioning(dir: &Path) -> Vec<(i32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for ent in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = ent.file_name().to_string_lossy().parse::<i32>() else { continue };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(ent.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(&needle) && alive(pid) {
            out.push((pid, cmdline.trim().to_string()));
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit_once(')').map(|(_, r)| !r.trim_start().starts_with(['Z', 'X'])).unwrap_or(false),
        Err(_) => false,
    }
}

/// The cgroup v2 root and every v1 hierarchy.
fn cgroup_bases() -> Vec<PathBuf> {
    let mut bases = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        bases.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    bases
}

/// Directories below cgroup `parent` in any hierarchy, relative to it (deepest last).
pub(crate) fn cgroup_dirs(parent: &str) -> Vec<PathBuf> {
    let rel = parent.trim_start_matches('/');
    let mut out = BTreeSet::new();
    for b in cgroup_bases() {
        let top = b.join(rel);
        let mut stack = vec![top.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else { continue };
            for sub in rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
                if let Ok(r) = sub.strip_prefix(&top) {
                    out.insert(r.to_path_buf());
                }
                stack.push(sub);
            }
        }
    }
    let mut v: Vec<PathBuf> = out.into_iter().collect();
    v.sort_by_key(|p| p.components().count());
    v
}

/// Pids in cgroup `rel` below `parent`, in any hierarchy.
fn cgroup_procs(parent: &str, rel: &Path) -> Vec<String> {
    let mut out = BTreeSet::new();
    for b in cgroup_bases() {
        let f = b.join(parent.trim_start_matches('/')).join(rel).join("cgroup.procs");
        for l in std::fs::read_to_string(f).unwrap_or_default().lines() {
            out.insert(l.trim().to_string());
        }
    }
    out.into_iter().filter(|l| !l.is_empty()).collect()
}

/// Interfaces enslaved to `bridge`.
pub(crate) fn bridge_ports(bridge: &str) -> Vec<String> {
    names_in(&Path::new("/sys/class/net").join(bridge).join("brif"))
}

/// Addresses host-local holds under `data_dir` (one file per address, per network).
pub(crate) fn ipam_allocations(data_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for net in names_in(data_dir) {
        for f in names_in(&data_dir.join(&net)) {
            if f.parse::<std::net::IpAddr>().is_ok() {
                out.push(format!("{net}/{f}"));
            }
        }
    }
    out
}

/// A bridge + host-local network config in the case's own CNI directory (bridge name and
/// subnet unique to it, IPAM data in the case's directory); returns the bridge name.
fn write_cni_config(root: &TestRoot, tag: &str) -> String {
    let bridge = format!("icr{tag}");
    let dir = root.path().join("cni-conf");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": format!("crash{tag}"),
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": isula_tests::net::free_subnet().to_string()}]],
                      "dataDir": root.path().join("ipam").display().to_string()}}
        ]
    });
    std::fs::write(dir.join("10-crash.conflist"), conf.to_string()).unwrap();
    bridge
}

/// Run every case of `points` with `case` (each under `catch_unwind`, so that one failing
/// point does not hide the others) and fail with the messages of all failed points.
/// `ISULA_CRASH_ONLY=<substring>` runs only the points whose names contain it.
pub(crate) fn run_points(points: &[&'static str], case: impl Fn(&'static str)) {
    let only = std::env::var("ISULA_CRASH_ONLY").unwrap_or_default();
    let mut failed = Vec::new();
    for &p in points.iter().filter(|p| p.contains(only.as_str())) {
        let t = Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(p))) {
            Ok(()) => eprintln!("crash point {p}: ok ({:.1?})", t.elapsed()),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                failed.push(format!("crash point {p}: {msg}"));
            }
        }
    }
    assert!(failed.is_empty(), "{} crash point(s) failed:\n{}", failed.len(), failed.join("\n"));
}
