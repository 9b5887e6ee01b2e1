//! Docker semantics of the container lifecycle through `Engine` (runc and crun, as root):
//! signal delivery, manual stops versus restart policies, health persisted across a reopen,
//! command-not-found exit codes.

use crate::containers_common;

use std::time::Duration;

use containers_common::*;
use isula_core::EventFilter;
use isula_core::RestartPolicy;
use isula_core::{start_error_exit_code, ExecOptions, ListOptions, RemoveOptions, WaitCondition};

#[test]
fn init_starts_with_empty_signal_mask_and_gets_usr1() {
    each_runtime(|rt, env| {
        let e = env.e();
        let id = e
            .containers().run(&env.opts(&[
                "sh",
                "-c",
                "grep -E 'Sig(Blk|Ign)' /proc/1/status; trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done",
            ]))
            .unwrap();
        assert!(eventually(Duration::from_secs(20), || logs_text(env, &id).contains("ready")), "{rt}");
        let text = logs_text(env, &id);
        let blk = text.lines().find(|l| l.starts_with("SigBlk:")).unwrap_or_else(|| panic!("{rt}: {text}"));
        assert_eq!(blk.split_whitespace().nth(1), Some("0000000000000000"), "{rt}: {text}");
        // an exec'd process too
        let x = e
            .containers()
            .exec(
                &id,
                &ExecOptions {
                    cmd: vec!["grep".into(), "SigBlk".into(), "/proc/self/status".into()],
                    ..Default::default()
                },
            )
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&x.stdout).split_whitespace().nth(1), Some("0000000000000000"), "{rt}");
        e.containers().kill(&id, "USR1").unwrap();
        assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 7, "{rt}: {}", logs_text(env, &id));
        assert!(logs_text(env, &id).contains("got-usr1"), "{rt}");
    });
}

fn policy(name: &str) -> RestartPolicy {
    RestartPolicy { name: name.into(), maximum_retry_count: 0 }
}

fn host_kill9(pid: i32) {
    assert!(pid > 0);
    let st = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(st.success());
}

/// Wait until the container runs again with a new pid after a policy restart.
fn restarted(e: &isula_core::Engine, id: &str, old_pid: i32) -> bool {
    eventually(Duration::from_secs(30), || {
        let i = e.containers().inspect(id).unwrap();
        i.state.running && i.state.pid != old_pid && i.state.pid > 0
    })
}

#[test]
fn kill_is_a_manual_stop_for_restart_policies() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let mut env = Env::new(rt);
        let mut ids = Vec::new();
        for name in ["always", "unless-stopped"] {
            let e = env.e();
            let mut o = env.opts(&["sleep", "1000"]);
            o.name = Some(name.into());
            o.restart_policy = policy(name);
            let id = e.containers().run(&o).unwrap();
            // the policy works: a process that dies on its own is restarted
            let pid = e.containers().inspect(&id).unwrap().state.pid;
            host_kill9(pid);
            assert!(restarted(e, &id, pid), "{rt}/{name}: {:?}", e.containers().inspect(&id).unwrap().state);
            // a kill through the engine is final
            let (_, rx) = e.events(&EventFilter { events: vec!["die".into()], ..Default::default() });
            e.containers().kill(&id, "KILL").unwrap();
            assert_eq!(e.containers().wait(&id, WaitCondition::NotRunning).unwrap(), 137, "{rt}/{name}");
            rx.recv_timeout(Duration::from_secs(20)).expect("die event");
            // several backoff periods: still exited, not restarted
            holds_for(Duration::from_millis(1000), &format!("{rt}/{name}: exited, not restarted after a kill"), || {
                let i = e.containers().inspect(&id).unwrap();
                i.state.status == "exited" && i.restart_count == 1
            });
            ids.push(id);
        }
        // reopen: `always` comes back (as Docker's daemon restart), `unless-stopped` does not
        let (always, unless) = (ids[0].clone(), ids[1].clone());
        env.reopen();
        let e = env.e();
        assert!(restarted(e, &always, 0), "{rt}: always not restarted on reopen");
        // both were scheduled by the same open; the restart of `always` is done, so the
        // decision on `unless-stopped` is final
        let i = e.containers().inspect(&unless).unwrap();
        assert_eq!(i.state.status, "exited", "{rt}: unless-stopped restarted on reopen after a manual stop");
        // a start clears the manual stop: the policy applies again
        e.containers().start(&unless).unwrap();
        let pid = e.containers().inspect(&unless).unwrap().state.pid;
        host_kill9(pid);
        assert!(restarted(e, &unless, pid), "{rt}: unless-stopped after start");
        // a signal that is neither SIGKILL nor the stop signal (a reload) is not a manual
        // stop: the process that exits on it is restarted
        let mut o = env.opts(&["sh", "-c", "trap 'exit 5' HUP; while true; do sleep 0.1; done"]);
        o.restart_policy = policy("unless-stopped");
        let id = e.containers().run(&o).unwrap();
        let pid = e.containers().inspect(&id).unwrap().state.pid;
        e.containers().kill(&id, "HUP").unwrap();
        assert!(restarted(e, &id, pid), "{rt}: HUP counted as a manual stop");
        e.containers().remove(&id, &RemoveOptions { force: true, volumes: false }).unwrap();
    }
}

#[test]
fn unless_stopped_restarts_on_reopen_without_manual_stop_and_kill_cancels_a_pending_restart() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sleep", "1000"]);
        o.restart_policy = policy("unless-stopped");
        let id = e.containers().run(&o).unwrap();
        // the engine goes away, the process dies meanwhile: on reopen it is restarted
        let pid = e.containers().inspect(&id).unwrap().state.pid;
        env.engine = None;
        host_kill9(pid);
        assert!(eventually(Duration::from_secs(20), || !pid_alive(pid)));
        env.reopen();
        let e = env.e();
        assert!(restarted(e, &id, pid), "{rt}: {:?}", e.containers().inspect(&id).unwrap().state);

        // a crash loop reaches a long backoff; a kill while it waits cancels the restart
        let mut o = env.opts(&["sh", "-c", "exit 1"]);
        o.restart_policy = policy("always");
        let looping = e.containers().run(&o).unwrap();
        assert!(
            eventually(Duration::from_secs(60), || {
                let i = e.containers().inspect(&looping).unwrap();
                i.state.status == "restarting" && i.restart_count >= 4
            }),
            "{rt}: {:?}",
            e.containers().inspect(&looping).unwrap()
        );
        e.containers().kill(&looping, "KILL").unwrap();
        // (the kill may have met a restart in progress: then the process exits on its own)
        e.containers().wait(&looping, WaitCondition::NotRunning).unwrap();
        let i = e.containers().inspect(&looping).unwrap();
        assert_eq!(i.state.status, "exited", "{rt}");
        let count = i.restart_count;
        // past the restart that was pending
        holds_for(
            isula_core::unstable::backoff(count) + Duration::from_millis(500),
            &format!("{rt}: exited with {count} restarts"),
            || {
                let i = e.containers().inspect(&looping).unwrap();
                (i.state.status.as_str(), i.restart_count) == ("exited", count)
            },
        );
    });
}

#[test]
fn command_not_found_fails_at_start_like_docker() {
    each_runtime(|rt, env| {
        let e = env.e();
        // create does not check the command
        let id = e.containers().create(&env.opts(&["no-such-command", "arg"])).unwrap();
        assert_eq!(e.containers().inspect(&id).unwrap().state.status, "created");
        // attaching before the start works (as Docker); there is no output to get
        let mut a = e.containers().attach(&id).unwrap();
        assert!(a.read_event().unwrap().is_none(), "{rt}");
        for attempt in 0..2 {
            let err = e.containers().start(&id).unwrap_err();
            assert_eq!(start_error_exit_code(&err), Some(127), "{rt}: {err}");
            assert!(err.to_string().contains("no-such-command"), "{rt}: the runtime's message: {err}");
            let i = e.containers().inspect(&id).unwrap();
            assert_eq!(i.state.status, "created", "{rt} attempt {attempt}");
            assert_eq!(i.state.exit_code, 127, "{rt}");
            assert!(!i.state.running && i.state.pid == 0, "{rt}");
            assert!(i.state.error.contains("no-such-command"), "{rt}: {:?}", i.state.error);
            assert_eq!(i.state.started_at.to_string(), "0001-01-01T00:00:00Z", "{rt}");
        }
        let line = e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap();
        assert_eq!(line[0].state, "created", "{rt}");
        assert!(line[0].status.starts_with("Created"), "{rt}: {}", line[0].status);

        // not executable: 126
        let x = e.containers().create(&env.opts(&["/etc/passwd"])).unwrap();
        let err = e.containers().start(&x).unwrap_err();
        assert_eq!(start_error_exit_code(&err), Some(126), "{rt}: {err}");
        let i = e.containers().inspect(&x).unwrap();
        assert_eq!((i.state.status.as_str(), i.state.exit_code), ("created", 126), "{rt}");

        // run returns the start error; with AutoRemove the container is gone
        let before = e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().len();
        let mut o = env.opts(&["/no/such/command"]);
        o.auto_remove = true;
        let err = e.containers().run(&o).unwrap_err();
        assert_eq!(start_error_exit_code(&err), Some(127), "{rt}: {err}");
        assert_eq!(
            e.containers().list(&ListOptions { all: true, ..Default::default() }).unwrap().len(),
            before,
            "{rt}"
        );

        let ok = e.containers().run(&env.opts(&["true"])).unwrap();
        assert_eq!(e.containers().wait(&ok, WaitCondition::NotRunning).unwrap(), 0);

        // the state survives a reopen, and the container is still removable without leftovers
        env.reopen();
        let e = env.e();
        let i = e.containers().inspect(&id).unwrap();
        assert_eq!((i.state.status.as_str(), i.state.exit_code), ("created", 127), "{rt}: after reopen");
        for c in [&id, &x] {
            e.containers().remove(c, &RemoveOptions::default()).unwrap();
        }
        e.containers().remove(&ok, &RemoveOptions::default()).unwrap();
        assert!(mounts_below(env.root.path()).is_empty(), "{rt}: {:?}", mounts_below(env.root.path()));
        assert!(env.cgroup_leftovers().is_empty(), "{rt}: {:?}", env.cgroup_leftovers());
    });
}

/// Mount points of this mount namespace (the host's, as the test runs there).
fn host_mount_points() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<String> = info.lines().filter_map(|l| l.split(' ').nth(4)).map(str::to_string).collect();
    v.sort();
    v
}

fn etc_diff(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut d: Vec<String> = a.iter().filter(|x| !b.contains(x)).map(|x| format!("-{}", x.0)).collect();
    d.extend(b.iter().filter(|x| !a.contains(x)).map(|x| format!("+{}", x.0)));
    d
}

fn listing(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            // links (e.g. mtab -> /proc/self/mounts) by their target, files by their content
            let data = match std::fs::read_link(&p) {
                Ok(t) => t.into_os_string().into_encoded_bytes(),
                Err(_) => std::fs::read(&p).unwrap_or_default(),
            };
            (e.file_name().to_string_lossy().into_owned(), data)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn volume_at_a_symlink_out_of_the_container_stays_inside() {
    if !prerequisites() {
        return;
    }
    use isula_tests::images::{busybox_plus, docker_archive, DockerLayout, LayerBuilder};
    // A host directory the image's relative link aims at, and the host's /etc: neither may change.
    let sentinel = tempfile::tempdir().unwrap();
    std::fs::write(sentinel.path().join("s.txt"), "host-sentinel\n").unwrap();
    let climb = format!("../../../../../../../../../..{}", sentinel.path().display());
    let mut layer = LayerBuilder::new();
    layer.symlink("abs", "/etc").symlink("rel", &climb).symlink("vol", "/etc");
    layer.file("etc/image-marker", 0o644, b"from-image\n");
    let img = busybox_plus(Some(layer.finish()), |_| {});
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let tar = docker_archive(&[(&img, &["symimg:latest"])], DockerLayout::Legacy);
        e.images().load(&mut &tar[..], &isula_core::LoadOptions::default()).unwrap();
        let host_etc = listing(std::path::Path::new("/etc"));
        let before_sentinel = listing(sentinel.path());
        let before_mounts = host_mount_points();
        let bind = tempfile::tempdir().unwrap();
        std::fs::write(bind.path().join("bindfile"), "bind-content\n").unwrap();

        // binds at /abs (-> /etc) and /rel (-> ../../…/<host sentinel>)
        let mut o = env.opts(&["sh", "-c", "cat /etc/bindfile /rel/bindfile; echo done; sleep 1000"]);
        o.image = "symimg".into();
        o.binds = vec![format!("{}:/abs", bind.path().display()), format!("{}:/rel", bind.path().display())];
        // The runtime resolves the destinations inside the rootfs, or refuses them (crun: the
        // relative target does not exist there) at create or start, with its message.
        let created = e.containers().create(&o);
        let started = created
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|id| e.containers().start(id).map_err(|e| e.to_string()));
        match started {
            Ok(()) => {
                let id = created.as_ref().unwrap();
                // resolved inside the rootfs: the container's own /etc got the bind
                assert!(
                    eventually(Duration::from_secs(20), || logs_text(&env, id).contains("done")),
                    "{rt}: {}",
                    logs_text(&env, id)
                );
                assert_eq!(logs_text(&env, id), "bind-content\nbind-content\ndone\n", "{rt}");
                let rootfs = e.containers().record(id).unwrap().rootfs;
                let inside = rootfs.join(sentinel.path().strip_prefix("/").unwrap());
                assert!(inside.is_dir(), "{rt}: mount point made inside the rootfs");
            }
            Err(err) => assert!(err.contains("rel"), "{rt}: the refusal names the path: {err}"),
        }
        assert_eq!(listing(sentinel.path()), before_sentinel, "{rt}: host sentinel changed");
        let d = etc_diff(&host_etc, &listing(std::path::Path::new("/etc")));
        assert!(d.is_empty(), "{rt}: host /etc changed: {d:?}");
        // No new mount point on the host paths the links aim at. (Only those are checked:
        // tests running in parallel add and remove their own mounts in the same host table.)
        let targets = [std::path::PathBuf::from("/etc"), sentinel.path().to_path_buf()];
        let leaked: Vec<String> = host_mount_points()
            .into_iter()
            .filter(|m| !before_mounts.contains(m))
            .filter(|m| targets.iter().any(|t| std::path::Path::new(m).starts_with(t)))
            .collect();
        assert!(leaked.is_empty(), "{rt}: mounts on the link targets in the host: {leaked:?}");

        // a named volume at /vol (-> /etc): its copy-up is the image's /etc, not the host's
        let vname = format!("symvol{}", env.cgroup_parent.replace(['/', '-'], ""));
        let mut o = env.opts(&["sh", "-c", "cat /etc/image-marker; ls /vol/os-release 2>&1; echo done"]);
        o.image = "symimg".into();
        o.binds = vec![format!("{vname}:/vol")];
        let vid = e.containers().create(&o).unwrap();
        let src = env.mount_source(&vid, "/vol");
        assert_eq!(std::fs::read(src.join("image-marker")).unwrap(), b"from-image\n", "{rt}");
        let host_only = ["os-release", "hostname", "fstab"]
            .iter()
            .find(|f| std::path::Path::new("/etc").join(f).exists() && !std::path::Path::new(&img_has(f)).exists());
        if let Some(f) = host_only {
            assert!(!src.join(f).exists(), "{rt}: host /etc/{f} copied into the volume");
        }
        if e.containers().start(&vid).is_ok() {
            assert_eq!(
                e.containers().wait(&vid, WaitCondition::NotRunning).unwrap(),
                0,
                "{rt}: {}",
                logs_text(&env, &vid)
            );
            assert!(logs_text(&env, &vid).starts_with("from-image\n"), "{rt}: {}", logs_text(&env, &vid));
        }
        let d = etc_diff(&host_etc, &listing(std::path::Path::new("/etc")));
        assert!(d.is_empty(), "{rt}: host /etc changed: {d:?}");
        for c in created.iter().chain([&vid]) {
            e.containers().remove(c, &RemoveOptions { force: true, volumes: true }).unwrap();
        }
        let _ = std::fs::remove_dir_all(src.parent().unwrap());
    }
}

/// A path that exists only if the busybox image has `/etc/<f>` (it has none of the probed ones).
fn img_has(f: &str) -> String {
    format!("/nonexistent-image-probe/{f}")
}

/// The bundle's `run.oci.seccomp_bpf_data` annotation, if any.
fn bpf_annotation(e: &isula_core::Engine, id: &str) -> Option<String> {
    let path = e.root().join("containers").join(id).join("config.json");
    let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["annotations"]["run.oci.seccomp_bpf_data"].as_str().map(str::to_string)
}

#[test]
fn seccomp_filter_compiled_once_is_reused_and_still_enforced() {
    if !prerequisites() {
        return;
    }
    let script =
        "grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-blocked; \
                  echo done; sleep 1000";
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let id = e.containers().run(&env.opts(&["sh", "-c", script])).unwrap();
            assert!(eventually(Duration::from_secs(20), || logs_text(&env, &id).contains("done")), "{rt}");
            let text = logs_text(&env, &id);
            assert!(text.contains("Seccomp:\t2") && text.contains("unshare-blocked"), "{rt}: {text}");
            ids.push(id);
        }
        // crun compiles the profile for the first container and leaves the filter in its
        // state; the second gets it ready-made. runc leaves none, so never gets one.
        assert_eq!(bpf_annotation(e, &ids[0]), None, "{rt}");
        assert_eq!(bpf_annotation(e, &ids[1]).is_some(), rt == "crun", "{rt}");
        // The filter holds for processes exec'd into the container too.
        let cmd = ["unshare", "-U", "true"].map(String::from).to_vec();
        let x = e.containers().exec(&ids[1], &ExecOptions { cmd, ..Default::default() }).unwrap().collect().unwrap();
        assert_ne!(x.exit_code, 0, "{rt}: unshare allowed in exec: {}", String::from_utf8_lossy(&x.stderr));
        // Another profile (none at all) gets no annotation and no filter.
        let mut o = env.opts(&["sh", "-c", script]);
        o.security_opt = vec!["seccomp=unconfined".into()];
        let free = e.containers().run(&o).unwrap();
        assert!(eventually(Duration::from_secs(20), || logs_text(&env, &free).contains("done")), "{rt}");
        let text = logs_text(&env, &free);
        assert!(text.contains("Seccomp:\t0") && text.contains("unshare-ok"), "{rt}: {text}");
        assert_eq!(bpf_annotation(e, &free), None, "{rt}");
        for id in ids.iter().chain([&free]) {
            e.containers().remove(id, &RemoveOptions { force: true, volumes: false }).unwrap();
        }
    }
}
