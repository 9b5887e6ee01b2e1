//! End-to-end container lifecycle through `Engine`, against runc AND crun (as root).

use crate::containers_common;

use std::time::Duration;

use containers_common::*;
use isula_core::AttachEvent;
use isula_core::ErrorKind;
use isula_core::EventFilter;
use isula_core::{start_error_exit_code, CreateOptions, ExecOptions, ListOptions, RemoveOptions, WaitCondition};

#[test]
fn run_echo_and_exit_codes() {
    each_runtime(|rt, env| {
        let e = env.e();
        let (past, rx) = e.events(&EventFilter { types: vec!["container".into()], ..Default::default() });
        assert!(past.is_empty());
        let id = e.containers().run(&env.opts(&["echo", "hello"])).unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 0, "{rt}");
        let evs: Vec<_> = rx.try_iter().filter(|ev| ev.actor.id == id).collect();
        let actions: Vec<&str> = evs.iter().map(|ev| ev.action.as_str()).collect();
        assert_eq!(actions, vec!["create", "start", "die"], "{rt}");
        assert_eq!(evs[2].actor.attributes.get("exitCode").map(String::as_str), Some("0"));
        assert_eq!(evs[0].actor.attributes.get("image").map(String::as_str), Some("busybox"));
        // history with `since`
        let (past, _rx) = e.events(&EventFilter { since: Some(0), events: vec!["die".into()], ..Default::default() });
        assert_eq!(past.len(), 1);
        assert!(logs_text(env, &id).contains("hello"), "{rt}: logs {:?}", logs_text(env, &id));
        let i = e.containers().inspect(&id).unwrap();
        assert_eq!(i.state.status, "exited");
        assert_eq!(i.state.exit_code, 0);
        assert!(!i.state.running);
        assert_ne!(i.state.finished_at.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(i.path, "echo");
        assert_eq!(i.args, vec!["hello"]);
        assert_eq!(i.driver, "overlay2");
        assert!(i.name.starts_with('/'));
        assert!(i.graph_driver.data.contains_key("UpperDir") && i.graph_driver.data.contains_key("LowerDir"));
        assert_eq!(i.config.image, "busybox");
        assert!(i.image.starts_with("sha256:"));

        let id3 = e.containers().run(&env.opts(&["sh", "-c", "exit 3"])).unwrap();
        assert_eq!(e.containers().wait(&id3, WaitCondition::NotRunning).unwrap(), 3, "{rt}");
        let s = e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap();
        let line = s.iter().find(|c| c.id == id3).unwrap();
        assert!(line.status.starts_with("Exited (3)"), "{}", line.status);
        // A process that exits at once never looks finished before it started.
        let st = e.containers().inspect(&id3).unwrap().state;
        assert!(st.started_at <= st.finished_at, "{rt}: {st:?}");
        // a second start of an exited container runs it again
        let first_start = st.started_at;
        e.containers().start(&id3).unwrap();
        assert_eq!(e.containers().wait(&id3, WaitCondition::NotRunning).unwrap(), 3);
        let st = e.containers().inspect(&id3).unwrap().state;
        assert_ne!(st.started_at, first_start);
        assert!(st.started_at <= st.finished_at, "{rt}: {st:?}");
    });
}

#[test]
fn stop_kill_pause_restart_rename() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sleep", "1000"]);
        o.name = Some("sleeper".into());
        let id = e.containers().run(&o).unwrap();
        assert!(e.containers().inspect("sleeper").unwrap().state.running);
        assert!(e.containers().inspect("/sleeper").unwrap().state.pid > 0);
        assert_eq!(e.containers().inspect(&id[..10]).unwrap().id, id);
        // starting a running container is a no-op success (as Docker and iSulad)
        e.containers().start(&id).unwrap();

        e.containers().pause(&id).unwrap();
        let i = e.containers().inspect(&id).unwrap();
        assert!(i.state.paused && i.state.running && i.state.status == "paused", "{rt}");
        assert_eq!(e.containers().pause(&id).unwrap_err().kind(), ErrorKind::FailedPrecondition);
        e.containers().unpause(&id).unwrap();
        let i = e.containers().inspect(&id).unwrap();
        assert!(!i.state.paused && i.state.status == "running");
        assert_eq!(e.containers().unpause(&id).unwrap_err().kind(), ErrorKind::FailedPrecondition);

        let before = e.containers().inspect(&id).unwrap().state.started_at;
        e.containers().restart(&id, Some(1)).unwrap();
        let i = e.containers().inspect(&id).unwrap();
        assert!(i.state.running && i.state.started_at != before, "{rt}");

        e.containers().rename("sleeper", "renamed").unwrap();
        assert_eq!(e.containers().inspect("renamed").unwrap().name, "/renamed");
        assert_eq!(e.containers().inspect("sleeper").unwrap_err().kind(), ErrorKind::NotFound);

        e.containers().stop("renamed", Some(1)).unwrap();
        let code = e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
        assert!(code == 137 || code == 143, "{rt}: stop exit code {code}");
        // stop of a stopped container is a no-op
        e.containers().stop(&id, Some(1)).unwrap();
        assert_eq!(e.containers().kill(&id, "KILL").unwrap_err().kind(), ErrorKind::FailedPrecondition);

        // kill with a signal the process handles
        let id2 = e
            .containers()
            .run(&env.opts(&["sh", "-c", "trap 'exit 42' HUP; echo ready; while true; do sleep 0.1; done"]))
            .unwrap();
        // as PID 1 the shell ignores HUP until its trap is set (USR1: containers_semantics.rs)
        assert!(eventually(Duration::from_secs(20), || logs_text(env, &id2).contains("ready")), "{rt}");
        e.containers().kill(&id2, "SIGHUP").unwrap();
        assert_eq!(e.containers().wait(&id2, WaitCondition::NotRunning).unwrap(), 42, "{rt}");
        assert_eq!(e.containers().kill(&id2, "NOSUCHSIG").unwrap_err().kind(), ErrorKind::InvalidArgument);
    });
}

#[test]
fn list_filters_and_exec_attach() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sleep", "1000"]);
        o.name = Some("web".into());
        o.labels.insert("tier".into(), "front".into());
        let web = e.containers().run(&o).unwrap();
        // named, so that `name=we` below cannot match a generated name such as "wise_weasel"
        let mut o = env.opts(&["true"]);
        o.name = Some("batch".into());
        let done = e.containers().create(&o).unwrap();
        let running = e.containers().list(&ListOptions::default()).unwrap();
        assert_eq!(running.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), vec![web.clone()]);
        assert!(running[0].status.starts_with("Up "), "{}", running[0].status);
        assert_eq!(running[0].names, vec!["/web"]);
        assert_eq!(running[0].command, "sleep 1000");
        let all = e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, done, "newest first");
        assert_eq!(all[0].state, "created");
        let f = |f: &str| {
            e.containers()
                .list(&ListOptions { all: true, filters: vec![f.to_string()], ..Default::default() })
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(f("label=tier=front"), vec![web.clone()]);
        assert_eq!(f("label=tier"), vec![web.clone()]);
        assert_eq!(f("name=we"), vec![web.clone()]);
        assert_eq!(f("status=created"), vec![done.clone()]);
        assert_eq!(f(&format!("id={}", &done[..8])), vec![done.clone()]);
        assert_eq!(f("ancestor=busybox").len(), 2);
        assert_eq!(f("ancestor=nosuchimage").len(), 0);
        assert_eq!(e.containers().list(&ListOptions { last: 1, ..Default::default() }).unwrap()[0].id, done);
        let bad = ListOptions { filters: vec!["bogus=1".into()], ..Default::default() };
        assert_eq!(e.containers().list(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument);

        // exec with output and exit code
        let x = e
            .containers()
            .exec(
                &web,
                &ExecOptions {
                    cmd: vec!["sh".into(), "-c".into(), "echo out; echo err >&2; echo $FOO; exit 5".into()],
                    env: vec!["FOO=bar".into()],
                    ..Default::default()
                },
            )
            .unwrap();
        let out = x.collect().unwrap();
        assert_eq!(out.exit_code, 5, "{rt}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "out\nbar\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
        let err = e
            .containers()
            .exec(&web, &ExecOptions { cmd: vec!["/no/such/cmd".into()], ..Default::default() })
            .unwrap_err();
        assert_eq!(start_error_exit_code(&err), Some(127), "{rt}: {err}");
        assert_eq!(
            e.containers()
                .exec(&done, &ExecOptions { cmd: vec!["true".into()], ..Default::default() })
                .unwrap_err()
                .kind(),
            ErrorKind::FailedPrecondition
        );

        // attach to cat
        let mut co = env.opts(&["cat"]);
        co.open_stdin = true;
        let cat = e.containers().run(&co).unwrap();
        let mut a = e.containers().attach(&cat).unwrap();
        a.write_stdin(b"ping\n").unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"ping\n") {
            match a.read_event().unwrap() {
                Some(AttachEvent::Stdout(b)) => got.extend(b),
                Some(other) => panic!("{rt}: unexpected {other:?}"),
                None => panic!("{rt}: attach closed early"),
            }
        }
        a.close_stdin().unwrap();
        assert_eq!(e.containers().wait(&cat, WaitCondition::NotRunning).unwrap(), 0, "{rt}");
    });
}

#[test]
fn remove_rules_and_cleanup() {
    each_runtime(|rt, env| {
        let e = env.e();
        let id = e.containers().run(&env.opts(&["sleep", "1000"])).unwrap();
        let err = e.containers().remove(&id, &RemoveOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
        assert!(err.to_string().contains("You cannot remove a running container"), "{err}");
        assert!(e.containers().inspect(&id).unwrap().state.running);
        let rec = e.containers().record(&id).unwrap();
        e.containers().remove(&id, &RemoveOptions { force: true, volumes: true }).unwrap();
        assert_eq!(e.containers().inspect(&id).unwrap_err().kind(), ErrorKind::NotFound);
        assert!(eventually(Duration::from_secs(5), || !pid_alive(rec.state.pid) && !pid_alive(rec.state.shim_pid)));
        assert!(mounts_below(env.root.path()).is_empty(), "{:?}", mounts_below(env.root.path()));
        assert!(!env.root.path().join("root/containers").join(&id).exists());
        assert!(!env.root.path().join("root/snapshots/snapshots").join(&id).exists());
        assert!(env.cgroup_leftovers().is_empty(), "{rt}: {:?}", env.cgroup_leftovers());
        // an exited container goes without force
        let id = e.containers().run(&env.opts(&["true"])).unwrap();
        e.containers().wait(&id, WaitCondition::NotRunning).unwrap();
        e.containers().remove(&id, &RemoveOptions::default()).unwrap();
        assert_eq!(e.containers().remove(&id, &RemoveOptions::default()).unwrap_err().kind(), ErrorKind::NotFound);
    });
}

#[test]
fn bad_input_changes_nothing() {
    each_runtime(|rt, env| {
        let e = env.e();
        let err =
            e.containers().create(&CreateOptions { image: "nosuchimage".into(), ..Default::default() }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("No such image: nosuchimage"), "{err}");
        let mut o = env.opts(&["true"]);
        o.name = Some("taken".into());
        let first = e.containers().create(&o).unwrap();
        let err = e.containers().create(&o).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(err.to_string().contains(&first), "{err}");
        o.name = Some("bad name!".into());
        assert_eq!(e.containers().create(&o).unwrap_err().kind(), ErrorKind::InvalidArgument);
        o.name = None;
        o.runtime = Some("no-such-runtime-xyz".into());
        let err = e.containers().create(&o).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("no-such-runtime-xyz"), "{err}");
        // command not found: 127; as Docker the container was created and stays `created`
        let mut o2 = env.opts(&["/no/such/command"]);
        o2.name = Some("nocmd".into());
        let err = e.containers().run(&o2).unwrap_err();
        assert_eq!(start_error_exit_code(&err), Some(127), "{rt}: {err}");
        assert_eq!(e.containers().inspect("nocmd").unwrap().state.status, "created");
        e.containers().remove("nocmd", &RemoveOptions::default()).unwrap();
        // an image used by a container cannot be removed without force
        let err = e.images().remove("busybox", &isula_core::RemoveImageOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{rt}: {err}");
        assert!(err.to_string().contains(&first), "{err}");
        // nothing but the one created container exists
        let all = e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap();
        assert!(all.iter().all(|c| c.id == first || c.state != "running"), "{all:?}");
        let dirs = std::fs::read_dir(env.root.path().join("root/containers")).unwrap().count();
        assert_eq!(dirs, all.len(), "{rt}: container dirs vs records");
    });
}

#[test]
fn crashing_runtime_leaves_nothing_behind() {
    if !prerequisites() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("fake-runtime");
    std::fs::write(&fake, "#!/bin/sh\necho 'fake runtime crashed' >&2\nexit 1\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&fake).unwrap().permissions(), 0o755);
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut env = Env::new("runc");
    let mut cfg = env.config();
    cfg.runtimes.insert(
        "fake".into(),
        isula_core::RuntimeConfig { path: fake.to_string_lossy().into_owned(), runtime_args: vec![] },
    );
    env.engine = None;
    env.engine = Some(isula_core::Engine::open(cfg).unwrap());
    let e = env.e();
    let mut o = env.opts(&["true"]);
    o.runtime = Some("fake".into());
    o.name = Some("crashy".into());
    assert!(e.containers().create(&o).is_err());
    assert!(e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().is_empty());
    assert!(mounts_below(env.root.path()).is_empty(), "{:?}", mounts_below(env.root.path()));
    let snaps = std::fs::read_dir(env.root.path().join("root/snapshots/snapshots")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(snaps, 0);
    assert_eq!(std::fs::read_dir(env.root.path().join("root/containers")).unwrap().count(), 0);
    // the name is free again
    o.runtime = None;
    e.containers().create(&o).unwrap();
}

#[test]
fn layers_of_a_force_removed_image_go_with_its_last_container() {
    if !prerequisites() {
        return;
    }
    let env = Env::new("runc");
    let e = env.e();
    let layers_dir = env.root.path().join("root/snapshots/layers");
    let layer_count = || std::fs::read_dir(&layers_dir).unwrap().count();
    assert_eq!(layer_count(), 1, "busybox has one layer");
    let a = e.containers().create(&env.opts(&["true"])).unwrap();
    let b = e.containers().create(&env.opts(&["true"])).unwrap();
    let forced = isula_core::RemoveImageOptions { force: true, no_prune: false };
    e.images().remove("busybox", &forced).unwrap();
    assert_eq!(layer_count(), 1, "the layer stays while containers use it");
    e.containers().remove(&a, &RemoveOptions::default()).unwrap();
    assert_eq!(layer_count(), 1, "one container still uses the layer");
    e.containers().remove(&b, &RemoveOptions::default()).unwrap();
    assert_eq!(layer_count(), 0, "the last container's removal frees the layer");
}

#[test]
fn wait_finish_after_sees_the_next_recorded_exit() {
    if !prerequisites() {
        return;
    }
    let env = Env::new(RUNTIMES[0]);
    let e = env.e();
    let mut o = env.opts(&["sh", "-c", "read x; exit 7"]);
    o.open_stdin = true;
    let id = e.containers().run(&o).unwrap();
    let before = e.containers().record(&id).unwrap().state.finished_at;
    // still running: the time runs out
    assert!(!e.containers().wait_finish_after(&id, before, Duration::from_millis(100)));
    let mut a = e.containers().attach(&id).unwrap();
    a.write_stdin(b"go\n").unwrap();
    assert!(e.containers().wait_finish_after(&id, before, Duration::from_secs(20)));
    let r = e.containers().record(&id).unwrap();
    assert_ne!(r.state.finished_at, before);
    assert_eq!(r.state.exit_code, 7);
    // a removed container counts as finished
    e.containers().remove(&id, &RemoveOptions::default()).unwrap();
    assert!(e.containers().wait_finish_after(&id, before, Duration::from_secs(1)));
}
