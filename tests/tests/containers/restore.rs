//! Containers outlive the embedding process: a child process (this test binary re-executed)
//! opens an engine, runs containers and is SIGKILLed; the test reopens the root and manages
//! them. Also restart policies applied by the monitor thread. runc AND crun, as root.

use crate::containers_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use containers_common::*;
use isula_core::RestartPolicy;
use isula_core::{Engine, EngineConfig};
use isula_core::{ListOptions, WaitCondition};

const CHILD_ENV: &str = "ISULA_CTEST_CHILD";

/// Not a test on its own: the body of the child process of `engine_killed_containers_survive`.
#[test]
fn child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let p: Vec<&str> = spec.split('|').collect();
    let mut cfg = EngineConfig::with_dirs(p[0], p[1]);
    cfg.bridge = "none".into();
    cfg.cni_conf_dir = std::path::Path::new(p[0]).with_file_name("cni-conf");
    cfg.default_runtime = p[2].into();
    cfg.cgroup_parent = p[3].into();
    cfg.shim_path = Some(p[4].into());
    let e = Engine::open(cfg).unwrap();
    let mk = |name: &str, cmd: &[&str]| isula_core::CreateOptions {
        image: "busybox".into(),
        name: Some(name.into()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    for i in 0..3 {
        e.containers().run(&mk(&format!("c{i}"), &["sleep", "1000"])).unwrap();
    }
    let quick = e.containers().run(&mk("quick", &["sh", "-c", "sleep 2; exit 7"])).unwrap();
    println!("READY {quick}");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn spec_of(env: &Env) -> String {
    let c = env.config();
    format!(
        "{}|{}|{}|{}|{}",
        c.graph.display(),
        c.state.display(),
        env.runtime,
        env.cgroup_parent,
        c.shim_path.unwrap().display()
    )
}

#[test]
fn engine_killed_containers_survive() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let mut env = Env::new(rt);
        env.engine = None; // the child owns the root now
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "restore::child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec_of(&env))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let quick = lines.find_map(|l| l.ok()?.split_once("READY ").map(|(_, id)| id.trim().to_string()));
        // SIGKILL the embedding process, whatever happened
        let _ = child.kill();
        let _ = child.wait();
        let quick = quick.unwrap_or_else(|| panic!("{rt}: child did not get its containers running"));
        // `quick` exits while no engine runs: its shim records the exit
        let quick_shim = env.config().state.join("shims").join(&quick);
        wait_until(Duration::from_secs(20), &format!("{rt}: quick's exit recorded by its shim"), || {
            isula_core::unstable::runtime::read_exit(&quick_shim).ok().flatten().is_some()
        });
        env.reopen();
        let e = env.e();
        for i in 0..3 {
            let i = e.containers().inspect(&format!("c{i}")).unwrap();
            assert!(i.state.running && pid_alive(i.state.pid), "{rt}: {} not running after reopen", i.name);
        }
        let q = e.containers().inspect("quick").unwrap();
        assert_eq!(q.state.status, "exited", "{rt}");
        assert_eq!(q.state.exit_code, 7, "{rt}: real exit code of a container that exited while no engine ran");
        assert_eq!(e.containers().list(&ListOptions::default()).unwrap().len(), 3);
        // fully manageable: exec, logs, stop
        let out = e
            .containers()
            .exec("c0", &isula_core::ExecOptions { cmd: vec!["echo".into(), "alive".into()], ..Default::default() })
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "alive\n");
        // wait() on a container started by the dead engine sees its exit
        let waiter = std::thread::scope(|s| {
            let h = s.spawn(|| e.containers().wait("c1", WaitCondition::NotRunning).unwrap());
            std::thread::sleep(Duration::from_millis(200));
            e.containers().kill("c1", "KILL").unwrap();
            h.join().unwrap()
        });
        assert_eq!(waiter, 137, "{rt}");
        for name in ["c0", "c2"] {
            e.containers().stop(name, Some(1)).unwrap();
            let code = e.containers().inspect(name).unwrap().state.exit_code;
            assert!(code == 137 || code == 143, "{rt}: {name} exit {code}");
        }
    }
}

#[test]
fn restart_policies() {
    each_runtime(|rt, env| {
        let e = env.e();
        let mut o = env.opts(&["sleep", "1000"]);
        o.restart_policy = RestartPolicy { name: "always".into(), maximum_retry_count: 0 };
        let id = e.containers().run(&o).unwrap();
        let pid = e.containers().inspect(&id).unwrap().state.pid;
        unsafe_kill(pid);
        assert!(
            eventually(Duration::from_secs(20), || {
                let i = e.containers().inspect(&id).unwrap();
                i.state.running && i.state.pid != pid && i.restart_count >= 1
            }),
            "{rt}: not restarted: {:?}",
            e.containers().inspect(&id).unwrap().state
        );
        // a user stop is final
        e.containers().stop(&id, Some(1)).unwrap();
        holds_for(Duration::from_millis(700), &format!("{rt}: stays exited after a user stop"), || {
            e.containers().inspect(&id).unwrap().state.status == "exited"
        });

        let mut o = env.opts(&["sh", "-c", "exit 1"]);
        o.restart_policy = RestartPolicy { name: "on-failure".into(), maximum_retry_count: 2 };
        let id = e.containers().run(&o).unwrap();
        assert!(
            eventually(Duration::from_secs(20), || {
                let i = e.containers().inspect(&id).unwrap();
                i.restart_count == 2 && i.state.status == "exited"
            }),
            "{rt}: {:?}",
            e.containers().inspect(&id).unwrap()
        );
        holds_for(Duration::from_millis(1000), &format!("{rt}: no restart past the maximum"), || {
            e.containers().inspect(&id).unwrap().restart_count == 2
        });

        // AutoRemove
        let mut o = env.opts(&["true"]);
        o.auto_remove = true;
        let id = e.containers().run(&o).unwrap();
        assert!(eventually(Duration::from_secs(20), || e.containers().inspect(&id).is_err()), "{rt}: not auto-removed");
    });
}

#[test]
fn a_killed_shim_leaves_no_unmanaged_container() {
    each_runtime(|rt, env| {
        let gone = |env: &Env, id: &str, pid: i32| {
            assert!(
                eventually(Duration::from_secs(20), || env.e().containers().inspect(id).unwrap().state.status
                    == "exited"),
                "{rt}: not exited"
            );
            let st = env.e().containers().inspect(id).unwrap().state;
            assert_eq!(st.exit_code, 137, "{rt}: {st:?}");
            assert!(st.error.contains("isulad-shim died"), "{rt}: {st:?}");
            assert!(eventually(Duration::from_secs(10), || !pid_alive(pid)), "{rt}: the container's process runs on");
        };
        // The shim dies while the engine watches it.
        let id = env.e().containers().run(&env.opts(&["sleep", "1000"])).unwrap();
        let st = env.e().containers().record(&id).unwrap().state;
        unsafe_kill(st.shim_pid);
        gone(env, &id, st.pid);
        // It can run again under a new shim, and stop as usual.
        env.e().containers().start(&id).unwrap();
        env.e().containers().stop(&id, Some(1)).unwrap();

        // The shim dies while no engine runs: found at the next open.
        let id2 = env.e().containers().run(&env.opts(&["sleep", "1000"])).unwrap();
        let st = env.e().containers().record(&id2).unwrap().state;
        env.engine = None;
        unsafe_kill(st.shim_pid);
        env.engine = Some(Engine::open(env.config()).unwrap());
        gone(env, &id2, st.pid);
        for i in [&id, &id2] {
            env.e().containers().remove(i, &Default::default()).unwrap();
        }
    });
}

fn unsafe_kill(pid: i32) {
    let st = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(st.success());
}
