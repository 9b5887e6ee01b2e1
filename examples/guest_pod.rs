//! A pod under the systemd cgroup driver, through `isula_core` directly: the guest suite
//! (tests/guest/suite.sh, run in a systemd + cgroup v2 guest by scripts/guest-test.sh) runs it.
//!
//! Opens an engine with `cgroup-driver: systemd`, imports ROOTFS_TAR as an image, runs a pod
//! whose cgroup parent is the slice SLICE (as kubelet passes it, e.g.
//! `kubepods-besteffort-pod<uid>.slice`) and a container in it, and checks that the infra
//! process and the container each live in their `isula-<id>.scope` below the slice's
//! directory, that the pod's stats come from the slice, and that removing the pod leaves no
//! scope behind. Prints one line per check; exits non-zero on the first failure.
//!
//! usage: guest_pod DIR ROOTFS_TAR SLICE RUNTIME
//!   DIR         an empty directory for the engine's root (DIR/root) and state (DIR/state)
//!   ROOTFS_TAR  a root filesystem tar holding /bin/sh and sleep (busybox)
//!   SLICE       the pod's cgroup parent, a systemd slice name
//!   RUNTIME     runc or crun

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use isula_core::{CreateOptions, Engine, EngineConfig, Error, ImportOptions, PodConfig, Result};

/// The slice's directory in the cgroup v2 hierarchy: each dash opens a level.
fn slice_dir(slice: &str) -> PathBuf {
    let stem = slice.trim_end_matches(".slice");
    let mut dir = PathBuf::from("/sys/fs/cgroup");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        dir.push(format!("{prefix}.slice"));
    }
    dir
}

/// `got` is the scope `want`, or the `container` leaf crun's systemd manager makes in it.
fn in_scope(got: &str, want: &str) -> bool {
    got == want || got.strip_suffix("/container") == Some(want)
}

fn check(ok: bool, what: String) -> Result<()> {
    if ok {
        println!("ok: {what}");
        Ok(())
    } else {
        Err(Error::internal(format!("check failed: {what}")))
    }
}

/// The cgroup v2 path of process `pid` (`0::/…` in /proc/PID/cgroup).
fn cgroup_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_default()
}

fn run(dir: &Path, rootfs_tar: &Path, slice: &str, runtime: &str) -> Result<()> {
    let mut config = EngineConfig::with_dirs(dir.join("root"), dir.join("state"));
    config.bridge = "none".into();
    config.cgroup_driver = "systemd".into();
    config.default_runtime = runtime.into();
    let engine = Engine::open(config)?;
    let mut tar = File::open(rootfs_tar).map_err(|e| Error::io(rootfs_tar, "open", e))?;
    let opts = ImportOptions { reference: Some("guest/busybox:pod".into()), ..Default::default() };
    engine.images().import(&mut tar, &opts)?;

    let pod = engine.pods().run(&PodConfig {
        name: "guest-pod".into(),
        namespace: "default".into(),
        uid: format!("uid-{}", std::process::id()),
        cgroup_parent: slice.into(),
        ..Default::default()
    })?;
    let result = check_pod(&engine, &pod, slice);
    let removed = engine.pods().remove(&pod);
    result?;
    removed?;
    let leftovers: Vec<String> = std::fs::read_dir(slice_dir(slice))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("isula-") && n.ends_with(".scope"))
                .collect()
        })
        .unwrap_or_default();
    check(leftovers.is_empty(), format!("no scope left in {slice} after the pod's removal: {leftovers:?}"))
}

fn check_pod(engine: &Engine, pod: &str, slice: &str) -> Result<()> {
    let p = engine.pods().inspect(pod)?;
    check(p.cgroup_parent == slice, format!("pod cgroup parent {:?} is the slice", p.cgroup_parent))?;
    let want = format!("{}/isula-{}.scope", slice_dir(slice).display(), p.infra_id);
    let got = format!("/sys/fs/cgroup{}", cgroup_of(p.pid));
    check(in_scope(&got, &want), format!("infra process {} in {got} (want {want})", p.pid))?;

    let id = engine.containers().create(&CreateOptions {
        image: "guest/busybox:pod".into(),
        cmd: Some(vec!["sleep".into(), "300".into()]),
        pod: Some(pod.into()),
        ..Default::default()
    })?;
    engine.containers().start(&id)?;
    let pid = engine.containers().inspect(&id)?.state.pid;
    let want = format!("{}/isula-{id}.scope", slice_dir(slice).display());
    let got = format!("/sys/fs/cgroup{}", cgroup_of(pid));
    check(in_scope(&got, &want), format!("container process {pid} in {got} (want {want})"))?;

    let s = engine.pods().stats(pod)?;
    check(s.pids.current >= 2, format!("pod stats count the slice's processes ({} pids)", s.pids.current))?;
    check(s.memory.usage > 0, format!("pod stats read the slice's memory ({} bytes)", s.memory.usage))?;
    let mut pids = 0;
    engine.containers().stats(&id, false, &mut |s| {
        pids = s.stats.as_ref().map_or(0, |c| c.pids.current);
        false
    })?;
    check(pids >= 1, format!("container stats from its scope ({pids} pids)"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, tar, slice, runtime] = args.as_slice() else {
        eprintln!("usage: guest_pod DIR ROOTFS_TAR SLICE RUNTIME");
        return ExitCode::from(2);
    };
    match run(Path::new(dir), Path::new(tar), slice, runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guest_pod: {e}");
            ExitCode::FAILURE
        }
    }
}
