//! Lifecycle logic of the engine against the in-process fake runtime
//! (`isula_core::unstable::runtime::FakeRuntime`): no runc or crun, no isulad-shim. What the engine
//! asks of the runtime (the recorded calls) and what it records (states, exit codes,
//! restart counts) for the state machine's guards, stop escalation, signals, exit codes
//! and restart policies.
//!
//! Root is still needed: creating a container mounts its overlay root filesystem.

use std::sync::Arc;
use std::time::Duration;

use isula_core::unstable::runtime::{FakeCall, FakeRuntime};
use isula_core::LoadOptions;
use isula_core::RestartPolicy;
use isula_core::{CreateOptions, ListOptions, RemoveOptions, WaitCondition};
use isula_core::{Engine, ErrorKind};
use isula_tests::env::{require_root, TestRoot};
use isula_tests::images::{docker_archive, DockerLayout};
use isula_tests::poll::{holds_for, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// An engine on a private root whose every container runs on one fake runtime.
struct FakeEnv {
    rt: Arc<FakeRuntime>,
    engine: Option<Engine>,
    _root: TestRoot,
}

impl FakeEnv {
    /// `None` (skip) without root, which the overlay mounts need.
    fn new() -> Option<FakeEnv> {
        if !require_root() {
            return None;
        }
        let root = TestRoot::new();
        let mut cfg = root.config();
        cfg.default_runtime = "fake".into();
        let rt = Arc::new(FakeRuntime::new("fake"));
        let engine = Engine::open_with_runtime(cfg, rt.clone()).expect("open engine");
        let img = isula_tests::images::busybox();
        let tar = docker_archive(&[(&img, &["busybox:latest"])], DockerLayout::Legacy);
        engine.images().load(&mut &tar[..], &LoadOptions::default()).expect("load busybox");
        Some(FakeEnv { rt, engine: Some(engine), _root: root })
    }

    fn e(&self) -> &Engine {
        self.engine.as_ref().expect("engine open")
    }

    /// Run a busybox container (the fake never runs its command).
    fn run(&self, restart: Option<(&str, u32)>) -> String {
        let mut o = CreateOptions {
            image: "busybox".into(),
            cmd: Some(vec!["sleep".into(), "1000".into()]),
            ..Default::default()
        };
        if let Some((name, max)) = restart {
            o.restart_policy = RestartPolicy { name: name.into(), maximum_retry_count: max };
        }
        self.e().containers().run(&o).expect("run")
    }

    fn status(&self, id: &str) -> String {
        self.e().containers().inspect(id).unwrap().state.status
    }
}

impl Drop for FakeEnv {
    fn drop(&mut self) {
        if let Some(e) = self.engine.take() {
            for c in e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap_or_default() {
                let _ = e.containers().remove(&c.id, &RemoveOptions { force: true, volumes: true });
            }
        }
    }
}

#[test]
fn start_of_a_running_and_stop_of_a_stopped_container_do_nothing() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let id = env.run(None);
    assert_eq!(env.rt.calls_for(&id), [FakeCall::Create { id: id.clone(), start: true }]);
    assert_eq!(env.status(&id), "running");
    e.containers().start(&id).unwrap();
    assert_eq!(env.rt.calls_for(&id).len(), 1, "no runtime call for a start of a running container");

    e.containers().stop(&id, Some(1)).unwrap();
    assert_eq!(env.status(&id), "exited");
    assert_eq!(e.containers().inspect(&id).unwrap().state.exit_code, 143, "SIGTERM: 128 + 15");
    let after_stop = env.rt.calls_for(&id);
    assert_eq!(after_stop.last(), Some(&FakeCall::Kill { id: id.clone(), signal: libc::SIGTERM, all: false }));
    e.containers().stop(&id, Some(1)).unwrap();
    assert_eq!(env.rt.calls_for(&id), after_stop, "no runtime call for a stop of a stopped container");
    assert_eq!(e.containers().kill(&id, "KILL").unwrap_err().kind(), ErrorKind::FailedPrecondition);

    // A stopped container starts again through a new create (the old runtime state deleted).
    e.containers().start(&id).unwrap();
    assert_eq!(env.status(&id), "running");
    let calls = env.rt.calls_for(&id);
    assert!(
        calls[after_stop.len()..]
            .ends_with(&[FakeCall::Create { id: id.clone(), start: false }, FakeCall::Start(id.clone())]),
        "{calls:?}"
    );
}

#[test]
fn pause_and_unpause_guards() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let id = env.run(None);
    assert_eq!(
        e.containers().unpause(&id).unwrap_err().kind(),
        ErrorKind::FailedPrecondition,
        "unpause of a running container"
    );
    e.containers().pause(&id).unwrap();
    assert_eq!(env.status(&id), "paused");
    assert_eq!(
        e.containers().pause(&id).unwrap_err().kind(),
        ErrorKind::FailedPrecondition,
        "pause of a paused container"
    );
    assert_eq!(
        e.containers().start(&id).unwrap_err().kind(),
        ErrorKind::FailedPrecondition,
        "start of a paused container"
    );
    e.containers().unpause(&id).unwrap();
    assert_eq!(env.status(&id), "running");
    let pauses: Vec<FakeCall> =
        env.rt.calls_for(&id).into_iter().filter(|c| matches!(c, FakeCall::Pause(_) | FakeCall::Resume(_))).collect();
    assert_eq!(
        pauses,
        [FakeCall::Pause(id.clone()), FakeCall::Resume(id.clone())],
        "refused operations reach no runtime"
    );

    // Stopping a paused container thaws it first, then signals it.
    e.containers().pause(&id).unwrap();
    e.containers().stop(&id, Some(1)).unwrap();
    let calls = env.rt.calls_for(&id);
    assert!(
        calls.ends_with(&[
            FakeCall::Resume(id.clone()),
            FakeCall::Kill { id: id.clone(), signal: libc::SIGTERM, all: false }
        ]),
        "{calls:?}"
    );
    assert_eq!(env.status(&id), "exited");
    assert_eq!(
        e.containers().pause(&id).unwrap_err().kind(),
        ErrorKind::FailedPrecondition,
        "pause of an exited container"
    );
}

#[test]
fn remove_of_a_running_container_needs_force() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let id = env.run(None);
    let err = e.containers().remove(&id, &RemoveOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(!env.rt.calls_for(&id).iter().any(|c| matches!(c, FakeCall::Delete { .. } | FakeCall::Kill { .. })));
    assert_eq!(env.status(&id), "running");

    e.containers().remove(&id, &RemoveOptions { force: true, volumes: false }).unwrap();
    assert_eq!(e.containers().inspect(&id).unwrap_err().kind(), ErrorKind::NotFound);
    let calls = env.rt.calls_for(&id);
    assert!(calls.contains(&FakeCall::Kill { id: id.clone(), signal: libc::SIGKILL, all: true }), "{calls:?}");
    assert!(matches!(calls.last(), Some(FakeCall::Delete { .. })), "{calls:?}");
    assert_eq!(env.rt.pid(&id), 0, "no simulated process left");
}

#[test]
fn kill_passes_the_signal_through_and_records_the_exit_code() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let id = env.run(None);
    env.rt.ignore_signal(libc::SIGHUP);
    e.containers().kill(&id, "HUP").unwrap();
    e.containers().kill(&id, "SIGHUP").unwrap();
    e.containers().kill(&id, "1").unwrap();
    let hups = env.rt.calls_for(&id).into_iter().filter(|c| matches!(c, FakeCall::Kill { .. })).count();
    assert_eq!(hups, 3);
    assert!(env.rt.calls_for(&id).iter().all(|c| match c {
        FakeCall::Kill { signal, all, .. } => *signal == libc::SIGHUP && !all,
        _ => true,
    }));
    assert_eq!(env.status(&id), "running", "a signal the process ignores leaves it running");
    assert_eq!(e.containers().kill(&id, "NOSUCHSIGNAL").unwrap_err().kind(), ErrorKind::InvalidArgument);

    e.containers().kill(&id, "USR1").unwrap();
    assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 128 + libc::SIGUSR1);
    let i = e.containers().inspect(&id).unwrap();
    assert_eq!((i.state.status.as_str(), i.state.exit_code), ("exited", 128 + libc::SIGUSR1));
}

#[test]
fn exit_codes_of_processes_that_end_on_their_own_are_recorded() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    for code in [0, 1, 42] {
        let id = env.run(None);
        env.rt.exit(&id, code).unwrap();
        assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), code);
        wait_until(WAIT, "the exit recorded", || env.status(&id) == "exited");
        let i = e.containers().inspect(&id).unwrap();
        assert_eq!(i.state.exit_code, code);
        assert!(!i.state.running && i.state.pid == 0, "{:?}", i.state);
        assert_eq!(i.restart_count, 0);
    }
}

#[test]
fn stop_escalates_to_sigkill_when_the_stop_signal_is_ignored() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let id = env.run(None);
    env.rt.ignore_signal(libc::SIGTERM);
    e.containers().stop(&id, Some(1)).unwrap();
    let kills: Vec<FakeCall> =
        env.rt.calls_for(&id).into_iter().filter(|c| matches!(c, FakeCall::Kill { .. })).collect();
    assert_eq!(
        kills,
        [
            FakeCall::Kill { id: id.clone(), signal: libc::SIGTERM, all: false },
            FakeCall::Kill { id: id.clone(), signal: libc::SIGKILL, all: true },
        ]
    );
    assert_eq!(e.containers().inspect(&id).unwrap().state.exit_code, 137);
}

#[test]
fn restart_policy_decisions() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let creates = |id: &str| env.rt.calls_for(id).iter().filter(|c| matches!(c, FakeCall::Create { .. })).count();

    // on-failure:2 restarts two failures, not a third, and never a success.
    let id = env.run(Some(("on-failure", 2)));
    for n in 1..=2 {
        env.rt.exit(&id, 3).unwrap();
        wait_until(WAIT, &format!("restart {n}"), || {
            let i = e.containers().inspect(&id).unwrap();
            i.restart_count == n && i.state.running
        });
        assert_eq!(creates(&id), 1 + n as usize);
    }
    env.rt.exit(&id, 3).unwrap();
    wait_until(WAIT, "exited after the retries", || env.status(&id) == "exited");
    holds_for(Duration::from_millis(500), "no third restart", || {
        let i = e.containers().inspect(&id).unwrap();
        i.state.status == "exited" && i.restart_count == 2
    });
    assert_eq!(creates(&id), 3);
    let ok = env.run(Some(("on-failure", 2)));
    env.rt.exit(&ok, 0).unwrap();
    wait_until(WAIT, "exit 0 recorded", || env.status(&ok) == "exited");
    holds_for(Duration::from_millis(500), "no restart after exit 0", || env.status(&ok) == "exited");
    assert_eq!(creates(&ok), 1);

    // always restarts any exit, but not a user stop or a kill with SIGKILL.
    let always = env.run(Some(("always", 0)));
    env.rt.exit(&always, 0).unwrap();
    wait_until(WAIT, "always: restarted after exit 0", || {
        let i = e.containers().inspect(&always).unwrap();
        i.restart_count == 1 && i.state.running
    });
    e.containers().stop(&always, Some(1)).unwrap();
    holds_for(Duration::from_millis(500), "always: a user stop is final", || env.status(&always) == "exited");
    e.containers().start(&always).unwrap();
    e.containers().kill(&always, "KILL").unwrap();
    assert_eq!(e.containers().wait(&always, WaitCondition::NotRunning).unwrap(), 137);
    holds_for(Duration::from_millis(500), "always: a kill is final", || env.status(&always) == "exited");

    // no: never restarted.
    let no = env.run(None);
    env.rt.exit(&no, 1).unwrap();
    wait_until(WAIT, "no: exited", || env.status(&no) == "exited");
    holds_for(Duration::from_millis(500), "no: stays exited", || env.status(&no) == "exited");
    assert_eq!(creates(&no), 1);
}

#[test]
fn a_failed_start_is_recorded_and_the_runtime_state_deleted() {
    let Some(env) = FakeEnv::new() else { return };
    let e = env.e();
    let id = e.containers().create(&CreateOptions { image: "busybox".into(), ..Default::default() }).unwrap();
    assert_eq!(env.status(&id), "created");
    assert_eq!(env.rt.calls_for(&id), [FakeCall::Create { id: id.clone(), start: false }]);
    env.rt.fail_next_start("exec: \"nope\": executable file not found in $PATH");
    let err = e.containers().start(&id).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let i = e.containers().inspect(&id).unwrap();
    assert!(!i.state.running, "{:?}", i.state);
    assert!(i.state.error.contains("nope"), "{:?}", i.state);
    let calls = env.rt.calls_for(&id);
    assert!(
        calls.ends_with(&[FakeCall::Start(id.clone()), FakeCall::Delete { id: id.clone(), force: true }]),
        "{calls:?}"
    );
}
