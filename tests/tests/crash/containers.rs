//! Crash points of container create, start and remove (runc, overlay, real shims).

use std::time::Duration;

use isula_core::{Engine, ErrorKind, RemoveOptions, Status, WaitCondition};
use isula_tests::env::{require, require_root};

use crate::support::{
    cgroup_dirs, container_opts, processes_mentioning, run_op, run_points, runc_list, Case, Op, CONTAINER,
};

/// The steps of `Containers::create`.
pub(crate) const CREATE: &[&str] = &[
    "container.create.after-snapshot",
    "container.create.after-bundle",
    "container.create.after-runtime-create",
    "container.create.after-record",
];

/// The steps of `Containers::start` of a stopped container.
pub(crate) const START: &[&str] = &[
    "container.start.before-runtime-create",
    "container.start.after-runtime-create",
    "container.start.after-created-record",
    "container.start.after-runtime-start",
    "container.start.after-record",
];

/// The steps of a forced `Containers::remove` of a running container.
pub(crate) const REMOVE: &[&str] = &[
    "container.remove.after-kill",
    "container.remove.after-mark-removing",
    "container.remove.after-runtime-delete",
    "container.remove.after-shim-dir",
    "container.remove.after-snapshot",
    "container.remove.after-dir",
];

fn prerequisites() -> bool {
    require_root() && require("runc") && require("busybox")
}

/// Status of the test container, `None` when it does not exist.
fn status(e: &Engine, p: &str) -> Option<Status> {
    match e.containers().record(CONTAINER) {
        Ok(r) => Some(r.state.status),
        Err(err) if err.kind() == ErrorKind::NotFound => None,
        Err(err) => panic!("{p}: record of {CONTAINER}: {err}"),
    }
}

/// Start the test container (it exits at once on its first start) and wait for its exit.
fn first_run(e: &Engine, p: &str) {
    e.containers().start(CONTAINER).unwrap_or_else(|err| panic!("{p}: first start: {err}"));
    let code = e
        .containers()
        .wait_timeout(CONTAINER, WaitCondition::NotRunning, Some(Duration::from_secs(30)))
        .unwrap_or_else(|err| panic!("{p}: wait: {err}"));
    assert_eq!(code, Some(0), "{p}: the first run exits 0");
}

/// The test container runs: recorded running, its process alive.
fn assert_running(e: &Engine, p: &str, when: &str) {
    let r = e.containers().record(CONTAINER).unwrap_or_else(|err| panic!("{p}: {when}: record: {err}"));
    assert_eq!(r.state.status, Status::Running, "{p}: {when}: {CONTAINER} is not running: {:?}", r.state);
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", r.state.pid)).unwrap_or_default();
    assert!(!stat.is_empty() && !stat.contains(") Z"), "{p}: {when}: process {} is gone", r.state.pid);
}

/// The leak probes see a running container (so that their silence elsewhere means something).
fn assert_probes_see(c: &Case, p: &str) {
    let id = c.e().containers().record(CONTAINER).unwrap().id;
    let dir = c.root.path();
    assert!(runc_list(&dir.join("state/runtime/runc")).contains(&id), "{p}: runc list misses {id}");
    assert!(processes_mentioning(dir).iter().any(|(_, cmd)| cmd.contains(&id)), "{p}: no shim of {id} found");
    assert!(
        cgroup_dirs(&c.cgroup_parent).iter().any(|d| d.ends_with(&id)),
        "{p}: no cgroup of {id} below {}",
        c.cgroup_parent
    );
}

/// The end of every container case: the container runs (started again, or created anew),
/// is removed, the name is free for a new one, and removing everything leaves nothing.
fn finish(c: &mut Case) {
    let p = c.point;
    let e = c.e();
    if status(e, p).is_none() {
        run_op(e, Op::Create, CONTAINER).unwrap_or_else(|err| panic!("{p}: create {CONTAINER} again: {err}"));
        first_run(e, p);
    }
    if status(e, p) != Some(Status::Running) {
        e.containers().start(CONTAINER).unwrap_or_else(|err| panic!("{p}: start {CONTAINER}: {err}"));
    }
    assert_running(e, p, "started after the crash");
    assert_probes_see(c, p);
    let e = c.e();
    let force = RemoveOptions { force: true, volumes: true };
    e.containers().remove(CONTAINER, &force).unwrap_or_else(|err| panic!("{p}: remove {CONTAINER}: {err}"));
    let id = e.containers().create(&container_opts()).unwrap_or_else(|err| panic!("{p}: name not free: {err}"));
    e.containers().remove(&id, &force).unwrap_or_else(|err| panic!("{p}: remove the new {CONTAINER}: {err}"));
    c.remove_everything();
    c.reopen();
    c.assert_no_leftovers("after removing everything and reopening", false);
}

#[test]
fn create_killed_at_each_step() {
    if !prerequisites() {
        return;
    }
    run_points(CREATE, |p| {
        let mut c = Case::new(p, Op::Create, None);
        c.crash(CONTAINER);
        c.assert_no_leftovers("after the crash", false);
        match status(c.e(), p) {
            // Whole: created, and it starts (in finish).
            Some(s) => assert_eq!(s, Status::Created, "{p}: a container left by a crashed create"),
            None => {
                run_op(c.e(), Op::Create, CONTAINER).unwrap_or_else(|err| panic!("{p}: retry create: {err}"));
            }
        }
        first_run(c.e(), p);
        finish(&mut c);
    });
}

#[test]
fn run_killed_at_each_step() {
    if !prerequisites() {
        return;
    }
    run_points(CREATE, |p| {
        let mut c = Case::new(p, Op::Run, None);
        c.crash(CONTAINER);
        c.assert_no_leftovers("after the crash", false);
        match status(c.e(), p) {
            // Whole: it ran (its first run exits at once) or runs; finish starts it again.
            Some(s) => assert!(matches!(s, Status::Running | Status::Exited), "{p}: a container left by run: {s:?}"),
            None => run_op(c.e(), Op::Run, CONTAINER).unwrap_or_else(|err| panic!("{p}: retry run: {err}")),
        }
        let code = c
            .e()
            .containers()
            .wait_timeout(CONTAINER, WaitCondition::NotRunning, Some(Duration::from_secs(30)))
            .unwrap_or_else(|err| panic!("{p}: wait: {err}"));
        assert_eq!(code, Some(0), "{p}: the first run exits 0");
        finish(&mut c);
    });
}

#[test]
fn start_killed_at_each_step() {
    if !prerequisites() {
        return;
    }
    run_points(START, |p| {
        let mut c = Case::new(p, Op::Start, None);
        run_op(c.e(), Op::Create, CONTAINER).unwrap_or_else(|err| panic!("{p}: create: {err}"));
        first_run(c.e(), p);
        c.crash(CONTAINER);
        c.assert_no_leftovers("after the crash", false);
        let s = status(c.e(), p).unwrap_or_else(|| panic!("{p}: the container is gone after a crashed start"));
        assert!(matches!(s, Status::Running | Status::Created | Status::Exited), "{p}: status {s:?}");
        // The retry: start again (a no-op when it runs).
        run_op(c.e(), Op::Start, CONTAINER).unwrap_or_else(|err| panic!("{p}: retry start: {err}"));
        assert_running(c.e(), p, "after the retried start");
        finish(&mut c);
    });
}

#[test]
fn remove_killed_at_each_step() {
    if !prerequisites() {
        return;
    }
    run_points(REMOVE, |p| {
        let mut c = Case::new(p, Op::Remove, None);
        run_op(c.e(), Op::Create, CONTAINER).unwrap_or_else(|err| panic!("{p}: create: {err}"));
        first_run(c.e(), p);
        c.e().containers().start(CONTAINER).unwrap_or_else(|err| panic!("{p}: start: {err}"));
        assert_running(c.e(), p, "before the removal");
        c.crash(CONTAINER);
        c.assert_no_leftovers("after the crash", false);
        if let Some(s) = status(c.e(), p) {
            assert!(matches!(s, Status::Exited | Status::Running), "{p}: a container left by a crashed remove: {s:?}");
            run_op(c.e(), Op::Remove, CONTAINER).unwrap_or_else(|err| panic!("{p}: retry remove: {err}"));
        }
        assert_eq!(status(c.e(), p), None, "{p}: removed");
        finish(&mut c);
    });
}
